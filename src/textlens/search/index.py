"""The Tantivy full-text index: its schema, and keeping it in step with the database.

SQLite is the truth. Every change is written to the `index_outbox` table in the same transaction
as the change itself; `catch_up` applies outbox rows to the index and deletes them only after the
index has committed, so a crash between the two commits is repaired on the next catch-up
(applying a row twice is harmless: it deletes and re-adds the same documents).
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import tantivy

from ..errors import BusyError
from ..store import work

INDEX_DIR = "index"
TOKENIZER = "textlens"
TEXT_FIELDS = ("title", "text")  # a record's body is in its `all` field
# Records match as a whole: `all` holds a record's title, body and every page of its attachments,
# so "a b" finds a record with a on page 1 and b on page 3, and -c drops a record with c anywhere.
RECORD_FIELDS = ("title", "all")
PAGE_FIELDS = ("text",)
# A search-time catch-up must stay short: a big backlog is the scanner's job.
SEARCH_CATCH_UP_ROWS = 2000
CATCH_UP_BATCH = 1000  # outbox rows per index commit; bounds the texts held in memory


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
    # Text is indexed, not stored: SQLite holds it, and results read it from there.
    for name in TEXT_FIELDS:
        sb.add_text_field(name, stored=False, tokenizer_name=TOKENIZER)
    sb.add_text_field("all", stored=False, tokenizer_name=TOKENIZER)
    return sb.build()


class SearchIndex:
    """The index folder of one library."""

    def __init__(self, library_dir: Path):
        self.path = library_dir / INDEX_DIR
        self.path.mkdir(parents=True, exist_ok=True)
        self.schema = build_schema()
        # The index is derived data: one written by another textlens version is dropped and
        # rebuilt from the database (`needs_rebuild`), never a reason to refuse to open.
        # A missing index (deleted, or a library copied without it) is rebuilt the same way.
        self.needs_rebuild = not (self.path / "meta.json").exists()
        try:
            self.index = tantivy.Index(self.schema, path=str(self.path), reuse=True)
        except ValueError as e:
            if "schema" not in str(e).lower():
                raise
            shutil.rmtree(self.path)
            self.path.mkdir(parents=True)
            self.index = tantivy.Index(self.schema, path=str(self.path), reuse=True)
            self.needs_rebuild = True
        self.index.register_tokenizer(TOKENIZER, analyzer())

    def searcher(self) -> tantivy.Searcher:
        self.index.reload()
        return self.index.searcher()

    def _writer(self, bulk: bool = False) -> tantivy.IndexWriter | None:
        """The index writer, or None when another process holds it (it will catch up).

        Catch-ups use one thread, since a scan's workers already use every core; a rebuild
        (`bulk`), which someone is waiting for, uses them all and a larger buffer."""
        try:
            if bulk:
                return self.index.writer(heap_size=256_000_000, num_threads=0)
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
                batch = CATCH_UP_BATCH if max_rows is None else \
                    min(CATCH_UP_BATCH, max_rows - applied)
                rows = conn.execute(
                    "SELECT id, kind, ref FROM index_outbox ORDER BY id LIMIT ?", (batch,)
                ).fetchall()
                if not rows:
                    break
                # Attachments first, then their records, which reuse the texts just read.
                texts: dict[str, list[str]] = {}
                records: set[int] = set()
                for kind, ref in dict.fromkeys((r["kind"], r["ref"]) for r in rows):
                    if kind == "record":
                        records.add(ref)
                    else:
                        records |= self._apply_attachment(writer, conn, ref, texts)[1]
                for record_id in records:
                    self._apply_record(writer, conn, record_id, texts)
                writer.commit()
                last = rows[-1]["id"]
                conn.execute("DELETE FROM index_outbox WHERE id <= ?", (last,))
                applied += len(rows)
        finally:
            writer.wait_merging_threads()
        return applied

    def rebuild(self, conn: sqlite3.Connection) -> int:
        """Drop the index and build it again from the database; return the documents added."""
        writer = self._writer(bulk=True)
        if writer is None:
            raise BusyError(
                "another process is writing the search index (a scan?); try again when it ends"
            )
        try:
            high = conn.execute("SELECT COALESCE(MAX(id), 0) FROM index_outbox").fetchone()[0]
            writer.delete_all_documents()
            added = 0
            for (record_id,) in conn.execute("SELECT id FROM records").fetchall():
                texts: dict[str, list[str]] = {}  # one record's files, each read once
                added += self._apply_record(writer, conn, record_id, texts)
                for (attachment_id,) in conn.execute(
                    "SELECT id FROM attachments WHERE record_id=?", (record_id,)
                ).fetchall():
                    added += self._apply_attachment(writer, conn, attachment_id, texts)[0]
            writer.commit()
            conn.execute("DELETE FROM index_outbox WHERE id <= ?", (high,))
        finally:
            writer.wait_merging_threads()
        return added

    def _apply_record(self, writer: tantivy.IndexWriter, conn: sqlite3.Connection,
                      record_id: int, texts: dict[str, list[str]]) -> int:
        """Replace a record's own document: title, body, and all its attachments' text."""
        writer.delete_documents_by_term("key", f"r{record_id}")
        row = conn.execute("SELECT title, body, catalog_number FROM records WHERE id=?",
                           (record_id,)).fetchone()
        if row is None:
            return 0
        doc = _document(f"r{record_id}", record_id, 0, 0)
        # A specimen is found by its catalog number as by its title.
        title = " ".join(filter(None, (row["title"], row["catalog_number"])))
        doc.add_text("title", title)
        doc.add_text("all", f"{title}\n{row['body']}")
        for (sha256,) in conn.execute(
            "SELECT sha256 FROM attachments WHERE record_id=? ORDER BY id", (record_id,)
        ).fetchall():
            for page in _pages(conn, sha256, texts):
                doc.add_text("all", page)
        writer.add_document(doc)
        return 1

    def _apply_attachment(self, writer: tantivy.IndexWriter, conn: sqlite3.Connection,
                          attachment_id: int, texts: dict[str, list[str]]
                          ) -> tuple[int, set[int]]:
        """Replace an attachment's page documents; return them and the records to refresh."""
        writer.delete_documents_by_term("key", f"a{attachment_id}")
        row = conn.execute(
            "SELECT record_id, sha256 FROM attachments WHERE id=?", (attachment_id,)
        ).fetchone()
        if row is None:
            return 0, set()  # deleted: its record was queued for refresh with the deletion
        added = 0
        for number, text in enumerate(_pages(conn, row["sha256"], texts), start=1):
            if not text:
                continue
            doc = _document(f"a{attachment_id}", row["record_id"], attachment_id, number)
            doc.add_text("text", text)
            writer.add_document(doc)
            added += 1
        return added, {row["record_id"]}

    def doc_count(self) -> int:
        """Documents in the index: one per record, one per OCR'd page."""
        return self.searcher().num_docs


def _pages(conn: sqlite3.Connection, sha256: str, cache: dict[str, list[str]]) -> list[str]:
    """The text of each page of a content's current run (page 1 first), read once per
    ``cache`` (a file attached twice, or indexed for its page documents and its record)."""
    if sha256 not in cache:
        run = work.current_run(conn, sha256)
        pages: list[str] = []
        for number, text in work.page_texts(conn, run["id"]) if run else []:
            pages += [""] * (number - 1 - len(pages))  # failed pages keep later numbers right
            pages.append(text)
        cache[sha256] = pages
    return cache[sha256]


def _document(key: str, record_id: int, attachment_id: int, page: int) -> tantivy.Document:
    doc = tantivy.Document()
    doc.add_text("key", key)
    doc.add_unsigned("record_id", record_id)
    doc.add_unsigned("attachment_id", attachment_id)
    doc.add_unsigned("page", page)
    return doc
