"""Records, attachments and file contents: the rows a user creates by adding files."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable

from ..types import AttachmentInfo, RecordInfo

_ATTACHMENT_COLUMNS = """
    a.id, a.record_id, a.name, a.path, a.linked, a.mime, a.size, a.sha256,
    c.state, c.reason, c.page_count
"""


def insert_record(conn: sqlite3.Connection, title: str, body: str, source: str | None) -> int:
    now = time.time()
    cur = conn.execute(
        "INSERT INTO records (title, body, source, created, updated) VALUES (?, ?, ?, ?, ?)",
        (title, body, source, now, now),
    )
    record_id = int(cur.lastrowid or 0)
    enqueue_index(conn, "record", record_id)
    return record_id


def ensure_content(
    conn: sqlite3.Connection, sha256: str, mime: str | None, size: int, skip_reason: str | None
) -> None:
    """Create the content row for a file's bytes, once per sha256."""
    state = "skipped" if skip_reason else "pending"
    cur = conn.execute(
        "INSERT OR IGNORE INTO contents (sha256, mime, size, state, reason, updated)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (sha256, mime, size, state, skip_reason, time.time()),
    )
    if cur.rowcount == 1 and not skip_reason:
        from .sync import adopt_kept_run  # OCR results kept from a bundle: no OCR needed

        adopt_kept_run(conn, sha256)


def insert_attachment(
    conn: sqlite3.Connection,
    record_id: int,
    *,
    name: str,
    path: str,
    linked: bool,
    mime: str | None,
    size: int,
    mtime: float,
    sha256: str,
) -> int:
    cur = conn.execute(
        "INSERT INTO attachments (record_id, name, path, linked, mime, size, mtime, sha256, added)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (record_id, name, path, int(linked), mime, size, mtime, sha256, time.time()),
    )
    attachment_id = int(cur.lastrowid or 0)
    enqueue_index(conn, "attachment", attachment_id)
    return attachment_id


def update_attachment_file(
    conn: sqlite3.Connection, attachment_id: int, *, size: int, mtime: float, sha256: str,
    mime: str | None,
) -> None:
    conn.execute(
        "UPDATE attachments SET size=?, mtime=?, sha256=?, mime=? WHERE id=?",
        (size, mtime, sha256, mime, attachment_id),
    )
    enqueue_index(conn, "attachment", attachment_id)


def touch_attachment_mtime(conn: sqlite3.Connection, attachment_id: int, mtime: float) -> None:
    conn.execute("UPDATE attachments SET mtime=? WHERE id=?", (mtime, attachment_id))


def records_by_id(conn: sqlite3.Connection, record_ids: list[int]) -> dict[int, sqlite3.Row]:
    """``{id: row(id, title, body)}`` in one query."""
    rows = conn.execute(
        "SELECT id, title, body FROM records WHERE id IN (SELECT value FROM json_each(?))",
        (json.dumps(record_ids),),
    )
    return {r["id"]: r for r in rows}


