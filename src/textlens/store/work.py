"""The OCR work queue (contents and pages) and the results it produces (runs and pages).

Only the scan coordinator calls the writing functions here, inside its batched transactions:
workers never touch the database.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..types import PageResult, Word
from . import wordboxes
from .records import enqueue_index

STATES = ("pending", "running", "done", "failed", "skipped")


@dataclass(frozen=True)
class ContentTodo:
    """A file's content waiting to be opened and split into pages."""

    sha256: str
    mime: str
    path: str
    linked: bool
    engine: str | None
    languages: str | None


@dataclass(frozen=True)
class PageTodo:
    """One page waiting for OCR (or for its text layer to be read)."""

    sha256: str
    page: int
    method: str
    mime: str
    path: str
    linked: bool
    run_id: int
    engine: str
    languages: str


# What a scan picks up: pages pending (or failed with tries left, once their wait is over), and
# files never opened yet (or whose opening failed with tries left). Only bytes that some
# attachment still uses count. Shared by the queries below and by `has_due_work`.
_PAGE_DUE = (
    "(p.state = 'pending' OR (p.state = 'failed' AND p.attempts < :max_attempts"
    " AND p.next_attempt <= :now)) AND EXISTS (SELECT 1 FROM attachments a"
    " WHERE a.sha256 = p.sha256)"
)
_CONTENT_DUE = (
    "c.page_count IS NULL AND c.next_attempt <= :now AND (c.state = 'pending'"
    " OR (c.state = 'failed' AND c.attempts < :max_attempts)) AND EXISTS"
    " (SELECT 1 FROM attachments a WHERE a.sha256 = c.sha256)"
)


# A file waiting for language data is looked at again by `scan --watch` and `watch` this many
# seconds after the last try (each try may wait on the network); `scan` itself tries at once.
WAIT_RECHECK = 60.0
_WAIT_OVER = "(c.waiting_since IS NULL OR c.updated <= :now - :recheck)"


def reset_running(conn: sqlite3.Connection) -> None:
    """Pages left `running` by a scan that died go back to `pending` (called under the lock)."""
    conn.execute("UPDATE pages SET state='pending' WHERE state='running'")
    conn.execute("UPDATE contents SET state='pending' WHERE state='running'")


def _path_select(alias: str = "c") -> str:
    # Any attachment holding these bytes will do; prefer copies in the library (stable).
    return (
        f"(SELECT a.path || char(0) || a.linked FROM attachments a WHERE a.sha256={alias}.sha256"
        " ORDER BY a.linked, a.id LIMIT 1)"
    )


def _split_path(value: str | None) -> tuple[str, bool]:
    path, _, linked = (value or "").rpartition("\0")
    return path, linked == "1"


def contents_to_plan(
    conn: sqlite3.Connection, now: float, max_attempts: int, only: Iterable[str] | None = None
) -> list[ContentTodo]:
    sql = (f"SELECT c.sha256, c.mime, c.engine, c.languages, {_path_select()} AS loc"
           f" FROM contents c WHERE {_CONTENT_DUE}")
    args: dict[str, Any] = {"now": now, "max_attempts": max_attempts}
    if only is not None:
        sql += " AND c.sha256 IN (SELECT value FROM json_each(:only))"
        args["only"] = json.dumps(list(only))
    todo = []
    for row in conn.execute(sql + " ORDER BY c.rowid", args):
        path, linked = _split_path(row["loc"])
        todo.append(
            ContentTodo(row["sha256"], row["mime"], path, linked, row["engine"], row["languages"])
        )
    return todo


def pages_to_run(
    conn: sqlite3.Connection, now: float, max_attempts: int, only: Iterable[str] | None = None
) -> list[PageTodo]:
    sql = (
        f"SELECT p.sha256, p.page, p.method, c.mime, r.id AS run_id, r.engine, r.languages,"
        f" {_path_select()} AS loc"
        " FROM pages p JOIN contents c ON c.sha256 = p.sha256 JOIN ocr_runs r ON r.id = c.run_id"
        f" WHERE {_PAGE_DUE}"
    )
    args: dict[str, Any] = {"now": now, "max_attempts": max_attempts}
    if only is not None:
        sql += " AND p.sha256 IN (SELECT value FROM json_each(:only))"
        args["only"] = json.dumps(list(only))
    todo = []
    for row in conn.execute(sql + " ORDER BY c.rowid, p.page", args):
        path, linked = _split_path(row["loc"])
        todo.append(
            PageTodo(
                row["sha256"], row["page"], row["method"], row["mime"], path, linked,
                row["run_id"], row["engine"], row["languages"],
            )
        )
    return todo


