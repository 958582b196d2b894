"""The Tantivy full-text index: its schema, and keeping it in step with the database.

SQLite is the truth. Every change is written to the `index_outbox` table in the same transaction
as the change itself; `catch_up` applies outbox rows to the index and deletes them only after the
index has committed, so a crash between the two commits is repaired on the next catch-up
(applying a row twice is harmless: it deletes and re-adds the same documents).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import tantivy

from ..errors import BusyError
from ..store import work

INDEX_DIR = "index"
TOKENIZER = "textlens"
TEXT_FIELDS = ("title", "body", "text")
# A search-time catch-up must stay short: a big backlog is the scanner's job.
SEARCH_CATCH_UP_ROWS = 2000


def analyzer() -> tantivy.TextAnalyzer:
    """Words: split on anything not a letter or digit, lowercased, accents folded (OCR often
    drops or invents diacritics), overlong junk tokens dropped."""
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.remove_long(40))
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.ascii_fold())
        .build()
    )


def build_schema() -> tantivy.Schema:
    sb = tantivy.SchemaBuilder()
    sb.add_text_field("key", stored=False, tokenizer_name="raw")
    sb.add_unsigned_field("record_id", stored=True, indexed=True, fast=True)
    sb.add_unsigned_field("attachment_id", stored=True, indexed=True)
    sb.add_unsigned_field("page", stored=True)
    for name in TEXT_FIELDS:
        sb.add_text_field(name, stored=True, tokenizer_name=TOKENIZER)
    return sb.build()


class SearchIndex:
    """The index folder of one library."""

    def __init__(self, library_dir: Path):
        self.path = library_dir / INDEX_DIR
        self.path.mkdir(parents=True, exist_ok=True)
        self.schema = build_schema()
        self.index = tantivy.Index(self.schema, path=str(self.path), reuse=True)
        self.index.register_tokenizer(TOKENIZER, analyzer())

    def searcher(self) -> tantivy.Searcher:
        self.index.reload()
        return self.index.searcher()

    def _writer(self) -> tantivy.IndexWriter | None:
        """The index writer, or None when another process holds it (it will catch up)."""
        try:
            # One indexing thread: the scan's workers already use every core.
            return self.index.writer(heap_size=64_000_000, num_threads=1)
        except ValueError as e:
            if "lock" in str(e).lower():
                return None
            raise

    def catch_up(self, conn: sqlite3.Connection, max_rows: int | None = None) -> int:
        """Apply pending outbox rows; return how many were applied (0 if the writer is busy)."""
        if conn.execute("SELECT 1 FROM index_outbox LIMIT 1").fetchone() is None:
            return 0
        writer = self._writer()
        if writer is None:
            return 0
        applied = 0
        try:
            while max_rows is None or applied < max_rows:
                rows = conn.execute(
                    "SELECT id, kind, ref FROM index_outbox ORDER BY id LIMIT 5000"
                ).fetchall()
                if not rows:
                    break
                for kind, ref in dict.fromkeys((r["kind"], r["ref"]) for r in rows):
                    self._apply(writer, conn, kind, ref)
                writer.commit()
                last = rows[-1]["id"]
                conn.execute("DELETE FROM index_outbox WHERE id <= ?", (last,))
                applied += len(rows)
        finally:
            writer.wait_merging_threads()
        return applied

    def rebuild(self, conn: sqlite3.Connection) -> int:
        """Drop the index and build it again from the database; return the documents added."""
        writer = self._writer()
        if writer is None:
            raise BusyError(
                "another process is writing the search index (a scan?); try again when it ends"
            )
        try:
            high = conn.execute("SELECT COALESCE(MAX(id), 0) FROM index_outbox").fetchone()[0]
            writer.delete_all_documents()
            added = 0
            for (record_id,) in conn.execute("SELECT id FROM records").fetchall():
                added += self._apply(writer, conn, "record", record_id)
            for (attachment_id,) in conn.execute("SELECT id FROM attachments").fetchall():
                added += self._apply(writer, conn, "attachment", attachment_id)
            writer.commit()
            conn.execute("DELETE FROM index_outbox WHERE id <= ?", (high,))
        finally:
            writer.wait_merging_threads()
        return added

    def _apply(self, writer: tantivy.IndexWriter, conn: sqlite3.Connection, kind: str,
               ref: int) -> int:
        """Replace the documents of one record or attachment with what the database holds."""
        if kind == "record":
            writer.delete_documents_by_term("key", f"r{ref}")
            row = conn.execute("SELECT title, body FROM records WHERE id=?", (ref,)).fetchone()
            if row is None:
                return 0
            doc = _document(f"r{ref}", ref, 0, 0)
            doc.add_text("title", row["title"])
            doc.add_text("body", row["body"])
            writer.add_document(doc)
            return 1
        writer.delete_documents_by_term("key", f"a{ref}")
        row = conn.execute(
            "SELECT record_id, sha256 FROM attachments WHERE id=?", (ref,)
        ).fetchone()
        if row is None:
            return 0
        run = work.current_run(conn, row["sha256"])
        if run is None:
            return 0
        added = 0
        for page in work.run_pages(conn, run["id"]):
            text = page["text"] or " ".join(w[0] for w in json.loads(page["words"]))
            doc = _document(f"a{ref}", row["record_id"], ref, page["page"])
            doc.add_text("text", text)
            writer.add_document(doc)
            added += 1
        return added

    def doc_count(self) -> int:
        return self.searcher().num_docs


def _document(key: str, record_id: int, attachment_id: int, page: int) -> tantivy.Document:
    doc = tantivy.Document()
    doc.add_text("key", key)
    doc.add_unsigned("record_id", record_id)
    doc.add_unsigned("attachment_id", attachment_id)
    doc.add_unsigned("page", page)
    return doc