def has_records(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM records LIMIT 1").fetchone() is not None


def copy_in_use(conn: sqlite3.Connection, path: str) -> bool:
    """Whether any attachment still uses this copied file of the library's store."""
    return conn.execute(
        "SELECT 1 FROM attachments WHERE path=? AND linked=0 LIMIT 1", (path,)
    ).fetchone() is not None


def delete_record(conn: sqlite3.Connection, record_id: int) -> None:
    ids = [r[0] for r in conn.execute("SELECT id FROM attachments WHERE record_id=?", (record_id,))]
    conn.execute("DELETE FROM records WHERE id=?", (record_id,))
    enqueue_index(conn, "record", record_id)
    for attachment_id in ids:
        enqueue_index(conn, "attachment", attachment_id)


def delete_attachment(conn: sqlite3.Connection, attachment_id: int) -> None:
    conn.execute("DELETE FROM attachments WHERE id=?", (attachment_id,))
    enqueue_index(conn, "attachment", attachment_id)


def enqueue_index(conn: sqlite3.Connection, kind: str, ref: int) -> None:
    """Tell the search index that this record or attachment changed (same transaction)."""
    conn.execute("INSERT INTO index_outbox (kind, ref) VALUES (?, ?)", (kind, ref))


def _attachment(row: sqlite3.Row) -> AttachmentInfo:
    return AttachmentInfo(
        id=row["id"], record_id=row["record_id"], name=row["name"], path=row["path"],
        linked=bool(row["linked"]), mime=row["mime"], size=row["size"], sha256=row["sha256"],
        state=row["state"] or "pending", reason=row["reason"], pages=row["page_count"],
    )


def get_attachment(conn: sqlite3.Connection, attachment_id: int) -> AttachmentInfo | None:
    row = conn.execute(
        f"SELECT {_ATTACHMENT_COLUMNS} FROM attachments a"
        " LEFT JOIN contents c ON c.sha256 = a.sha256 WHERE a.id=?",
        (attachment_id,),
    ).fetchone()
    return _attachment(row) if row else None


def attachments_of(conn: sqlite3.Connection, record_ids: Iterable[int]) -> list[AttachmentInfo]:
    ids = list(record_ids)
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    rows = conn.execute(
        f"SELECT {_ATTACHMENT_COLUMNS} FROM attachments a"
        f" LEFT JOIN contents c ON c.sha256 = a.sha256 WHERE a.record_id IN ({marks})"
        " ORDER BY a.id",
        ids,
    )
    return [_attachment(r) for r in rows]


_RECORD_COLUMNS = "id, title, body, catalog_number, processing_status, collection"


def _record(row: sqlite3.Row, attachments: list[AttachmentInfo]) -> RecordInfo:
    return RecordInfo(row["id"], row["title"], row["body"], attachments,
                      catalog_number=row["catalog_number"],
                      processing_status=row["processing_status"], collection=row["collection"])


def get_record(conn: sqlite3.Connection, record_id: int) -> RecordInfo | None:
    row = conn.execute(f"SELECT {_RECORD_COLUMNS} FROM records WHERE id=?",
                       (record_id,)).fetchone()
    if not row:
        return None
    return _record(row, attachments_of(conn, [record_id]))


def list_records(conn: sqlite3.Connection, limit: int = 100, offset: int = 0) -> list[RecordInfo]:
    rows = conn.execute(
        f"SELECT {_RECORD_COLUMNS} FROM records ORDER BY id LIMIT ? OFFSET ?", (limit, offset)
    ).fetchall()
    by_record: dict[int, list[AttachmentInfo]] = {}
    for a in attachments_of(conn, [r["id"] for r in rows]):
        by_record.setdefault(a.record_id, []).append(a)
    return [_record(r, by_record.get(r["id"], [])) for r in rows]


def set_specimen_fields(
    conn: sqlite3.Connection, record_id: int, *, catalog_number: str | None,
    processing_status: str | None, collection: str,
) -> None:
    """Set a record's specimen fields (the catalog number must be free in the collection)."""
    conn.execute(
        "UPDATE records SET catalog_number=?, processing_status=?, collection=?, updated=?"
        " WHERE id=?",
        (catalog_number, processing_status, collection, time.time(), record_id),
    )
    enqueue_index(conn, "record", record_id)


def records_by_catalog_number(
    conn: sqlite3.Connection, catalog_number: str, collection: str | None = None
) -> list[int]:
    """Ids of the records with this catalog number: in one collection, or in any."""
    if collection is None:
        rows = conn.execute("SELECT id FROM records WHERE catalog_number=? ORDER BY id",
                            (catalog_number,))
    else:
        rows = conn.execute(
            "SELECT id FROM records WHERE catalog_number=? AND collection=? ORDER BY id",
            (catalog_number, collection))
    return [r[0] for r in rows]


def linked_attachments(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    return conn.execute(
        "SELECT id, record_id, path, size, mtime, sha256 FROM attachments WHERE linked=1"
    ).fetchall()


def attachments_with_source(conn: sqlite3.Connection, source: str) -> list[sqlite3.Row]:
    return conn.execute(
        "SELECT a.id, a.record_id, a.path, a.size, a.mtime, a.sha256 FROM attachments a"
        " JOIN records r ON r.id = a.record_id WHERE r.source=?",
        (source,),
    ).fetchall()