def has_due_work(conn: sqlite3.Connection, now: float, max_attempts: int) -> bool:
    """Whether a scan now would have anything to do (cheap: stops at the first row); files
    waiting for language data count again WAIT_RECHECK seconds after their last try."""
    args = {"now": now, "max_attempts": max_attempts, "recheck": WAIT_RECHECK}
    return bool(
        conn.execute(f"SELECT 1 FROM pages p JOIN contents c ON c.sha256 = p.sha256"
                     f" WHERE {_PAGE_DUE} AND {_WAIT_OVER} LIMIT 1", args).fetchone()
        or conn.execute(f"SELECT 1 FROM contents c WHERE {_CONTENT_DUE} AND {_WAIT_OVER}"
                        " LIMIT 1", args).fetchone()
    )


def mark_waiting(conn: sqlite3.Connection, reasons: dict[str, str]) -> None:
    """These files (``{sha256: reason}``) wait: pending, with the reason on the file and on
    its pending pages, attempts untouched, so the next scan tries them again."""
    now = time.time()
    for sha256, reason in reasons.items():
        conn.execute(
            "UPDATE contents SET state='pending', reason=?, waiting_since=COALESCE("
            "waiting_since, ?), updated=? WHERE sha256=? AND state<>'skipped'",
            (reason, now, now, sha256),
        )
        conn.execute("UPDATE pages SET error=? WHERE sha256=? AND state='pending'",
                     (reason, sha256))


def clear_waiting(conn: sqlite3.Connection, shas: Iterable[str]) -> None:
    """These files no longer wait (their work is going out)."""
    args = (json.dumps(list(shas)),)
    conn.execute("UPDATE contents SET waiting_since=NULL, reason=NULL WHERE waiting_since IS"
                 " NOT NULL AND sha256 IN (SELECT value FROM json_each(?))", args)
    conn.execute("UPDATE pages SET error=NULL WHERE state='pending' AND error IS NOT NULL"
                 " AND sha256 IN (SELECT value FROM json_each(?))", args)


def language_overrides(conn: sqlite3.Connection) -> list[str]:
    """The distinct per-file languages (``ocr ID --languages``) of files in the library."""
    return [r[0] for r in conn.execute(
        "SELECT DISTINCT languages FROM contents WHERE languages IS NOT NULL AND sha256 IN"
        " (SELECT sha256 FROM attachments) ORDER BY languages")]


def record_plan(
    conn: sqlite3.Connection,
    sha256: str,
    methods: list[str],
    *,
    engine: str | None,
    engine_version: str,
    model: str,
    languages: str | None,
    params: dict[str, Any],
) -> int:
    """Store how a document splits into pages, and open the run its pages will fill."""
    source = "text-layer" if methods and all(m == "text-layer" for m in methods) else "engine"
    cur = conn.execute(
        "INSERT INTO ocr_runs (sha256, source, engine, engine_version, model, languages, params,"
        " created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (sha256, source, engine, engine_version, model, languages, json.dumps(params), time.time()),
    )
    run_id = int(cur.lastrowid or 0)
    conn.execute("DELETE FROM pages WHERE sha256=?", (sha256,))
    conn.executemany(
        "INSERT INTO pages (sha256, page, method, state) VALUES (?, ?, ?, 'pending')",
        [(sha256, i, m) for i, m in enumerate(methods, start=1)],
    )
    conn.execute(
        "UPDATE contents SET page_count=?, run_id=?, state='running', reason=NULL, attempts=0,"
        " updated=? WHERE sha256=?",
        (len(methods), run_id, time.time(), sha256),
    )
    if not methods:
        finish_contents(conn, [sha256])
    return run_id


