"""Batched writes for specimen records: what an import of 100,000 catalog rows needs in one go."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable


def specimens_in(conn: sqlite3.Connection, collection: str) -> dict[str, tuple[int, str | None]]:
    """``{catalog_number: (record id, processing status)}`` for every specimen of a collection."""
    rows = conn.execute(
        "SELECT catalog_number, id, processing_status FROM records"
        " WHERE collection=? AND catalog_number IS NOT NULL",
        (collection,),
    )
    return {r[0]: (r[1], r[2]) for r in rows}


def attached_contents(conn: sqlite3.Connection, collection: str) -> dict[int, set[str]]:
    """``{record id: sha256 of each attached file}`` for the specimens of a collection."""
    rows = conn.execute(
        "SELECT a.record_id, a.sha256 FROM attachments a JOIN records r ON r.id = a.record_id"
        " WHERE r.collection=? AND r.catalog_number IS NOT NULL",
        (collection,),
    )
    found: dict[int, set[str]] = {}
    for record_id, sha256 in rows:
        found.setdefault(record_id, set()).add(sha256)
    return found


def insert_specimens(
    conn: sqlite3.Connection, collection: str, specimens: Iterable[tuple[str, str | None]]
) -> None:
    """New records titled by their catalog number, ``(catalog_number, status)`` each, queued for
    the search index. One executemany: a row-by-row insert is what makes big imports slow."""
    now = time.time()
    high = conn.execute("SELECT COALESCE(MAX(id), 0) FROM records").fetchone()[0]
    conn.executemany(
        "INSERT INTO records (title, body, source, created, updated, catalog_number,"
        " processing_status, collection) VALUES (?, '', NULL, ?, ?, ?, ?, ?)",
        ((number, now, now, number, status, collection) for number, status in specimens),
    )
    conn.execute(
        "INSERT INTO index_outbox (kind, ref) SELECT 'record', id FROM records"
        " WHERE id > ? AND collection=? ORDER BY id",
        (high, collection),
    )


def set_statuses(conn: sqlite3.Connection, changes: Iterable[tuple[int, str | None]]) -> None:
    """``(record id, processing status)`` each. The status is not in the search index, so no
    outbox rows: re-importing 100,000 records with new statuses leaves no index backlog."""
    now = time.time()
    conn.executemany(
        "UPDATE records SET processing_status=?, updated=? WHERE id=?",
        ((status, now, record_id) for record_id, status in changes),
    )
