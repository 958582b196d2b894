"""Compact storage of a page's words and boxes.

Words are kept as one string (words joined by newlines) and their boxes as packed integers
(x0, y0, x1, y1, confidence x 10 per word): 16-bit when every value fits, which is any page
under 65,536 pixels a side, else 32-bit; the first byte says which. Compared with JSON this is
a third of the size and, above all, fast to read back: search results decode every listed page.
"""

from __future__ import annotations

import sys
from array import array

from ..types import Word

_FIELDS = 5


def encode(words: list[Word]) -> tuple[str, bytes]:
    # A word never holds a newline (engines split on white space); make sure of it.
    texts = "\n".join(w.text.replace("\n", " ") for w in words)
    values = [v for w in words for v in (*w.box, max(0, round(w.confidence * 10)))]
    code = "H" if all(0 <= v <= 0xFFFF for v in values) else "i"
    numbers = array(code, values)
    if sys.byteorder == "big":
        numbers.byteswap()  # stored little-endian, so a library moves between machines
    return texts, code.encode() + numbers.tobytes()


def texts(words: str) -> list[str]:
    return words.split("\n") if words else []


def boxes(blob: bytes) -> array:
    """The flat integer array: word i's box is ``[5*i : 5*i+4]``, its confidence x10 at +4."""
    if not blob:
        return array("i")
    numbers = array(blob[:1].decode())
    numbers.frombytes(blob[1:])
    if sys.byteorder == "big":
        numbers.byteswap()
    return numbers


def decode(words: str, blob: bytes) -> list[Word]:
    numbers = boxes(blob)
    return [
        Word(text, (numbers[i * _FIELDS], numbers[i * _FIELDS + 1], numbers[i * _FIELDS + 2],
                    numbers[i * _FIELDS + 3]), numbers[i * _FIELDS + 4] / 10)
        for i, text in enumerate(texts(words))
    ]
