"""Faults: engines that crash, hang or fail; retries and backoff; the search index catching up
after a crash between its two commits; and a scan killed with SIGKILL, then resumed."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.plugins.engines import ALL as TEST_ENGINES
from textlens import Library
from textlens.search.index import SearchIndex
from textlens.store import records as rec
from textlens.store import transaction

REPO_ROOT = Path(__file__).parents[1]


def _page_rows(library: Library, attachment_id: int) -> list[tuple]:
    sha = library.attachment(attachment_id).sha256
    return [tuple(r) for r in library.conn.execute(
        "SELECT page, state, attempts, next_attempt, error FROM pages WHERE sha256=?"
        " ORDER BY page", (sha,))]


def _outbox(library: Library) -> int:
    return library.conn.execute("SELECT COUNT(*) FROM index_outbox").fetchone()[0]


# --------------------------------------------------------------------------- misbehaving engines


def test_crash_engine_fails_one_page_and_the_run_goes_on(
    library: Library, text_image: Callable[..., Path]
) -> None:
    wide = text_image("wide.png", ["a wide page that crashes the engine"])
    tall = text_image("tall.png", ["tall", "page", "survives", "ok", "x", "y", "z"], font_size=40)
    wide_id = library.add([wide]).attachments[0].id
    tall_id = library.add([tall]).attachments[0].id
    library.set_setting("engine", "crash")
    library.set_setting("max_attempts", "1")

    report = library.scan()

    assert report.pages_done == 1
    assert report.pages_failed == 1
    status = library.status(failures=True)
    assert status["attachments"]["failed"] == 1
    assert status["attachments"]["done"] == 1
    assert library.attachment(tall_id).state == "done"
    assert library.ocr_text(tall_id)["pages"][0]["text"] == "survived"
    crashed = library.attachment(wide_id)
    assert crashed.state == "failed"
    assert "worker process died" in crashed.reason
    assert "exit code -11" in crashed.reason  # SIGSEGV
    assert [(f["attachment"], f["reason"]) for f in status["failures"]] == [
        (wide_id, crashed.reason)]


def test_workers_dying_on_every_job_stop_the_scan_with_a_clear_error(
    library: Library, text_image: Callable[..., Path]
) -> None:
    from textlens import EngineError

    for i in range(8):
        library.add([text_image(f"wide{i}.png", [f"wide page number {i} crashes"])])
    library.set_setting("engine", "crash")
    with pytest.raises(EngineError, match="died on .* jobs in a row"):
        library.scan()
    status = library.status()
    # The scan stopped early: some pages were never tried and are still queued.
    assert status["pages"]["pending"] + status["attachments"]["pending"] > 0
    assert status["pages"]["running"] == 0


def test_crash_engine_does_not_stop_other_files_in_a_bigger_scan(
    library: Library, text_image: Callable[..., Path]
) -> None:
    library.set_setting("engine", "crash")
    library.set_setting("max_attempts", "1")
    wide = [library.add([text_image(f"wide{n}.png", [f"wide page {n} crashes"])])
            .attachments[0].id for n in range(2)]
    tall = [library.add([text_image(f"tall{n}.png", ["tall", str(n), "a", "b", "c", "d"])])
            .attachments[0].id for n in range(3)]

    report = library.scan()

    assert (report.pages_done, report.pages_failed) == (3, 2)
    assert [library.attachment(i).state for i in wide] == ["failed", "failed"]
    assert [library.attachment(i).state for i in tall] == ["done", "done", "done"]


def test_hang_engine_is_stopped_at_the_page_time_limit(
    library: Library, text_image: Callable[..., Path]
) -> None:
    library.set_setting("engine", "hang")
    library.set_setting("page_timeout", "2")
    library.set_setting("max_attempts", "1")
    attachment_id = library.add([text_image("a.png", ["never read"])]).attachments[0].id

    started = time.monotonic()
    report = library.scan()
    elapsed = time.monotonic() - started

    assert elapsed < 15
    assert report.pages_failed == 1
    attachment = library.attachment(attachment_id)
    assert attachment.state == "failed"
    assert "page time limit (2 s)" in attachment.reason
    assert "page_timeout" in attachment.reason
    [(page, state, attempts, _, error)] = _page_rows(library, attachment_id)
    assert (page, state, attempts) == (1, "failed", 1)
    assert "time limit" in error


def test_fail_engine_failure_shows_the_engines_message(
    library: Library, text_image: Callable[..., Path]
) -> None:
    library.set_setting("engine", "fail")
    library.set_setting("max_attempts", "1")
    attachment_id = library.add([text_image("a.png", ["doomed"])]).attachments[0].id

    report = library.scan()

    attachment = library.attachment(attachment_id)
    assert attachment.state == "failed"
    assert attachment.reason == "page 1: the fail engine always fails"
    assert report.failures == [{"name": "a.png", "reason": attachment.reason}]
    assert library.ocr_text(attachment_id) == {"run": None, "pages": []}


# --------------------------------------------------------------------------- retries


def test_failing_page_is_retried_until_max_attempts(
    library: Library, text_image: Callable[..., Path]
) -> None:
    library.set_setting("engine", "fail")
    library.set_setting("max_attempts", "3")
    library.set_setting("retry_backoff", "0")
    attachment_id = library.add([text_image("a.png", ["doomed"])]).attachments[0].id

    for attempt in (1, 2, 3):
        report = library.scan()
        assert report.pages_failed == 1, attempt
        [(_, state, attempts, _, error)] = _page_rows(library, attachment_id)
        assert (state, attempts) == ("failed", attempt)
        assert error == "the fail engine always fails"
        assert library.attachment(attachment_id).state == "failed"

    for _ in range(2):  # attempts used up: never again
        report = library.scan()
        assert (report.pages_done, report.pages_failed, report.attachments_failed) == (0, 0, 0)
        [(_, state, attempts, _, _)] = _page_rows(library, attachment_id)
        assert (state, attempts) == ("failed", 3)


def test_backoff_delays_the_retry(library: Library, text_image: Callable[..., Path]) -> None:
    library.set_setting("engine", "fail")
    library.set_setting("max_attempts", "3")
    library.set_setting("retry_backoff", "3600")
    attachment_id = library.add([text_image("a.png", ["doomed"])]).attachments[0].id

    before = time.time()
    library.scan()
    [(_, state, attempts, next_attempt, _)] = _page_rows(library, attachment_id)
    assert (state, attempts) == ("failed", 1)
    assert before + 3600 <= next_attempt <= time.time() + 3600

    report = library.scan()

    assert (report.pages_done, report.pages_failed) == (0, 0)
    assert _page_rows(library, attachment_id)[0][2] == 1  # attempts did not grow

    # Once the backoff has passed, the page is tried again.
    library.conn.execute("UPDATE pages SET next_attempt=0")
    assert library.scan().pages_failed == 1
    assert _page_rows(library, attachment_id)[0][2] == 2


def test_non_retryable_engine_error_fails_the_page_once_without_retries(
    library: Library, text_image: Callable[..., Path]
) -> None:
    library.set_setting("max_attempts", "3")
    library.set_setting("retry_backoff", "0")
    refused = library.add([text_image("refused.png", ["rejected"])]).attachments[0].id
    failed = library.add([text_image("failed.png", ["flaky"])]).attachments[0].id
    library.ocr(f"a{refused}", engine="refuse")
    library.ocr(f"a{failed}", engine="fail")

    # The non-retryable error used up every attempt at once; the retryable one used one.
    [(_, state, attempts, _, error)] = _page_rows(library, refused)
    assert (state, attempts) == ("failed", 3)
    assert error == "the refuse engine rejects every page; retrying cannot help"
    assert _page_rows(library, failed)[0][1:3] == ("failed", 1)

    report = library.scan()  # backoff 0: only the retryable page is tried again

    assert (report.pages_done, report.pages_failed) == (0, 1)
    assert _page_rows(library, refused)[0][2] == 3
    assert _page_rows(library, failed)[0][2] == 2
    assert library.attachment(refused).reason == (
        "page 1: the refuse engine rejects every page; retrying cannot help")


def test_engine_error_keeps_its_retryable_flag_across_processes() -> None:
    import pickle

    from textlens import EngineError
    from textlens.pipeline.worker import _failure

    for retryable in (True, False):
        error = pickle.loads(pickle.dumps(EngineError("boom", retryable=retryable)))
        assert (str(error), error.retryable) == ("boom", retryable)
        assert _failure(error).permanent is not retryable
    assert EngineError("boom").retryable is True


def test_engines_are_told_the_page_timeout(
    library: Library, text_image: Callable[..., Path]
) -> None:
    library.set_setting("engine", "options")
    library.set_setting("page_timeout", "42")
    attachment_id = library.add([text_image("a.png", ["options"])]).attachments[0].id

    library.scan()

    assert library.ocr_text(attachment_id)["pages"][0]["text"] == "dpi=300 page_timeout=42.0"


def test_ocr_retries_a_page_whose_attempts_are_used_up(
    library: Library, text_image: Callable[..., Path]
) -> None:
    library.set_setting("engine", "fail")
    library.set_setting("max_attempts", "1")
    record = library.add([text_image("a.png", ["doomed"])])
    library.scan()
    assert library.attachment(record.attachments[0].id).state == "failed"

    report = library.ocr(record.id, engine="slow")

    assert report.pages_done == 1
    assert library.attachment(record.attachments[0].id).state == "done"


# --------------------------------------------------------------------------- index catch-up


def test_index_catches_up_after_a_crash_between_the_two_commits(
    library: Library, text_image: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    record = library.add([text_image("a.png", ["Tamarind chutney"], font_size=40)])
    with monkeypatch.context() as m:
        # The process "dies" after each database commit, before the index commit.
        m.setattr(SearchIndex, "catch_up", lambda self, conn, max_rows=None: 0)
        library.scan()
    assert library.attachment(record.attachments[0].id).state == "done"
    assert _outbox(library) > 0
    assert library.index.doc_count() == 0
    path = library.path
    library.close()

    with Library.open(path) as reopened:
        assert reopened.conn.execute("SELECT COUNT(*) FROM index_outbox").fetchone()[0] == 0
        assert reopened.index.doc_count() >= 2  # the record and its page
        results = reopened.search("tamarind")
        assert [hit.record_id for hit in results.results] == [record.id]
        assert results.results[0].attachments[0].pages[0].page == 1


def test_record_written_without_index_commit_is_found_after_reopening(
    library: Library
) -> None:
    with transaction(library.conn):
        record_id = rec.insert_record(library.conn, "Kumquat harvest notes", "picked 40 kg", None)
    assert _outbox(library) == 1
    path = library.path
    library.close()

    with Library.open(path) as reopened:
        assert reopened.conn.execute("SELECT COUNT(*) FROM index_outbox").fetchone()[0] == 0
        assert [h.record_id for h in reopened.search("kumquat").results] == [record_id]
        assert [h.record_id for h in reopened.search("picked").results] == [record_id]


def test_reindex_rebuilds_the_index_from_the_database(
    library: Library, text_image: Callable[..., Path]
) -> None:
    record = library.add([text_image("a.png", ["Elderflower cordial"], font_size=40)],
                         title="Summer drinks")
    library.scan()
    assert [h.record_id for h in library.search("elderflower").results] == [record.id]
    path = library.path
    # Empty the index behind the database's back (a damaged or stale index).
    writer = library.index.index.writer()
    writer.delete_all_documents()
    writer.commit()
    writer.wait_merging_threads()
    del writer
    library.close()

    with Library.open(path) as reopened:
        assert reopened.search("elderflower").results == []  # the index really is empty
        added = reopened.reindex()
        assert added == 2  # one record document, one page document
        assert _outbox(reopened) == 0
        assert [h.record_id for h in reopened.search("elderflower").results] == [record.id]
        assert [h.record_id for h in reopened.search("summer").results] == [record.id]


# --------------------------------------------------------------------------- kill -9 and resume


def _count(db: Path, sql: str) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return conn.execute(sql).fetchone()[0]
    finally:
        conn.close()


def _log_lines(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


@pytest.mark.slow
def test_scan_killed_with_sigkill_resumes_without_duplicates(
    tmp_path: Path, text_image: Callable[..., Path]
) -> None:
    files = 8
    lib_dir = tmp_path / "killlib"
    with Library.init(lib_dir) as library:
        for name, value in [("plugins", TEST_ENGINES), ("engine", "slow"), ("workers", "2"),
                            ("commit_interval", "0.2"), ("retry_backoff", "0")]:
            library.set_setting(name, value)
        for n in range(files):
            library.add([text_image(f"page{n}.png", [f"kill test page {n}"] + ["x"] * n)])
    db = lib_dir / "library.db"
    command = [str(Path(sys.executable).parent / "textlens"), "--library", str(lib_dir), "scan"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEXTLENS_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env["SLOW_ENGINE_SECONDS"] = "0.7"
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"

    process = subprocess.Popen(
        command, env={**env, "SLOW_ENGINE_LOG": str(first_log)}, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        done = 0
        while time.monotonic() < deadline:
            assert process.poll() is None, process.stderr.read().decode()  # type: ignore[union-attr]
            if db.with_name("library.db-wal").exists():
                done = _count(db, "SELECT COUNT(*) FROM ocr_pages")
                if done >= 2:
                    break
            time.sleep(0.05)
        assert 2 <= done < files, f"{done} pages done when the scan was to be killed"
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        process.stderr.close()  # type: ignore[union-attr]
    assert process.returncode == -signal.SIGKILL

    committed = _count(db, "SELECT COUNT(*) FROM ocr_pages")
    assert 2 <= committed < files
    assert _count(db, "SELECT COUNT(*) FROM contents WHERE state='done'") < files

    resumed = subprocess.run(
        command, env={**env, "SLOW_ENGINE_LOG": str(second_log)}, capture_output=True,
        timeout=120, start_new_session=True,
    )
    assert resumed.returncode == 0, resumed.stderr.decode()

    # Only the pages that were not committed were OCR'd again.
    assert _log_lines(second_log) == files - committed
    with Library.open(lib_dir) as library:
        attachments = [a for r in library.records() for a in r.attachments]
        assert len(attachments) == files
        assert {a.state for a in attachments} == {"done"}
        runs = library.conn.execute(
            "SELECT sha256, COUNT(*), SUM(complete) FROM ocr_runs GROUP BY sha256").fetchall()
        assert len(runs) == files
        assert all(tuple(r)[1:] == (1, 1) for r in runs), [tuple(r) for r in runs]
        assert library.conn.execute("SELECT COUNT(*) FROM ocr_pages").fetchone()[0] == files
        assert library.conn.execute(
            "SELECT COUNT(*) FROM pages WHERE state<>'done'").fetchone()[0] == 0
        status = library.status()
        assert status["attachments"]["done"] == files
        assert status["pages"]["done"] == files
        results = library.search("slowtext", limit=50)
        assert results.total == files
        assert len(results.results) == files


def test_a_deleted_index_folder_is_rebuilt_when_the_library_opens(
    library: Library, text_image: Callable[..., Path]
) -> None:
    library.add([text_image("kiwi.png", ["Kiwi birds at night"])])
    library.scan()
    assert library.search("kiwi").total == 1
    path = library.path
    library.close()
    shutil.rmtree(path / "index")
    reopened = Library.open(path)
    assert reopened.search("kiwi").total == 1
    reopened.close()
