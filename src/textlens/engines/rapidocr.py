"""RapidOCR: PaddleOCR's PP-OCRv4 models on ONNX Runtime (``pip install 'textlens[rapidocr]'``).

The ``rapidocr_onnxruntime`` wheel ships its three models (text-line detection, 0/180 degree
line classification, recognition), so it needs no language data and no network.

Languages: the recognition model was trained on simplified Chinese and English. Its alphabet
holds ASCII plus only a few accented Latin letters (é è à á í ó ò ú ä ü É Ü Ë Ó), so other
Latin-script languages (Latin, French, German...) are accepted, but letters outside that
alphabet (ö ß ñ ç ø å ł ...) come out wrong or missing. Every other script is refused with a
non-retryable ``EngineError`` rather than read as garbage: use Tesseract for those.

Word boxes: RapidOCR detects *lines*. With ``return_word_box`` its recogniser also places a box
on each character (from the CTC decoder's columns); we group those characters into words at
spaces, and at gaps too wide to lie inside a word, where the recogniser dropped a space. When
they are missing (older rapidocr_onnxruntime) or do not line up with the text, the line is
split at spaces and its box shared out by each character's width in a proportional font.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from functools import cache
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as dist_version
from typing import Any

from PIL import Image, ImageFont

from ..errors import EngineError
from ..types import Box, PageResult, Word
from .base import Engine

DIST = "rapidocr_onnxruntime"
INSTALL_HINT = "pip install 'textlens[rapidocr]'"

# What the shipped models were trained on (Tesseract's language codes, as in `languages`).
NATIVE_LANGUAGES = frozenset({"eng", "chi_sim"})
# Latin-script languages: plain letters read as well as English, most diacritics do not.
LATIN_LANGUAGES = frozenset({
    "afr", "cat", "cos", "cym", "dan", "deu", "eus", "fao", "fil", "fin", "fra", "fry", "gla",
    "gle", "glg", "hrv", "hun", "ind", "isl", "ita", "lat", "ltz", "msa", "nld", "nor", "oci",
    "pol", "por", "ron", "slk", "slv", "spa", "sqi", "swa", "swe", "tgl", "tur",
})
LANGUAGES = NATIVE_LANGUAGES | LATIN_LANGUAGES

# A gap this many median character widths wide inside one recognised line is a space the
# recogniser dropped ("MadisonWI"). 0.8 found the most words on samples of ../shared/corpus
# (labels, receipts, screenshots): at 0.6 real words split, at 1.3 joined words stay joined.
SPLIT_GAP = 0.8


class RapidOcrEngine(Engine):
    """RapidOCR (PP-OCRv4 on ONNX Runtime): line detection, then recognition of each line."""

    name = "rapidocr"

    def __init__(self) -> None:
        self._ocr: Any = None  # loaded on the first page, then reused for every page

    @classmethod
    def check(cls) -> tuple[bool, str]:
        try:
            import rapidocr_onnxruntime  # noqa: F401
        except (ImportError, OSError) as e:
            return False, f"{DIST} is not installed or does not load ({e}); {INSTALL_HINT}"
        return True, "languages: chi_sim, eng; other Latin-script ones lose most accents"

    def version(self) -> str:
        try:
            return dist_version(DIST)
        except PackageNotFoundError as e:
            raise EngineError(f"{DIST} is not installed; {INSTALL_HINT}") from e

    def model(self, languages: list[str]) -> str:
        check_languages(languages)
        return model_names()

    def _load(self) -> Any:
        if self._ocr is None:
            try:
                import cv2
                from rapidocr_onnxruntime import RapidOCR
            except ImportError as e:
                raise EngineError(f"{DIST} is not installed ({e}); {INSTALL_HINT}",
                                  retryable=False) from e
            # Workers are processes, one per core: more ONNX Runtime (or OpenCV) threads each
            # would only fight over the same cores, as Tesseract's would (OMP_THREAD_LIMIT=1).
            cv2.setNumThreads(1)
            self._ocr = RapidOCR(intra_op_num_threads=1, inter_op_num_threads=1)
        return self._ocr

    def recognize(
        self, image: Image.Image, languages: list[str], options: Mapping[str, Any]
    ) -> PageResult:
        check_languages(languages)
        if image.mode not in ("L", "RGB"):
            image = image.convert("RGB")
        found, _ = self._load()(image, return_word_box=True)
        lines = [_line_words(row) for row in found or []]
        lines = [words for words in lines if words]
        rows = _reading_order(lines)
        text_lines = [" ".join(w.text for w in row) for row in rows]
        words = [w for row in rows for w in row]
        confidence = statistics.fmean(w.confidence for w in words) if words else 0.0
        return PageResult(text="\n".join(text_lines), words=words, width=image.width,
                          height=image.height, confidence=round(confidence, 2))

    def close(self) -> None:
        self._ocr = None


def check_languages(languages: Sequence[str]) -> None:
    """Refuse languages the shipped models cannot read (retrying would not help)."""
    unknown = [lang for lang in languages if lang not in LANGUAGES]
    if unknown:
        raise EngineError(
            f"the rapidocr engine cannot read {'+'.join(unknown)}: its models read Chinese "
            "(chi_sim), English (eng) and other Latin-script languages only. Use Tesseract for "
            "these pages (`--set engine=tesseract`) or change `languages`.",
            retryable=False,
        )


@cache
def model_names() -> str:
    """The detection, classification and recognition models the package loads by default."""
    from pathlib import Path

    import rapidocr_onnxruntime
    import yaml

    config = yaml.safe_load(
        (Path(rapidocr_onnxruntime.__file__).parent / "config.yaml").read_text("utf-8"))
    return "+".join(Path(config[part]["model_path"]).stem for part in ("Det", "Cls", "Rec"))


def _line_words(row: Sequence[Any]) -> list[Word]:
    """One recognised line as words, from its character boxes when it has usable ones."""
    quad, text, score = row[0], str(row[1]), float(row[2])
    if len(row) >= 6:
        chars, boxes, confs = list(row[4]), list(row[3]), list(row[5])
        if len(chars) == len(boxes) == len(confs) and "".join(chars) == text and text:
            return _group_chars(chars, [_bounds(b) for b in boxes], confs)
    return _apportion(text, _bounds(quad), score)


def _group_chars(chars: list[str], boxes: list[Box], confs: list[float]) -> list[Word]:
    """Characters into words; a word's confidence is its characters' mean probability."""
    widths = [b[2] - b[0] for c, b in zip(chars, boxes, strict=True) if not c.isspace()]
    gap_limit = SPLIT_GAP * statistics.median(widths) if widths else 0.0
    words: list[Word] = []
    current: list[int] = []

    def flush() -> None:
        if current:
            word = "".join(chars[i] for i in current)
            box = _union([boxes[i] for i in current])
            conf = 100.0 * statistics.fmean(confs[i] for i in current)
            words.append(Word(word, box, round(conf, 2)))
            current.clear()

    for i, char in enumerate(chars):
        if char.isspace():
            flush()
            continue
        if current and boxes[i][0] - boxes[current[-1]][2] > gap_limit:
            flush()
        current.append(i)
    flush()
    return words


@cache
def _width_font() -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=40)  # Pillow's bundled proportional font


def _text_width(text: str) -> float:
    return sum(max(_width_font().getlength(c), 1.0) for c in text)


def _apportion(text: str, line: Box, score: float) -> list[Word]:
    """Split a line at spaces; each word gets the share of the line box its characters'
    widths take in a proportional font (along the longer side, for vertical lines too)."""
    if not text.strip():
        return []
    x0, y0, x1, y1 = line
    horizontal = (x1 - x0) >= (y1 - y0)
    start, end = (x0, x1) if horizontal else (y0, y1)
    scale = (end - start) / _text_width(text)
    space = _text_width(" ")
    words: list[Word] = []
    offset = 0.0
    for part in text.split(" "):
        width = _text_width(part)
        if part:
            a, b = round(start + offset * scale), round(start + (offset + width) * scale)
            box = (a, y0, b, y1) if horizontal else (x0, a, x1, b)
            words.append(Word(part, box, round(100.0 * score, 2)))
        offset += width + space
    return words


def _bounds(points: Sequence[Sequence[float]]) -> Box:
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    return (int(min(xs)), int(min(ys)), round(max(xs)), round(max(ys)))


def _union(boxes: Sequence[Box]) -> Box:
    return (min(b[0] for b in boxes), min(b[1] for b in boxes),
            max(b[2] for b in boxes), max(b[3] for b in boxes))


def _reading_order(lines: list[list[Word]]) -> list[list[Word]]:
    """Detected line pieces joined into rows (top to bottom), each read left to right.

    RapidOCR may detect one visual line as several pieces; a piece whose vertical middle lies
    inside a row's extent joins that row. Pieces can overlap and then both read the letters
    they share ("Cladonia" + "a rangiferina"): a word lying mostly inside a word already read is
    such a repeat and is dropped. There is no column analysis: pieces of two columns at
    the same height read across, as one row."""
    pieces = sorted(((_union([w.box for w in ws]), ws) for ws in lines),
                    key=lambda p: (p[0][1] + p[0][3]) / 2)
    rows: list[tuple[list[int], list[tuple[Box, list[Word]]]]] = []
    for box, ws in pieces:
        middle = (box[1] + box[3]) / 2
        if rows and rows[-1][0][0] <= middle <= rows[-1][0][1]:
            rows[-1][1].append((box, ws))
        else:
            rows.append(([box[1], box[3]], [(box, ws)]))
    return [_without_repeats([w for _, ws in sorted(row, key=lambda p: p[0][0]) for w in ws])
            for _, row in rows]


def _without_repeats(words: list[Word]) -> list[Word]:
    kept: list[Word] = []
    for word in words:
        if not any(_covered(word.box, other.box) for other in kept):
            kept.append(word)
    return kept


def _covered(box: Box, by: Box) -> bool:
    """Whether at least half of ``box`` lies inside ``by``."""
    width = min(box[2], by[2]) - max(box[0], by[0])
    height = min(box[3], by[3]) - max(box[1], by[1])
    area = (box[2] - box[0]) * (box[3] - box[1])
    return width > 0 and height > 0 and 2 * width * height >= area
