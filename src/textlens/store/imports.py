"""OCR text made elsewhere (``textlens import-ocr``), stored as runs with ``source='import'``."""

from __future__ import annotations

import json
import sqlite3
import time
from typing import Any

from . import wordboxes
from .work import _publish

IMPORT_METHOD = "import"


def store_import(
    conn: sqlite3.Connection, sha256: str, *, label: str, text: str, params: dict[str, Any]
) -> int:
    """Make ``text`` the current, complete run of these bytes (one page, no word boxes).

    An earlier import from the same ``label`` is replaced, never kept twice. Engine OCR not yet
    finished for these bytes is dropped (the imported text supersedes it); a finished engine run
    stays in the database but is no longer current. A later `textlens ocr` makes a new engine run
    that is newer, so it becomes current in turn (see work._CURRENT_RUN).
    """
    conn.execute("DELETE FROM ocr_runs WHERE sha256=? AND source='import' AND engine=?",
                 (sha256, label))
    conn.execute("DELETE FROM ocr_runs WHERE sha256=? AND complete=0 AND source<>'import'",
                 (sha256,))
    cur = conn.execute(
        "INSERT INTO ocr_runs (sha256, source, engine, engine_version, model, languages, params,"
        " created, complete) VALUES (?, 'import', ?, '', '', NULL, ?, ?, 1)",
        (sha256, label, json.dumps(params), time.time()),
    )
    run_id = int(cur.lastrowid or 0)
    # No boxes: the searcher snippets from the text of a page without words.
    words, boxes = wordboxes.encode([])
    conn.execute(
        "INSERT INTO ocr_pages (run_id, page, width, height, rotation, method, text, confidence,"
        " words, boxes) VALUES (?, 1, 0, 0, 0, ?, ?, -1.0, ?, ?)",
        (run_id, IMPORT_METHOD, text, words, boxes),
    )
    # Pages still waiting for an engine would otherwise be OCR'd into a run nobody shows.
    conn.execute("DELETE FROM pages WHERE sha256=? AND state<>'done'", (sha256,))
    conn.execute(
        "UPDATE contents SET state='done', reason=NULL, run_id=?, waiting_since=NULL, attempts=0,"
        " next_attempt=0, updated=? WHERE sha256=?",
        (run_id, time.time(), sha256),
    )
    _publish(conn, sha256)
    return run_id
