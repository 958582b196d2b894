"""Running a search: records ranked by relevance, each with the attachments and pages that
matched, a snippet with the hits marked, and the boxes of the matching words on the page."""

from __future__ import annotations

import html
import re
import sqlite3
from collections import OrderedDict

import tantivy

from ..store import work
from ..types import AttachmentHit, Box, PageHit, SearchHit, SearchResults
from .index import PAGE_FIELDS, RECORD_FIELDS, SearchIndex
from .query import Matcher, any_clause, parse, to_tantivy, word_tokens

SNIPPET_CHARS = 200
_WORD = re.compile(r"\S+")
PAGES_PER_ATTACHMENT = 10  # a 300-page PDF lists its best pages, not all of them
PAGES_PER_RECORD = 50


def search(
    index: SearchIndex, conn: sqlite3.Connection, text: str, *, limit: int = 20,
    fuzzy: bool = False,
) -> SearchResults:
    """Records matching ``text`` as a whole (title, body and attachments together), best first;
    then, inside each, the pages that hold the matching words."""
    parsed = parse(text, fuzzy=fuzzy)
    searcher = index.searcher()
    matcher = Matcher(parsed)
    record_query = to_tantivy(parsed, index.schema, RECORD_FIELDS)
    found = searcher.search(record_query, max(limit, 1), count=True)
    page_query = any_clause(parsed, index.schema, PAGE_FIELDS)
    hits = []
    for score, address in found.hits[:limit]:
        record_id = searcher.doc(address)["record_id"][0]
        hit = _record_hit(conn, index, searcher, page_query, record_id, score, matcher)
        if hit is not None:
            hits.append(hit)
    return SearchResults(query=text, total=found.count, fuzzy=fuzzy, results=hits)


def _record_hit(conn: sqlite3.Connection, index: SearchIndex, searcher: tantivy.Searcher,
                page_query: tantivy.Query, record_id: int, score: float,
                matcher: Matcher) -> SearchHit | None:
    row = conn.execute("SELECT title, body FROM records WHERE id=?", (record_id,)).fetchone()
    if row is None:
        return None  # deleted since the index last caught up
    own_text = f"{row['title']}\n{row['body']}"
    record_matched = any(matcher.marks([word_tokens(w) for w in own_text.split()]))
    record_snippet = snippet(row["body"], matcher) if record_matched and row["body"] else None

    in_record = tantivy.Query.term_query(index.schema, "record_id", record_id)
    pages = searcher.search(
        tantivy.Query.boolean_query(
            [(tantivy.Occur.Must, page_query), (tantivy.Occur.Must, in_record)]
        ),
        PAGES_PER_RECORD,
    )
    by_attachment: OrderedDict[int, list[tuple[float, int]]] = OrderedDict()
    for page_score, address in pages.hits:
        doc = searcher.doc(address)
        by_attachment.setdefault(doc["attachment_id"][0], []).append(
            (page_score, doc["page"][0]))
    attachments = []
    for attachment_id, page_hits in by_attachment.items():
        hit = _attachment_hit(conn, attachment_id, page_hits, matcher)
        if hit:
            attachments.append(hit)
    return SearchHit(
        record_id=record_id, title=row["title"], score=score,
        record_matched=record_matched, snippet=record_snippet, attachments=attachments,
    )


def _attachment_hit(conn: sqlite3.Connection, attachment_id: int,
                    pages: list[tuple[float, int]], matcher: Matcher) -> AttachmentHit | None:
    row = conn.execute(
        "SELECT name, sha256 FROM attachments WHERE id=?", (attachment_id,)
    ).fetchone()
    if row is None:
        return None
    run = work.current_run(conn, row["sha256"])
    if run is None:
        return None
    best = sorted(pages, key=lambda p: -p[0])[:PAGES_PER_ATTACHMENT]
    hits = []
    for _, page in sorted(best, key=lambda p: p[1]):
        page_row = conn.execute(
            "SELECT text, words FROM ocr_pages WHERE run_id=? AND page=?", (run["id"], page)
        ).fetchone()
        if page_row is None:
            continue
        words = work.page_words(conn, run["id"], page)
        marks = matcher.marks([word_tokens(w.text) for w in words])
        boxes: list[Box] = [w.box for w, hit in zip(words, marks, strict=True) if hit]
        hits.append(PageHit(page=page, snippet=snippet(page_row["text"], matcher), boxes=boxes))
    return AttachmentHit(id=attachment_id, name=row["name"], pages=hits)


def snippet(text: str, matcher: Matcher, width: int = SNIPPET_CHARS) -> str:
    """The part of ``text`` with the most hits, HTML-escaped, hits wrapped in <b>...</b>."""
    spans = [(m.start(), m.end()) for m in _WORD.finditer(text)]
    marks = matcher.marks([word_tokens(text[a:b]) for a, b in spans])
    hit_starts = [spans[i][0] for i, hit in enumerate(marks) if hit]
    start = 0
    if hit_starts:
        # Slide a window over the hits and keep the one covering most of them.
        best_count, start = 0, hit_starts[0]
        for i, s in enumerate(hit_starts):
            count = sum(1 for t in hit_starts[i:] if t < s + width)
            if count > best_count:
                best_count, start = count, s
        start = max(0, start - width // 4)
        # Begin at a word boundary.
        while start > 0 and not text[start - 1].isspace():
            start -= 1
    end = min(len(text), start + width)
    while end < len(text) and not text[end].isspace():
        end += 1
    out = []
    cursor = start
    for (a, b), hit in zip(spans, marks, strict=True):
        if b <= start or a >= end:
            continue
        out.append(html.escape(text[cursor:a]))
        word = html.escape(text[a:b])
        out.append(f"<b>{word}</b>" if hit else word)
        cursor = b
    out.append(html.escape(text[cursor:end]))
    body = " ".join("".join(out).split())
    return ("… " if start > 0 else "") + body + (" …" if end < len(text) else "")