def record_plan_failure(
    conn: sqlite3.Connection, sha256: str, reason: str, *, permanent: bool, max_attempts: int,
    backoff: float,
) -> None:
    row = conn.execute("SELECT attempts FROM contents WHERE sha256=?", (sha256,)).fetchone()
    attempts, retry_at = _next_try(row["attempts"] if row else 0, permanent, max_attempts, backoff)
    conn.execute(
        "UPDATE contents SET state='failed', reason=?, attempts=?, next_attempt=?, updated=?"
        " WHERE sha256=?",
        (reason, attempts, retry_at, time.time(), sha256),
    )
    _publish(conn, sha256)


def _next_try(attempts: int, permanent: bool, max_attempts: int,
              backoff: float) -> tuple[int, float]:
    """Attempts after one more failure, and when to try again: ``backoff`` doubled per
    earlier failure. A permanent failure uses up every attempt at once."""
    attempts = max_attempts if permanent else attempts + 1
    return attempts, time.time() + backoff * 2 ** max(attempts - 1, 0)


def attachment_names(conn: sqlite3.Connection, sha256: str) -> list[str]:
    return [r[0] for r in conn.execute(
        "SELECT name FROM attachments WHERE sha256=? ORDER BY id", (sha256,))]


def _publish(conn: sqlite3.Connection, sha256: str) -> None:
    """Queue every attachment holding these bytes for the search index."""
    for (attachment_id,) in conn.execute(
        "SELECT id FROM attachments WHERE sha256=?", (sha256,)
    ).fetchall():
        enqueue_index(conn, "attachment", attachment_id)


def mark_running(conn: sqlite3.Connection, keys: Iterable[tuple[str, int]]) -> None:
    keys = list(keys)
    conn.executemany("UPDATE pages SET state='running' WHERE sha256=? AND page=?", keys)
    conn.executemany(
        "UPDATE contents SET state='running' WHERE sha256=?", {(k[0],) for k in keys}
    )


def store_page_result(
    conn: sqlite3.Connection, run_id: int, sha256: str, page: int, result: PageResult
) -> bool:
    """Store one page's result in its run; False (and nothing stored) if the file was queued
    again meanwhile, so its old run is gone."""
    current = conn.execute("SELECT run_id FROM contents WHERE sha256=?", (sha256,)).fetchone()
    if current is None or current["run_id"] != run_id:
        return False
    words, boxes = wordboxes.encode(result.words)
    conn.execute(
        "INSERT OR REPLACE INTO ocr_pages (run_id, page, width, height, rotation, method, text,"
        " confidence, words, boxes, extra_text) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            run_id, page, result.width, result.height, result.rotation, result.method,
            result.text, result.confidence, words, boxes, result.extra_text,
        ),
    )
    conn.execute(
        "UPDATE pages SET state='done', error=NULL WHERE sha256=? AND page=?", (sha256, page)
    )
    return True


def store_page_failure(
    conn: sqlite3.Connection, sha256: str, page: int, reason: str, *, permanent: bool,
    max_attempts: int, backoff: float,
) -> None:
    row = conn.execute(
        "SELECT attempts FROM pages WHERE sha256=? AND page=?", (sha256, page)
    ).fetchone()
    attempts, retry_at = _next_try(row["attempts"] if row else 0, permanent, max_attempts, backoff)
    conn.execute(
        "UPDATE pages SET state='failed', error=?, attempts=?, next_attempt=?"
        " WHERE sha256=? AND page=?",
        (reason, attempts, retry_at, sha256, page),
    )


