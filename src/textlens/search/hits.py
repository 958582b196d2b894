"""Which words of a page a query hit: for snippets and word boxes in search results.

This runs for every page a search lists, so it takes shortcuts, each checked against the plain
definition (a word is a hit if one of its index tokens matches a term, or it holds part of a
phrase) by tests/test_matcher.py:
- on ASCII pages (no accent folding needed) terms are found with str.find at token boundaries
  in the page's words joined by newlines, and newlines are counted to get word indices;
- fuzzy terms are first expanded, with one rapidfuzz call, to the page's own near words;
- pages with other characters fall back to tokenising the candidate words.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from itertools import accumulate
from operator import add

from rapidfuzz import process
from rapidfuzz.distance import OSA

from .query import ParsedQuery, fuzzy_distance, word_tokens

_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_ALNUM = re.compile(r"[^\W_]+")
_ONE_LETTER: dict[str, re.Pattern[str]] = {}


def word_ends(words: list[str]) -> list[int]:
    """For words joined by one separator each, the offset just past each word."""
    return list(map(add, accumulate(map(len, words)), range(len(words))))


def _find_tokens(lowered: str, text: str, prefix: bool) -> list[int]:
    """Offsets in an ASCII page (lower-cased, words joined by newlines) where ``text`` starts
    a token (and ends it, unless ``prefix``). str.find beats a regex here."""
    if len(text) == 1:  # a one-letter term is everywhere inside words: let the regex skip them
        pattern = _ONE_LETTER.get(text) or _ONE_LETTER.setdefault(
            text, re.compile(r"(?<![a-z0-9])" + re.escape(text) + r"(?![a-z0-9])"))
        return [m.start() for m in pattern.finditer(lowered)]
    found = []
    size, end = len(text), len(lowered)
    at = lowered.find(text)
    while at != -1:
        after = at + size
        if (at == 0 or not lowered[at - 1].isalnum()) and (
                prefix or after == end or not lowered[after].isalnum()):
            found.append(at)
        at = lowered.find(text, after)
    return found


def _word_starts(joined: str, spans: list[tuple[int, int]]) -> dict[int, int]:
    """``{word index: offset where that word starts}`` for every word that the spans
    ``(start, end)`` of words joined by newlines touch, counting the newlines between
    successive spans (no pass over every word)."""
    result: dict[int, int] = {}
    index, previous = 0, 0
    for at, end in sorted(spans):
        index += joined.count("\n", previous, at)
        previous = at
        result.setdefault(index, joined.rfind("\n", 0, at) + 1)
        newline, following = joined.find("\n", at, end), index
        while newline != -1:  # a phrase runs over into the next words
            following += 1
            after = joined.find("\n", newline + 1)
            word = joined[newline + 1: after if after != -1 else len(joined)]
            if _ALNUM.search(word):  # a word of punctuation only holds no part of the phrase
                result.setdefault(following, newline + 1)
            newline = joined.find("\n", newline + 1, end)
    return result


class Matcher:
    """Decides which words of a page the query matched, to mark snippets and boxes."""

    def __init__(self, query: ParsedQuery):
        self.exact: set[str] = set()
        self.prefixes: list[str] = []
        self.fuzzy: list[tuple[str, int]] = []
        self.phrases: list[list[str]] = []
        for clause in query.positive():
            if clause.prefix:
                self.prefixes.append(clause.words[0])
            elif len(clause.words) > 1:
                self.phrases.append(clause.words)
            else:
                word = clause.words[0]
                self.exact.add(word)
                if query.fuzzy and fuzzy_distance(word):
                    self.fuzzy.append((word, fuzzy_distance(word)))

        # Search results mark every word of every listed page, so this must be quick:
        # - each raw word's verdict is remembered (page text repeats the same words);
        # - only words that contain a term (ignoring case), found by one regex over the whole
        #   page, and non-ASCII words (which need accent folding) are examined one by one;
        # - fuzzy terms are first expanded to the page's own words that are near enough,
        #   found by rapidfuzz in one call, and then treated like exact terms.
        self._word_hits: dict[str, bool] = {}
        self._static = sorted(self.exact | set(self.prefixes), key=len, reverse=True)
        self._near: set[str] = set()
        self._patterns: dict[frozenset[tuple[str, bool]], re.Pattern[str]] = {}
        self._phrase_patterns = [
            (p, re.compile(r"[^a-z0-9]+".join(map(re.escape, p)) + r"(?![a-z0-9])"))
            for p in self.phrases]
        self._phrase_starts = re.compile(
            "|".join(re.escape(p[0]) for p in self.phrases), re.I) if self.phrases else None

    def term_matches(self, token: str) -> bool:
        if token in self.exact or any(token.startswith(p) for p in self.prefixes):
            return True
        for term, distance in self.fuzzy:
            if abs(len(token) - len(term)) <= distance and \
                    OSA.distance(token, term, score_cutoff=distance) <= distance:
                return True
        return False

    def word_matches(self, word: str) -> bool:
        """Whether a raw word of page text (e.g. ``"Cladonia,"``) is a hit on its own."""
        hit = self._word_hits.get(word)
        if hit is None:
            hit = self._word_hits[word] = any(self.term_matches(t) for t in word_tokens(word))
        return hit

    def _needles(self, lowered: str) -> frozenset[tuple[str, bool]]:
        """What to look for on this page: ``(text, is_prefix)`` for each term, with fuzzy
        terms replaced by the page's own words that are near enough."""
        needles = {(n, n in self.prefixes) for n in self._static}
        if self.fuzzy:
            tokens = list(set(_ALNUM.findall(lowered.lower())))
            for term, distance in self.fuzzy:
                for near, _, _ in process.extract(term, tokens, scorer=OSA.distance,
                                                  score_cutoff=distance, limit=None):
                    needles.add((near, False))
        return frozenset(needles)

    def _pattern(self, needles: frozenset[tuple[str, bool]]) -> re.Pattern[str]:
        pattern = self._patterns.get(needles)
        if pattern is None:
            # A term must start a token (not follow a letter or digit); an exact term must also
            # end one, so `a` finds the word "a", not every word with an a in it.
            ordered = sorted(needles, key=lambda n: -len(n[0]))
            pattern = self._patterns[needles] = re.compile("|".join(
                r"(?<![^\W_])" + re.escape(text) + ("" if prefix else r"(?![^\W_])")
                for text, prefix in ordered), re.I)
        return pattern

    def marks(self, words: list[str], joined: str | None = None) -> list[bool]:
        """For a sequence of raw words (in reading order), which ones are hits."""
        return self.locate(words, joined)[0]

    def locate(self, words: list[str], joined: str | None = None
               ) -> tuple[list[bool], dict[int, int]]:
        """Which words are hits, and ``{hit index: offset of that word in joined}``, where
        ``joined`` is the words joined by newlines (pass it when you have it)."""
        marked = [False] * len(words)
        joined = joined if joined is not None else "\n".join(words)
        ascii_page = joined.isascii()
        lowered = joined.lower() if ascii_page else joined
        needles = self._needles(lowered)
        if ascii_page:
            # A needle found at token boundaries is a whole token of that word (or, for a
            # prefix, starts one): the word is a hit without looking at it again. A phrase is
            # its tokens with only non-letters, non-digits between them.
            spans = [(at, at + len(text)) for text, prefix in needles
                     for at in _find_tokens(lowered, text, prefix)]
            for phrase, pattern in self._phrase_patterns:
                # str.find locates the first word; the regex only checks the rest from there.
                for at in _find_tokens(lowered, phrase[0], False):
                    found = pattern.match(lowered, at)
                    if found:
                        spans.append(found.span())
            starts = _word_starts(joined, spans)
            for i in starts:
                marked[i] = True
            return marked, starts
        ends = word_ends(words)
        non_ascii = set() if ascii_page else {
            bisect_left(ends, m.start()) for m in _NON_ASCII.finditer(joined)}
        candidates = set(non_ascii)
        if needles and ascii_page:
            for text, prefix in needles:
                candidates.update(bisect_left(ends, at)
                                  for at in _find_tokens(lowered, text, prefix))
        elif needles:
            pattern = self._pattern(needles)
            candidates |= {bisect_left(ends, m.start()) for m in pattern.finditer(joined)}
        for i in candidates:
            marked[i] = self.word_matches(words[i])
        if self._phrase_starts is not None:
            phrase_starts = non_ascii | {
                bisect_left(ends, m.start()) for m in self._phrase_starts.finditer(joined)}
            for i in sorted(phrase_starts):
                self._mark_phrases_at(words, i, marked)
        return marked, {i: ends[i] - len(words[i]) for i, hit in enumerate(marked) if hit}

    def _mark_phrases_at(self, words: list[str], i: int, marked: list[bool]) -> None:
        """Mark every phrase whose first word begins among the tokens of ``words[i]``."""
        longest = max(len(p) for p in self.phrases)
        flat: list[tuple[int, str]] = []  # (word index, token), enough tokens for any phrase
        j = i
        while j < len(words) and len(flat) < longest + len(word_tokens(words[i])):
            flat += [(j, t) for t in word_tokens(words[j])]
            j += 1
        first_tokens = len(word_tokens(words[i]))
        for phrase in self.phrases:
            n = len(phrase)
            for start in range(min(first_tokens, len(flat) - n + 1)):
                if all(flat[start + k][1] == phrase[k] for k in range(n)):
                    for k in range(n):
                        marked[flat[start + k][0]] = True
