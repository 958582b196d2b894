"""Running a search: records ranked by relevance, each with the attachments and pages that
matched, a snippet with the hits marked, and the boxes of the matching words on the page."""

from __future__ import annotations

import html
import sqlite3
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from itertools import compress

import tantivy

from ..store import wordboxes, work
from ..types import AttachmentHit, Box, PageHit, SearchHit, SearchResults
from .index import PAGE_FIELDS, RECORD_FIELDS, SearchIndex
from .query import Matcher, any_clause, parse, to_tantivy, word_ends

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
    record_ids = [searcher.doc(address)["record_id"][0] for _, address in found.hits[:limit]]
    pages = _matching_pages(index, searcher, any_clause(parsed, index.schema, PAGE_FIELDS),
                            record_ids)
    hits = []
    for (score, _), record_id in zip(found.hits, record_ids, strict=False):
        hit = _record_hit(conn, record_id, score, pages.get(record_id, []), matcher)
        if hit is not None:
            hits.append(hit)
    total = found.count  # type: ignore[attr-defined]  # present at run time; missing in stubs
    return SearchResults(query=text, total=int(total), fuzzy=fuzzy, results=hits)


def _matching_pages(index: SearchIndex, searcher: tantivy.Searcher, page_query: tantivy.Query,
                    record_ids: list[int]) -> dict[int, list[tuple[float, int, int]]]:
    """``{record: [(score, attachment, page)]}``: where the hits are, in one index search for
    all records (a fuzzy query costs a few ms per search), then per record for any record
    whose pages did not fit in the shared result."""
    Q, Must = tantivy.Query, tantivy.Occur.Must

    def run(ids: list[int], limit: int) -> dict[int, list[tuple[float, int, int]]]:
        found: dict[int, list[tuple[float, int, int]]] = {}
        if not ids:
            return found
        restrict = Q.term_set_query(index.schema, "record_id", ids)
        result = searcher.search(Q.boolean_query([(Must, page_query), (Must, restrict)]), limit)
        for score, address in result.hits:
            doc = searcher.doc(address)
            found.setdefault(doc["record_id"][0], []).append(
                (score, doc["attachment_id"][0], doc["page"][0]))
        return found

    shared_limit = len(record_ids) * 8
    pages = run(record_ids, shared_limit)
    if sum(len(p) for p in pages.values()) >= shared_limit:
        for record_id in record_ids:
            if record_id not in pages:
                pages.update(run([record_id], PAGES_PER_RECORD))
    return pages


def _record_hit(conn: sqlite3.Connection, record_id: int, score: float,
                pages: list[tuple[float, int, int]], matcher: Matcher) -> SearchHit | None:
    row = conn.execute("SELECT title, body FROM records WHERE id=?", (record_id,)).fetchone()
    if row is None:
        return None  # deleted since the index last caught up
    own_text = f"{row['title']}\n{row['body']}"
    record_matched = any(matcher.marks(own_text.split()))
    record_snippet = None
    if record_matched and row["body"]:
        body_words = row["body"].split()
        record_snippet = snippet(body_words, matcher.marks(body_words))
    by_attachment: OrderedDict[int, list[tuple[float, int]]] = OrderedDict()
    for page_score, attachment_id, page in pages[:PAGES_PER_RECORD]:
        by_attachment.setdefault(attachment_id, []).append((page_score, page))
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
        # The page text is only read for an engine that gave text without words.
        "SELECT page, CASE WHEN words = '' THEN text ELSE '' END AS text, words, boxes"
        " FROM ocr_pages WHERE run_id=? AND page IN"
        f" ({','.join('?' * len(best))}) ORDER BY page",
        (run["id"], *best),
    ).fetchall()
    hits = []
    for page_row in rows:
        words = wordboxes.texts(page_row["words"])
        if not words:  # an engine that gave text but no words: no boxes, snippet from text
            words = page_row["text"].split()
        ends = word_ends(words)
        marks = matcher.marks(words, ends)
        hit_at = list(compress(range(len(marks)), marks))
        numbers = wordboxes.boxes(page_row["boxes"])
        boxes: list[Box] = [
            (numbers[5 * i], numbers[5 * i + 1], numbers[5 * i + 2], numbers[5 * i + 3])
            for i in hit_at if 5 * i + 3 < len(numbers)
        ]
        hits.append(PageHit(page=page_row["page"], boxes=boxes,
                            snippet=snippet(words, marks, ends=ends, hit_at=hit_at)))
    return AttachmentHit(id=attachment_id, name=row["name"], pages=hits)


def snippet(words: list[str], marks: list[bool], width: int = SNIPPET_CHARS,
            ends: list[int] | None = None, hit_at: list[int] | None = None) -> str:
    """About ``width`` characters of ``words`` around the densest run of hits, HTML-escaped,
    with each hit wrapped in <b>...</b>."""
    if hit_at is None:
        hit_at = list(compress(range(len(marks)), marks))
    start = 0
    if hit_at:
        # The window that starts at a hit and holds the most hits wins; it opens a few words
        # before that hit so the reader sees some context.
        ends = ends if ends is not None else word_ends(words)
        best_count, best_start = 0, hit_at[0]
        for n, first in enumerate(hit_at):
            last = bisect_left(ends, ends[first] - len(words[first]) + width, lo=first)
            count = bisect_right(hit_at, last, lo=n) - n
            if count > best_count:
                best_count, best_start = count, first
        start = max(0, best_start - 6)
    out, used, i = [], 0, start
    while i < len(words) and used < width:
        # \x01 and \x02 stand for <b> and </b> until the whole snippet is escaped at once.
        out.append(f"\x01{words[i]}\x02" if marks[i] else words[i])
        used += len(words[i]) + 1
        i += 1
    body = html.escape(" ".join(out)).replace("\x01", "<b>").replace("\x02", "</b>")
    return ("… " if start > 0 else "") + body + (" …" if i < len(words) else "")
