"""Packed word boxes round-trip, in 16-bit form and, for huge pages, 32-bit."""

from __future__ import annotations

from textlens.store import wordboxes
from textlens.types import Word


def test_small_pages_pack_in_16_bits_and_round_trip() -> None:
    words = [Word("Cladonia", (10, 20, 200, 60), 96.5), Word("rangiferina", (210, 20, 480, 61), 0)]
    text, blob = wordboxes.encode(words)
    assert blob[:1] == b"H" and len(blob) == 1 + 2 * 5 * 2
    assert wordboxes.decode(text, blob) == words


def test_huge_coordinates_and_negative_confidence_survive() -> None:
    words = [Word("far", (70_000, 5, 70_100, 40), -1.0), Word("a\nb", (0, 0, 1, 1), 50.0)]
    text, blob = wordboxes.encode(words)
    assert blob[:1] == b"i"
    decoded = wordboxes.decode(text, blob)
    assert decoded[0].box == (70_000, 5, 70_100, 40)
    assert decoded[0].confidence == 0  # no confidence is stored as 0
    assert decoded[1].text == "a b"  # a newline inside a word cannot break the word list


def test_no_words() -> None:
    assert wordboxes.decode(*wordboxes.encode([])) == []
