"""The search syntax: words, "exact phrases", OR, -exclusion and prefix*, with optional fuzziness.

Parsed by hand because the grammar is tiny and we need two things Tantivy's own parser does not
give: fuzzy matching per word with OCR-friendly distances, and the list of terms that matched so
that snippets and word boxes can be located on the page.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import accumulate
from operator import add
from typing import Any

import tantivy
from rapidfuzz import process
from rapidfuzz.distance import OSA

from ..errors import QuerySyntaxError
from .index import analyzer

_TOKEN = re.compile(r'\s*(-?)("([^"]*)("?)|[^\s"]+)')
FIELD_BOOSTS = {"title": 2.0, "body": 1.0, "all": 1.0, "text": 1.0}
MIN_PREFIX = 2
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_ALNUM = re.compile(r"[^\W_]+")
_ONE_LETTER: dict[str, re.Pattern[str]] = {}


def fuzzy_distance(term: str) -> int:
    """Edits allowed for a fuzzy word: one, or two for words of 8+ letters; none for words of
    one or two letters (nearly every such word is one edit from dozens of others)."""
    if len(term) >= 8:
        return 2
    return 1 if len(term) >= 3 else 0


@dataclass
class Clause:
    """One thing to look for: a word, a phrase (several words in order) or a prefix."""

    words: list[str]
    prefix: bool = False


@dataclass
class ParsedQuery:
    """A query as groups that must all match (each group: any of its clauses), and exclusions."""

    text: str
    groups: list[list[Clause]] = field(default_factory=list)
    excluded: list[Clause] = field(default_factory=list)
    fuzzy: bool = False

    def positive(self) -> list[Clause]:
        return [c for group in self.groups for c in group]


_ANALYZER = analyzer()


def word_ends(words: list[str]) -> list[int]:
    """For words joined by one separator each, the offset just past each word."""
    return list(map(add, accumulate(map(len, words)), range(len(words))))


@lru_cache(maxsize=200_000)
def word_tokens(text: str) -> tuple[str, ...]:
    return tuple(_ANALYZER.analyze(text))


def tokens(text: str) -> list[str]:
    """The index's own words for ``text`` (same tokenizer, so queries and documents agree)."""
    return list(word_tokens(text))


def parse(text: str, *, fuzzy: bool = False) -> ParsedQuery:
    query = ParsedQuery(text=text, fuzzy=fuzzy)
    pos, pending_or = 0, False
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            break
        pos = match.end()
        negate, raw, phrase, closing = match.group(1, 2, 3, 4)
        if phrase is not None and not closing:
            raise QuerySyntaxError(
                f'unclosed quote in {text!r}: end the phrase with a second " (or remove the quote)'
            )
        if raw == "OR" and not negate:
            if not query.groups or pending_or:
                raise QuerySyntaxError("'OR' needs a word on each side, as in: cat OR dog")
            pending_or = True
            continue
        clause = _clause(raw if phrase is None else phrase, quoted=phrase is not None, query=text)
        if clause is None:
            continue
        if negate:
            if pending_or:
                raise QuerySyntaxError("'OR -word' is not supported: exclude words on their own")
            query.excluded.append(clause)
        elif pending_or:
            query.groups[-1].append(clause)
            pending_or = False
        else:
            query.groups.append([clause])
    if pending_or:
        raise QuerySyntaxError("'OR' needs a word on each side, as in: cat OR dog")
    if not query.groups:
        if query.excluded:
            raise QuerySyntaxError(
                "a query cannot only exclude words: add a word to find, e.g. invoice -draft"
            )
        raise QuerySyntaxError("the query has no words to search for")
    return query


def _clause(raw: str, *, quoted: bool, query: str) -> Clause | None:
    prefix = not quoted and raw.endswith("*")
    words = tokens(raw.rstrip("*") if prefix else raw)
    if not words:
        if prefix:
            raise QuerySyntaxError(f"'{raw}' has no letters before the '*': write e.g. clad*")
        return None  # punctuation only: nothing to look for
    if prefix:
        if len(words) > 1:
            raise QuerySyntaxError(f"'{raw}': a prefix search takes one word, e.g. clad*")
        if len(words[0]) < MIN_PREFIX:
            raise QuerySyntaxError(
                f"'{raw}' is too short a prefix: give at least {MIN_PREFIX} letters before '*'"
            )
    return Clause(words, prefix=prefix)


def to_tantivy(query: ParsedQuery, schema: tantivy.Schema,
               fields: tuple[str, ...]) -> tantivy.Query:
    """The whole query (all groups must match, no exclusion may) over ``fields``."""
    Occur = tantivy.Occur
    parts = []
    for group in query.groups:
        options = [_clause_query(c, schema, fields, query.fuzzy) for c in group]
        either = tantivy.Query.boolean_query([(Occur.Should, q) for q in options])
        parts.append((Occur.Must, either))
    for clause in query.excluded:
        parts.append((Occur.MustNot, _clause_query(clause, schema, fields, fuzzy=False)))
    return tantivy.Query.boolean_query(parts)


def any_clause(query: ParsedQuery, schema: tantivy.Schema,
               fields: tuple[str, ...]) -> tantivy.Query:
    """Any of the query's positive clauses: finds the pages that hold part of a match."""
    return tantivy.Query.boolean_query(
        [(tantivy.Occur.Should, _clause_query(c, schema, fields, query.fuzzy))
         for c in query.positive()]
    )


def _clause_query(clause: Clause, schema: tantivy.Schema, fields: tuple[str, ...],
                  fuzzy: bool) -> tantivy.Query:
    Q, Occur = tantivy.Query, tantivy.Occur
    per_field = []
    for name in fields:
        if clause.prefix:
            q = Q.regex_query(schema, name, re.escape(clause.words[0]) + ".*")
        elif len(clause.words) > 1:
            q = Q.phrase_query(schema, name, list[Any](clause.words))
        else:
            word = clause.words[0]
            q = Q.term_query(schema, name, word)
            distance = fuzzy_distance(word) if fuzzy else 0
            if distance:
                # Exact hits rank above near misses.
                near = Q.fuzzy_term_query(schema, name, word, distance, True, False)
                q = Q.boolean_query([(Occur.Should, Q.boost_query(q, 2.0)), (Occur.Should, near)])
        per_field.append((Occur.Should, Q.boost_query(q, FIELD_BOOSTS[name])))
    return Q.boolean_query(per_field)


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
