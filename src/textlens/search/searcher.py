"""Running a search: records ranked by relevance, each with the attachments and pages that
matched, a snippet with the hits marked, and the boxes of the matching words on the page."""

from __future__ import annotations

import html
import sqlite3
from bisect import bisect_right

import tantivy

from ..store import records as rec
from ..store import wordboxes, work
from ..types import AttachmentHit, Box, PageHit, SearchHit, SearchResults
from .hits import Matcher, word_ends
from .index import PAGE_FIELDS, RECORD_FIELDS, SearchIndex
from .query import any_clause, parse, to_tantivy

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
    scored = [(searcher.doc(address)["record_id"][0], score)
              for score, address in found.hits[:limit]]
    pages = _matching_pages(index, searcher, any_clause(parsed, index.schema, PAGE_FIELDS),
                            [record_id for record_id, _ in scored])
    hits = _build_hits(conn, scored, pages, matcher)
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
        # The shared result was cut off: any record may be missing pages. Ask per record, so
        # what a result lists never depends on how many other results there are.
        for record_id in record_ids:
            pages.update(run([record_id], PAGES_PER_RECORD))
    return pages


def _build_hits(conn: sqlite3.Connection, scored: list[tuple[int, float]],
                pages: dict[int, list[tuple[float, int, int]]],
                matcher: Matcher) -> list[SearchHit]:
    """Read what the results show from the database in three queries, whatever their number."""
    records = rec.records_by_id(conn, [record_id for record_id, _ in scored])
    # Per attachment: its best pages, at most PAGES_PER_ATTACHMENT, in page order.
    wanted: dict[int, list[int]] = {}
    matched: dict[int, int] = {}
    for record_id, _ in scored:
        per_attachment: dict[int, list[tuple[float, int]]] = {}
        for score, attachment_id, page in pages.get(record_id, [])[:PAGES_PER_RECORD]:
            per_attachment.setdefault(attachment_id, []).append((score, page))
        for attachment_id, found in per_attachment.items():
            best = sorted(found, key=lambda p: -p[0])[:PAGES_PER_ATTACHMENT]
            wanted[attachment_id] = sorted(page for _, page in best)
            matched[attachment_id] = len(found)
    attachments = work.attachments_with_current_run(conn, list(wanted))
    keys = [(attachments[a]["run_id"], page) for a, numbers in wanted.items()
            if a in attachments and attachments[a]["run_id"] for page in numbers]
    page_rows = work.pages_for_display(conn, keys)

    hits = []
    for record_id, score in scored:
        row = records.get(record_id)
        if row is None:
            continue  # deleted since the index last caught up
        own_words = f"{row['title']}\n{row['body']}".split()
        record_matched = any(matcher.marks(own_words))
        record_snippet = None
        if record_matched and row["body"]:
            body_words = row["body"].split()
            record_snippet = snippet(body_words, matcher.marks(body_words))
        attachment_hits = []
        for attachment_id in dict.fromkeys(a for _, a, _ in pages.get(record_id, [])):
            info = attachments.get(attachment_id)
            if info is None or attachment_id not in wanted:
                continue
            page_hits = [_page_hit(page_rows[(info["run_id"], n)], matcher)
                         for n in wanted[attachment_id] if (info["run_id"], n) in page_rows]
            attachment_hits.append(AttachmentHit(
                id=attachment_id, name=info["name"], pages=page_hits,
                more_pages=max(0, matched[attachment_id] - len(page_hits))))
        hits.append(SearchHit(
            record_id=record_id, title=row["title"], score=score,
            record_matched=record_matched, snippet=record_snippet, attachments=attachment_hits,
        ))
    return hits


def _page_hit(page_row: sqlite3.Row, matcher: Matcher) -> PageHit:
    joined = page_row["words"]
    words = wordboxes.texts(joined)
    if not words:  # an engine that gave text but no words: no boxes, snippet from text
        words = page_row["text"].split()
        joined = "\n".join(words)
    marks, starts = matcher.locate(words, joined)
    numbers = wordboxes.boxes(page_row["boxes"])
    boxes: list[Box] = [
        (numbers[5 * i], numbers[5 * i + 1], numbers[5 * i + 2], numbers[5 * i + 3])
        for i in sorted(starts) if 5 * i + 3 < len(numbers)
    ]
    return PageHit(page=page_row["page"], boxes=boxes,
                   snippet=snippet(words, marks, joined=joined, starts=starts))


def snippet(words: list[str], marks: list[bool], width: int = SNIPPET_CHARS,
            joined: str | None = None, starts: dict[int, int] | None = None) -> str:
    """About ``width`` characters of ``words`` around the densest run of hits, HTML-escaped,
    with each hit wrapped in <b>...</b>. ``joined`` (words joined by newlines) and ``starts``
    (hit index -> offset in joined) spare the work when the caller has them."""
    if not words:
        return ""
    joined = joined if joined is not None else "\n".join(words)
    if starts is None:
        offsets = word_ends(words)
        starts = {i: offsets[i] - len(words[i]) for i, hit in enumerate(marks) if hit}
    hit_at = sorted(starts)

    def window_end(first: int) -> int:
        """The index of the last word that fits in ``width`` characters from hit ``first``."""
        return first + joined.count("\n", starts[first], starts[first] + width)

    start, stop = 0, min(len(words), joined.count("\n", 0, width) + 1)
    if hit_at:
        # The window that starts at a hit and holds the most hits wins; it opens a few words
        # before that hit so the reader sees some context. (The first 16 hits are plenty.)
        best_count, best_start = 0, hit_at[0]
        for n, first in enumerate(hit_at[:16]):
            count = bisect_right(hit_at, window_end(first), lo=n) - n
            if count > best_count:
                best_count, best_start = count, first
        start = max(0, best_start - 6)
        stop = min(len(words), window_end(best_start) + 1)
    # \x01 and \x02 stand for <b> and </b> until the whole snippet is escaped at once.
    shown = [f"\x01{w}\x02" if hit else w
             for w, hit in zip(words[start:stop], marks[start:stop], strict=True)]
    body = html.escape(" ".join(shown)).replace("\x01", "<b>").replace("\x02", "</b>")
    return ("… " if start > 0 else "") + body + (" …" if stop < len(words) else "")


def locate(conn: sqlite3.Connection, run_id: int, page: int, text: str, *,
           fuzzy: bool = False) -> PageHit | None:
    """The words of one stored page that ``text`` matches, with their boxes and a snippet (the
    attachment view marks them on the page image); None when the run has no such page."""
    rows = work.pages_for_display(conn, [(run_id, page)])
    row = rows.get((run_id, page))
    return _page_hit(row, Matcher(parse(text, fuzzy=fuzzy))) if row is not None else None