def finish_contents(conn: sqlite3.Connection, shas: Iterable[str]) -> dict[str, tuple[str, str]]:
    """Settle each content's state from its pages and publish finished ones to the index;
    return ``{sha256: (state, reason)}`` for those that finished (done or failed)."""
    settled: dict[str, tuple[str, str]] = {}
    for sha256 in set(shas):
        counts = dict(
            conn.execute(
                "SELECT state, COUNT(*) FROM pages WHERE sha256=? GROUP BY state", (sha256,)
            ).fetchall()
        )
        if counts.get("pending") or counts.get("running"):
            continue
        content = conn.execute(
            "SELECT run_id FROM contents WHERE sha256=?", (sha256,)
        ).fetchone()
        if content is None:
            continue
        if counts.get("failed"):
            failed = conn.execute(
                "SELECT page, error FROM pages WHERE sha256=? AND state='failed' ORDER BY page",
                (sha256,),
            ).fetchall()
            first = failed[0]
            more = f" (and {len(failed) - 1} more pages)" if len(failed) > 1 else ""
            reason = f"page {first['page']}: {first['error']}{more}"
            conn.execute(
                "UPDATE contents SET state='failed', reason=?, updated=? WHERE sha256=?",
                (reason, time.time(), sha256),
            )
            settled[sha256] = ("failed", reason)
        else:
            run_id = content["run_id"]
            conn.execute("UPDATE ocr_runs SET complete=1 WHERE id=?", (run_id,))
            # The new run replaces earlier engine/text-layer runs: nothing is stored twice.
            conn.execute(
                "DELETE FROM ocr_runs WHERE sha256=? AND id<>? AND source IN"
                " ('engine', 'text-layer')",
                (sha256, run_id),
            )
            conn.execute(
                "UPDATE contents SET state='done', reason=NULL, updated=? WHERE sha256=?",
                (time.time(), sha256),
            )
            settled[sha256] = ("done", "")
        _publish(conn, sha256)
    return settled


def request_reocr(
    conn: sqlite3.Connection, sha256: str, engine: str | None, languages: str | None
) -> None:
    """Queue a content for OCR again (optionally with another engine or languages)."""
    conn.execute(
        "DELETE FROM ocr_runs WHERE sha256=? AND complete=0 AND source<>'import'", (sha256,)
    )
    conn.execute("DELETE FROM pages WHERE sha256=?", (sha256,))
    conn.execute(
        "UPDATE contents SET state='pending', reason=NULL, page_count=NULL, run_id=NULL,"
        " waiting_since=NULL, attempts=0, next_attempt=0, engine=COALESCE(?, engine),"
        " languages=COALESCE(?, languages), updated=? WHERE sha256=? AND state<>'skipped'",
        (engine, languages, time.time(), sha256),
    )


# The run whose text a reader sees: the newest complete one, else the newest partial one.
_CURRENT_RUN = (
    "SELECT {columns} FROM ocr_runs r WHERE r.sha256 = {sha256} AND EXISTS"
    " (SELECT 1 FROM ocr_pages p WHERE p.run_id = r.id)"
    " ORDER BY r.complete DESC, r.id DESC LIMIT 1"
)


def current_run(conn: sqlite3.Connection, sha256: str) -> sqlite3.Row | None:
    """The run whose text a reader sees for these bytes (see _CURRENT_RUN)."""
    return conn.execute(_CURRENT_RUN.format(columns="*", sha256="?"), (sha256,)).fetchone()


def attachments_with_current_run(
    conn: sqlite3.Connection, attachment_ids: list[int]
) -> dict[int, sqlite3.Row]:
    """``{attachment id: row(id, name, run_id)}`` in one query."""
    sql = (f"SELECT a.id, a.name, ({_CURRENT_RUN.format(columns='r.id', sha256='a.sha256')})"
           " AS run_id FROM attachments a WHERE a.id IN (SELECT value FROM json_each(?))")
    return {r["id"]: r for r in conn.execute(sql, (json.dumps(attachment_ids),))}


def pages_for_display(
    conn: sqlite3.Connection, keys: list[tuple[int, int]]
) -> dict[tuple[int, int], sqlite3.Row]:
    """``{(run, page): row(page, text, words, boxes)}`` in one query; the page text is only
    read for an engine that gave text without words (otherwise the words say it all)."""
    rows = conn.execute(
        "SELECT p.run_id, p.page, CASE WHEN p.words = '' THEN p.text ELSE '' END AS text,"
        " p.words, p.boxes FROM json_each(?) AS k JOIN ocr_pages p"
        " ON p.run_id = json_extract(k.value, '$[0]') AND p.page = json_extract(k.value, '$[1]')",
        (json.dumps(keys),),
    )
    return {(r["run_id"], r["page"]): r for r in rows}


