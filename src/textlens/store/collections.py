"""Queries over specimen records by processing status: OCR coverage counts and batch picks."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

NO_STATUS = "none"  # how a record without a processing status is named on the command line

# Per record: how many OCR-able files (images and PDFs; `skipped` files are neither) it has,
# and how many of them are done.
_COVERAGE = """
    SELECT r.id AS record_id, r.processing_status AS status,
           SUM(CASE WHEN c.sha256 IS NOT NULL AND c.state <> 'skipped' THEN 1 ELSE 0 END)
               AS images,
           SUM(CASE WHEN c.state = 'done' THEN 1 ELSE 0 END) AS done,
           SUM(CASE WHEN c.state = 'failed' THEN 1 ELSE 0 END) AS failed
    FROM records r
    LEFT JOIN attachments a ON a.record_id = r.id
    LEFT JOIN contents c ON c.sha256 = a.sha256
    WHERE (:collection IS NULL OR r.collection = :collection)
    GROUP BY r.id
"""


def coverage_by_status(conn: sqlite3.Connection, collection: str | None) -> list[dict[str, Any]]:
    """Per processing status: records, with images, all images OCR'd, some, none."""
    rows = conn.execute(
        f"SELECT status, COUNT(*) AS records,"
        f" SUM(images > 0) AS with_images,"
        f" SUM(images > 0 AND done = images) AS all_ocr,"
        f" SUM(done > 0 AND done < images) AS some_ocr,"
        f" SUM(images > 0 AND done = 0) AS no_ocr"
        f" FROM ({_COVERAGE}) GROUP BY status ORDER BY status IS NULL, status",
        {"collection": collection},
    )
    return [{"status": r["status"] if r["status"] is not None else NO_STATUS,
             "records": r["records"], "with_images": r["with_images"],
             "all_ocr": r["all_ocr"], "some_ocr": r["some_ocr"], "no_ocr": r["no_ocr"]}
            for r in rows]


def records_needing_ocr(
    conn: sqlite3.Connection, status: str, limit: int, collection: str | None
) -> list[int]:
    """Up to ``limit`` records in ``status`` (``none``: without one) with an image not OCR'd
    yet: oldest first, those whose only missing images failed before last."""
    where = "status IS NULL" if status == NO_STATUS else "status = :status"
    rows = conn.execute(
        f"SELECT record_id FROM ({_COVERAGE}) WHERE {where} AND done < images"
        # Records with images never tried come first: records whose images keep failing
        # must not take every place of every batch.
        " ORDER BY done + failed = images, record_id LIMIT :limit",
        {"collection": collection, "status": status, "limit": limit},
    )
    return [r[0] for r in rows]


def contents_to_do(conn: sqlite3.Connection, record_ids: list[int]) -> list[sqlite3.Row]:
    """The OCR-able files of these records that are not done: ``(sha256, state)`` rows."""
    return conn.execute(
        "SELECT DISTINCT c.sha256, c.state FROM attachments a JOIN contents c"
        " ON c.sha256 = a.sha256 WHERE a.record_id IN (SELECT value FROM json_each(?))"
        " AND c.state NOT IN ('done', 'skipped')",
        (json.dumps(record_ids),),
    ).fetchall()
