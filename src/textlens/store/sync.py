"""OCR runs moved between libraries (``textlens export-ocr`` / ``import-ocr-bundle``).

A bundled run is stored as it was made (same source, engine, languages, params, created), keyed
by content sha256 like any run. ``ocr_runs`` has no foreign key to ``contents``, so a run for
bytes this library does not hold yet is simply kept; `adopt_kept_run` makes it current when a
file with those bytes is added (called from records.ensure_content), so it needs no OCR.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ..types import Word
from . import wordboxes
from .work import _publish


@dataclass
class BundlePage:
    page: int
    width: int
    height: int
    rotation: int
    method: str
    text: str
    confidence: float | None
    extra_text: str
    words: list[Word] = field(default_factory=list)


@dataclass
class BundleRun:
    sha256: str
    source: str
    engine: str | None
    engine_version: str | None
    model: str | None
    languages: str | None
    params: str | None  # JSON text, as stored
    created: float
    pages: list[BundlePage] = field(default_factory=list)


def complete_runs(conn: sqlite3.Connection, since: float | None = None) -> Iterator[sqlite3.Row]:
    sql = "SELECT * FROM ocr_runs WHERE complete=1"
    args: tuple[Any, ...] = ()
    if since is not None:
        sql += " AND created >= ?"
        args = (since,)
    yield from conn.execute(sql + " ORDER BY id", args).fetchall()


def pages_of(conn: sqlite3.Connection, run_id: int) -> list[BundlePage]:
    rows = conn.execute(
        "SELECT page, width, height, rotation, method, text, confidence, extra_text, words,"
        " boxes FROM ocr_pages WHERE run_id=? ORDER BY page", (run_id,)).fetchall()
    return [BundlePage(r["page"], r["width"], r["height"], r["rotation"], r["method"], r["text"],
                       r["confidence"], r["extra_text"] or "",
                       wordboxes.decode(r["words"], r["boxes"])) for r in rows]


def identical_run(conn: sqlite3.Connection, run: BundleRun) -> int | None:
    """The id of a complete run already holding this bundled run, if any."""
    row = conn.execute(
        "SELECT id FROM ocr_runs WHERE sha256=? AND source=? AND engine IS ? AND"
        " engine_version IS ? AND model IS ? AND languages IS ? AND params IS ? AND created=?"
        " AND complete=1 ORDER BY id DESC LIMIT 1",
        (run.sha256, run.source, run.engine, run.engine_version, run.model, run.languages,
         run.params, run.created)).fetchone()
    return int(row["id"]) if row else None


def insert_run(conn: sqlite3.Connection, run: BundleRun) -> int:
    cur = conn.execute(
        "INSERT INTO ocr_runs (sha256, source, engine, engine_version, model, languages, params,"
        " created, complete) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1)",
        (run.sha256, run.source, run.engine, run.engine_version, run.model, run.languages,
         run.params, run.created))
    run_id = int(cur.lastrowid or 0)
    for p in run.pages:
        words, boxes = wordboxes.encode(p.words)
        conn.execute(
            "INSERT OR REPLACE INTO ocr_pages (run_id, page, width, height, rotation, method,"
            " text, confidence, words, boxes, extra_text) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
            " ?)",
            (run_id, p.page, p.width, p.height, p.rotation, p.method, p.text, p.confidence,
             words, boxes, p.extra_text))
    return run_id


def content_state(conn: sqlite3.Connection, sha256: str) -> str | None:
    row = conn.execute("SELECT state FROM contents WHERE sha256=?", (sha256,)).fetchone()
    return str(row["state"]) if row else None


def make_current(conn: sqlite3.Connection, sha256: str, run_id: int) -> None:
    """Make a complete run the one shown for these bytes: content done, its pages done, queued
    for the search index. Unfinished engine work is dropped (as store_import does), so a scan
    running meanwhile stores nothing into a run nobody shows."""
    conn.execute("DELETE FROM ocr_runs WHERE sha256=? AND complete=0 AND id<>?",
                 (sha256, run_id))
    pages = conn.execute("SELECT page, method FROM ocr_pages WHERE run_id=? ORDER BY page",
                         (run_id,)).fetchall()
    conn.execute("DELETE FROM pages WHERE sha256=?", (sha256,))
    conn.executemany(
        "INSERT INTO pages (sha256, page, method, state) VALUES (?, ?, ?, 'done')",
        [(sha256, r["page"], "text-layer" if r["method"] == "text-layer" else "ocr")
         for r in pages])
    conn.execute(
        "UPDATE contents SET state='done', reason=NULL, page_count=?, run_id=?,"
        " waiting_since=NULL, attempts=0, next_attempt=0, updated=? WHERE sha256=?",
        (len(pages), run_id, time.time(), sha256))
    _publish(conn, sha256)


def adopt_kept_run(conn: sqlite3.Connection, sha256: str) -> bool:
    """For bytes just added: if a complete run is already stored for them (from a bundle),
    make it current so no OCR is needed. True if one was adopted."""
    row = conn.execute(
        "SELECT r.id FROM ocr_runs r WHERE r.sha256=? AND r.complete=1 AND EXISTS"
        " (SELECT 1 FROM ocr_pages p WHERE p.run_id=r.id) ORDER BY r.id DESC LIMIT 1",
        (sha256,)).fetchone()
    if row is None:
        return False
    make_current(conn, sha256, int(row["id"]))
    return True


def params_text(params: Any) -> str | None:
    """Params as stored: the JSON text (None stays None)."""
    return None if params is None else json.dumps(params)