_PAGE_COLUMNS = "page, width, height, rotation, method, text, confidence, words, extra_text"


def run_pages(conn: sqlite3.Connection, run_id: int) -> list[sqlite3.Row]:
    return conn.execute(
        f"SELECT {_PAGE_COLUMNS} FROM ocr_pages WHERE run_id=? ORDER BY page", (run_id,)
    ).fetchall()


def run_page(conn: sqlite3.Connection, run_id: int, page: int) -> sqlite3.Row | None:
    """One page of a run (as run_pages gives them), without reading the others."""
    return conn.execute(  # type: ignore[no-any-return]
        f"SELECT {_PAGE_COLUMNS} FROM ocr_pages WHERE run_id=? AND page=?", (run_id, page)
    ).fetchone()


def page_texts(conn: sqlite3.Connection, run_id: int) -> list[tuple[int, str]]:
    """``[(page, text)]`` of a run, for the index: an engine's text (or its words if it gave
    no text), followed by the words only another pass read."""
    return [(r[0], f"{r[1]}\n{r[2]}" if r[2] else r[1]) for r in conn.execute(
        "SELECT page, CASE WHEN text = '' THEN replace(words, char(10), ' ') ELSE text END,"
        " extra_text FROM ocr_pages WHERE run_id=? ORDER BY page", (run_id,))]


def page_words(conn: sqlite3.Connection, run_id: int, page: int) -> list[Word]:
    row = conn.execute(
        "SELECT words, boxes FROM ocr_pages WHERE run_id=? AND page=?", (run_id, page)
    ).fetchone()
    return wordboxes.decode(row["words"], row["boxes"]) if row else []


def status_counts(conn: sqlite3.Connection) -> dict[str, Any]:
    """Attachments and pages by state, as `textlens status` shows them."""
    attachments = dict.fromkeys(STATES, 0)
    for state, n in conn.execute(
        "SELECT COALESCE(c.state, 'pending'), COUNT(*) FROM attachments a"
        " LEFT JOIN contents c ON c.sha256 = a.sha256 GROUP BY 1"
    ):
        attachments[state] = attachments.get(state, 0) + n
    pages = dict.fromkeys(STATES, 0)
    for state, n in conn.execute(
        # Pages belong to contents: a file attached twice is one set of pages.
        "SELECT state, COUNT(*) FROM pages WHERE sha256 IN (SELECT sha256 FROM attachments)"
        " GROUP BY 1"
    ):
        pages[state] = pages.get(state, 0) + n
    records = conn.execute("SELECT COUNT(*) FROM records").fetchone()[0]
    backlog = conn.execute("SELECT COUNT(*) FROM index_outbox").fetchone()[0]
    waiting = conn.execute(
        "SELECT COUNT(*) FROM attachments a JOIN contents c ON c.sha256 = a.sha256"
        " WHERE c.waiting_since IS NOT NULL AND c.state = 'pending'").fetchone()[0]
    return {"attachments": attachments, "pages": pages, "records": records,
            "index_backlog": backlog, "waiting": waiting}


def skipped_count(conn: sqlite3.Connection) -> int:
    """Skipped attachments (not images or PDFs) in the library."""
    return int(conn.execute(
        "SELECT COUNT(*) FROM attachments a JOIN contents c ON c.sha256 = a.sha256"
        " WHERE c.state = 'skipped'").fetchone()[0])


def failures(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Failed and skipped files, and pending ones waiting (e.g. for language data), with why."""
    rows = conn.execute(
        "SELECT a.id, a.name, c.state, c.reason FROM attachments a"
        " JOIN contents c ON c.sha256 = a.sha256 WHERE c.state IN ('failed', 'skipped')"
        " OR (c.state = 'pending' AND c.waiting_since IS NOT NULL) ORDER BY a.id"
    )
    return [
        {"attachment": r["id"], "name": r["name"], "state": r["state"], "reason": r["reason"]}
        for r in rows
    ]
