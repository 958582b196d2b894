"""Running a search: records ranked by relevance, each with the attachments and pages that
matched, a snippet with the hits marked, and the boxes of the matching words on the page."""

from __future__ import annotations

import html
import sqlite3
from collections import OrderedDict

import tantivy

from ..store import wordboxes, work
from ..types import AttachmentHit, Box, PageHit, SearchHit, SearchResults
from .index import PAGE_FIELDS, RECORD_FIELDS, SearchIndex
from .query import Matcher, any_clause, parse, to_tantivy

SNIPPET_CHARS = 200
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
    total = found.count  # type: ignore[attr-defined]  # present at run time; missing in stubs
    return SearchResults(query=text, total=int(total), fuzzy=fuzzy, results=hits)


def _record_hit(conn: sqlite3.Connection, index: SearchIndex, searcher: tantivy.Searcher,
                page_query: tantivy.Query, record_id: int, score: float,
                matcher: Matcher) -> SearchHit | None:
    row = conn.execute("SELECT title, body FROM records WHERE id=?", (record_id,)).fetchone()
    if row is None:
        return None  # deleted since the index last caught up
    own_text = f"{row['title']}\n{row['body']}"
    record_matched = any(matcher.marks(own_text.split()))
    record_snippet = None
    if record_matched and row["body"]:
        body_words = row["body"].split()
        record_snippet = snippet(body_words, matcher.marks(body_words))

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
    best = sorted(page for _, page in sorted(pages, key=lambda p: -p[0])[:PAGES_PER_ATTACHMENT])
    rows = conn.execute(
        "SELECT page, text, words, boxes FROM ocr_pages WHERE run_id=? AND page IN"
        f" ({','.join('?' * len(best))}) ORDER BY page",
        (run["id"], *best),
    ).fetchall()
    hits = []
    for page_row in rows:
        words = wordboxes.texts(page_row["words"])
        if not words:  # an engine that gave text but no words: no boxes, snippet from text
            words = page_row["text"].split()
        marks = matcher.marks(words)
        numbers = wordboxes.boxes(page_row["boxes"])
        boxes: list[Box] = [
            (numbers[5 * i], numbers[5 * i + 1], numbers[5 * i + 2], numbers[5 * i + 3])
            for i, hit in enumerate(marks) if hit and 5 * i + 3 < len(numbers)
        ]
        hits.append(PageHit(page=page_row["page"], snippet=snippet(words, marks), boxes=boxes))
    return AttachmentHit(id=attachment_id, name=row["name"], pages=hits)


def snippet(words: list[str], marks: list[bool], width: int = SNIPPET_CHARS) -> str:
    """About ``width`` characters of ``words`` around the densest run of hits, HTML-escaped,
    with each hit wrapped in <b>...</b>."""
    hit_at = [i for i, hit in enumerate(marks) if hit]
    start = 0
    if hit_at:
        # The window (in words) that starts at a hit and covers the most hits wins; it opens a
        # few words before that hit so the reader sees some context.
        best_count, best_start, end_chars = 0, hit_at[0], 0
        for n, first in enumerate(hit_at):
            end_chars, last = 0, first
            while last < len(words) and end_chars < width:
                end_chars += len(words[last]) + 1
                last += 1
            count = sum(1 for h in hit_at[n:] if h < last)
            if count > best_count:
                best_count, best_start = count, first
        start = max(0, best_start - 6)
    out, used, i = [], 0, start
    while i < len(words) and used < width:
        word = html.escape(words[i])
        out.append(f"<b>{word}</b>" if marks[i] else word)
        used += len(words[i]) + 1
        i += 1
    return ("… " if start > 0 else "") + " ".join(out) + (" …" if i < len(words) else "")
