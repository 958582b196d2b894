"""Combining recognition passes: when a page needs another pass, and what to keep of each.

Engine-neutral: it works on ``PageResult``s, so any engine can run a second pass the same way.
What a search must find is every word some pass read; what a person reads is the single pass
with the best confidence (DESIGN.md, "Findability first"). The thresholds below were chosen
by measurement on ../shared/corpus (see README, "Accuracy").
"""

from __future__ import annotations

import re
import statistics
from dataclasses import replace

from ..types import PageResult, Word

# A page is "weak" below this mean word confidence or with fewer words: it gets another pass.
# 80 caught every badly read label and photo in the corpus while clean pages (scans,
# screenshots; mean confidence 90+) stay at one pass.
WEAK_CONFIDENCE = 80.0
WEAK_MIN_WORDS = 3
# Tesseract reads best with capitals ~20-40 px tall; below this median word height the second
# pass gets an enlarged image (receipts and label photos gained 10-20 points of recall).
SMALL_TEXT_PX = 20.0
TARGET_TEXT_PX = 32.0
MAX_UPSCALE = 3.0
MAX_UPSCALE_PIXELS = 40_000_000  # an enlarged page costs time and memory in proportion

_ALNUM = re.compile(r"\w", re.UNICODE)


def is_weak(result: PageResult) -> bool:
    """Whether a pass read so little, or so unsurely, that another pass is worth its time."""
    return result.confidence < WEAK_CONFIDENCE or len(result.words) < WEAK_MIN_WORDS


def upscale_factor(result: PageResult, width: int, height: int, max_pixels: int) -> float:
    """How much to enlarge the page for the next pass (1.0: not at all): enough to bring the
    median word to TARGET_TEXT_PX, at most MAX_UPSCALE and at most ``max_pixels``."""
    heights = [w.box[3] - w.box[1] for w in result.words if w.confidence >= 30]
    if len(heights) < WEAK_MIN_WORDS:
        return 1.0
    median = statistics.median(heights)
    if median <= 0 or median >= SMALL_TEXT_PX:
        return 1.0
    factor = min(MAX_UPSCALE, TARGET_TEXT_PX / median)
    cap = (max_pixels / max(1, width * height)) ** 0.5
    factor = min(factor, cap)
    return factor if factor >= 1.25 else 1.0


def scale_words(words: list[Word], factor: float) -> list[Word]:
    """Words read on an image enlarged by ``factor``, with boxes in the original's pixels."""
    if factor == 1.0:
        return words
    return [Word(w.text, tuple(round(v / factor) for v in w.box), w.confidence)  # type: ignore[arg-type]
            for w in words]


def turn_back(words: list[Word], degrees: int, width: int, height: int) -> list[Word]:
    """Words read on the page turned ``degrees`` counter-clockwise (Pillow's ``rotate(degrees,
    expand=True)``), with boxes in the pixels of the page as it was, ``width`` x ``height``:
    every box of a page is in the frame of the image a viewer shows."""
    def back(box: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
        x0, y0, x1, y1 = box
        if degrees == 90:
            return (width - y1, x0, width - y0, x1)
        if degrees == 180:
            return (width - x1, height - y1, width - x0, height - y0)
        if degrees == 270:
            return (y0, height - x1, y1, height - x0)
        return box

    return [Word(w.text, back(w.box), w.confidence) for w in words]


def is_garbage(token: str) -> bool:
    """Runs of symbols that borders, rules and photo texture turn into (``|||``, ``—~=``): no
    search is served by indexing them. Single symbols (``&``, ``-``, ``$``) are kept."""
    letters = len(_ALNUM.findall(token))
    if letters == 0:
        return len(token) >= 2
    # Short tokens with punctuation are real ("(L.)", "U.S."); long ones mostly symbols are not.
    return len(token) >= 5 and letters / len(token) < 0.3


def without_garbage(result: PageResult) -> PageResult:
    """The result with garbage words dropped from its words and its text."""
    words = [w for w in result.words if not is_garbage(w.text)]
    lines = (" ".join(t for t in line.split() if not is_garbage(t))
             for line in result.text.splitlines())
    text = "\n".join(lines).strip()
    text = re.sub(r"\n{3,}", "\n\n", text)
    return replace(result, words=words, text=text)


def merge(shown: PageResult, other: PageResult) -> PageResult:
    """One page from two passes over the same image: ``shown``'s text and words, plus the
    words only ``other`` read, kept (with their boxes) so a search finds and marks them."""
    have = {w.text.casefold() for w in shown.words}
    extra = [w for w in other.words if w.text.casefold() not in have]
    extra_text = " ".join(dict.fromkeys(w.text for w in extra))
    return replace(shown, words=shown.words + extra,
                   extra_text=" ".join(filter(None, (shown.extra_text, extra_text))))


def best_of(first: PageResult, second: PageResult) -> tuple[PageResult, PageResult]:
    """``(shown, other)``: the pass a person should read (higher confidence, ties to the
    first), and the other one."""
    if second.words and second.confidence > first.confidence:
        return second, first
    return first, second
