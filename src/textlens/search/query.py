"""The search syntax: words, "exact phrases", OR, -exclusion and prefix*, with optional fuzziness.

Parsed by hand because the grammar is tiny and we need two things Tantivy's own parser does not
give: fuzzy matching per word with OCR-friendly distances, and the list of terms that matched so
that snippets and word boxes can be located on the page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import tantivy

from ..errors import QuerySyntaxError
from .index import analyzer

_TOKEN = re.compile(r'\s*(-?)("([^"]*)("?)|[^\s"]+)')
FIELD_BOOSTS = {"title": 2.0, "all": 1.0, "text": 1.0}
MIN_PREFIX = 2


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
