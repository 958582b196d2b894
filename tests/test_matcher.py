"""The fast hit-marking of search results agrees with the plain definition, word by word.

`Matcher.locate` takes shortcuts for speed (str.find on ASCII pages, phrases matched by regex
from their first word); here every word is checked the slow, obvious way instead."""

from __future__ import annotations

import random
import zlib

import pytest

from textlens.search.hits import Matcher
from textlens.search.query import parse, word_tokens

VOCAB = ["the", "then", "other", "a", "an", "cat", "cats", "Cat,", "(cat)", "catalog",
         "collected", "colected", "by", "by.", "WIS-L-0012033", "wis", "l", "0012033",
         "herbarium", "herbaria", "x", "of", "o'the", "café", "cafe", "Été", "été",
         "naïve", "naive", "e-mail", "email", "--", "...", "12", "123", "a1", "_a"]
QUERIES = ["the", "cat", "cat*", "coll*", '"collected by"', '"wis l"', "wis-l-0012033",
           "cafe", "été", "a", "12", "email", "e-mail", '"the cat"', "herbarium", "cat OR by"]


def reference_marks(matcher: Matcher, words: list[str]) -> list[bool]:
    marked = [any(matcher.term_matches(t) for t in word_tokens(w)) for w in words]
    flat = [(i, t) for i, w in enumerate(words) for t in word_tokens(w)]
    for phrase in matcher.phrases:
        n = len(phrase)
        for start in range(len(flat) - n + 1):
            if [t for _, t in flat[start:start + n]] == phrase:
                for k in range(n):
                    marked[flat[start + k][0]] = True
    return marked


@pytest.mark.parametrize("fuzzy", [False, True])
@pytest.mark.parametrize("query", QUERIES)
def test_fast_marks_equal_the_definition(query: str, fuzzy: bool) -> None:
    rng = random.Random(zlib.crc32(f"{query}{fuzzy}".encode()))  # the same pages every run
    for _ in range(400):
        words = [rng.choice(VOCAB) for _ in range(rng.randint(1, 40))]
        if rng.random() < 0.5:  # half the pages are pure ASCII: the fastest path
            words = [w for w in words if w.isascii()] or ["ascii"]
        matcher = Matcher(parse(query, fuzzy=fuzzy))
        marks, starts = matcher.locate(words)
        assert marks == reference_marks(Matcher(parse(query, fuzzy=fuzzy)), words), words
        joined = "\n".join(words)
        assert set(starts) == {i for i, hit in enumerate(marks) if hit}
        for i, offset in starts.items():
            assert joined[offset:offset + len(words[i])] == words[i]
