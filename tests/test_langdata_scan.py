"""Scans and missing language data: the files that need it wait, pending with the reason and
their attempts untouched, the scan goes on with other work, and a later scan does them once
the data can be had. Language data comes from a real HTTP server on loopback."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.langserver import LangServer, put
from textlens import Library
from textlens.pipeline.scanner import Scanner
from textlens.store import transaction, work


@pytest.fixture
def lib(library: Library, server: LangServer) -> Library:
    """A library whose language data comes from the loopback server (which has eng only)."""
    put(server.folder, "eng")
    library.set_setting("engine", "lang")
    library.set_setting("langdata", server.url)
    library.set_setting("langdata_timeout", "0.5")
    return library


def content(lib: Library, attachment_id: int) -> dict:
    sha = lib.attachment(attachment_id).sha256
    return dict(lib.conn.execute("SELECT * FROM contents WHERE sha256=?", (sha,)).fetchone())


def test_missing_language_waits_and_a_later_scan_does_it(
        lib: Library, server: LangServer, text_image: Callable[..., Path]) -> None:
    english = lib.add([text_image("english.png", ["Hello"])]).attachments[0].id
    other = lib.add([text_image("other.png", ["Bonjour"])]).attachments[0].id

    report = lib.ocr(f"a{other}", languages="xyz")  # a per-file language nobody has

    assert report.pages_done == 0 and report.attachments_failed == 0
    assert [w["name"] for w in report.waiting] == ["other.png"]
    reason = report.waiting[0]["reason"]
    assert "no language data for xyz" in reason
    assert f"{server.url}/xyz.traineddata.gz: not found (HTTP 404)" in reason

    report = lib.scan()  # other work goes on; the waiting file is tried again, still missing

    assert report.attachments_done == 1 and report.attachments_waiting == 1
    assert lib.attachment(english).state == "done"
    assert lib.ocr_text(english)["run"]["model"] == f"eng best_int from {server.url}"
    row = content(lib, other)
    assert (row["state"], row["attempts"]) == ("pending", 0)
    assert "no language data for xyz" in row["reason"]
    status = lib.status(failures=True)
    assert status["waiting"] == 1
    assert [(f["name"], f["state"]) for f in status["failures"]] == [("other.png", "pending")]
    assert lib.attachment(other).reason == row["reason"]
    # `scan --watch` does not spin on it: it is due again only after WAIT_RECHECK seconds.
    assert not lib.has_work()
    assert work.has_due_work(lib.conn, time.time() + work.WAIT_RECHECK + 1, 3)

    put(server.folder, "xyz")
    report = lib.scan()

    assert (report.attachments_done, report.attachments_waiting) == (1, 0)
    assert lib.attachment(other).state == "done"
    assert lib.attachment(other).reason is None
    ocr = lib.ocr_text(other)
    assert ocr["pages"][0]["text"] == "langtext xyz"  # the worker was given the folder
    assert ocr["run"]["model"] == f"xyz best_int from {server.url}"
    assert lib.status()["waiting"] == 0


def test_pages_of_an_opened_file_wait_too(lib: Library, server: LangServer,
                                         text_image: Callable[..., Path]) -> None:
    attachment = lib.add([text_image("a.png", ["Hello"])]).attachments[0]
    with transaction(lib.conn):  # opened earlier, with a language that is gone now
        work.record_plan(lib.conn, attachment.sha256, ["ocr"], engine="lang",
                         engine_version="1.0", model="", languages="qqq", params={})

    report = lib.scan()

    assert report.attachments_waiting == 1 and report.pages_failed == 0
    page = lib.conn.execute("SELECT state, attempts, error FROM pages WHERE sha256=?",
                            (attachment.sha256,)).fetchone()
    assert (page["state"], page["attempts"]) == ("pending", 0)
    assert "no language data for qqq" in page["error"]
    assert lib.attachment(attachment.id).state == "pending"

    put(server.folder, "qqq")
    assert lib.scan().pages_done == 1
    assert lib.attachment(attachment.id).state == "done"


def test_a_pdf_with_a_text_layer_does_not_wait_for_language_data(
        lib: Library, pdf_file: Callable[..., Path]) -> None:
    lib.set_setting("languages", "xyz")
    pdf = lib.add([pdf_file("typed.pdf", ["A typed page with its own text layer"])])
    report = lib.scan()
    assert report.attachments_done == 1 and report.attachments_waiting == 0
    assert lib.attachment(pdf.attachments[0].id).state == "done"


def test_an_unreachable_source_never_hangs_the_scan(lib: Library, server: LangServer,
                                                   text_image: Callable[..., Path]) -> None:
    lib.set_setting("languages", "xyz")
    server.delay = 5.0
    lib.add([text_image("a.png", ["Hello"])])
    started = time.monotonic()
    report = lib.scan()
    assert time.monotonic() - started < 4
    assert report.attachments_waiting == 1
    assert "no answer within 0.5 s" in report.waiting[0]["reason"]


def test_tesseract_reads_a_fetched_language_end_to_end(
        library: Library, server: LangServer, text_image: Callable[..., Path]) -> None:
    library.set_setting("langdata", server.url)
    library.set_setting("langdata_timeout", "0.5")
    library.set_setting("languages", "xyz")  # English data under a name nobody has
    attachment = library.add([text_image("a.png", ["Lighthouse keeper"], font_size=40)])
    aid = attachment.attachments[0].id

    assert library.scan().attachments_waiting == 1
    put(server.folder, "xyz")
    assert library.scan().attachments_done == 1

    ocr = library.ocr_text(aid)
    assert "Lighthouse" in ocr["pages"][0]["text"]
    assert ocr["run"]["model"] == f"xyz best_int from {server.url}"


def test_a_silent_source_is_waited_for_once_per_scan(
        lib: Library, server: LangServer, text_image: Callable[..., Path],
        monkeypatch: pytest.MonkeyPatch) -> None:
    server.delay = 5.0  # accepts, and does not answer in time
    combinations = ["xyz", "abc", "qqq", "abc+xyz"]  # four (engine, languages) to get ready
    for n, languages in enumerate(combinations):
        sha = lib.add([text_image(f"{n}.png", [f"Hello {n}"])]).attachments[0].sha256
        with transaction(lib.conn):
            work.request_reocr(lib.conn, sha, None, languages)
    spent: list[float] = []
    get_ready = Scanner._get_engines_ready

    def timed(self: Scanner, *args: object) -> object:
        started = time.monotonic()
        try:
            return get_ready(self, *args)  # type: ignore[arg-type]
        finally:
            spent.append(time.monotonic() - started)

    monkeypatch.setattr(Scanner, "_get_engines_ready", timed)
    report = lib.scan()

    assert report.attachments_waiting == 4
    assert spent[0] < 2 * 0.5  # one timeout, not one per combination
    assert len(server.requests) == 1
    assert sum("did not answer just now" in w["reason"] for w in report.waiting) == 3


def test_an_engine_that_refuses_to_get_ready_fails_its_files_at_once(
        library: Library, text_image: Callable[..., Path]) -> None:
    library.set_setting("engine", "notready")
    new = library.add([text_image("new.png", ["Hello"])]).attachments[0]
    opened = library.add([text_image("opened.png", ["Bonjour"])]).attachments[0]
    with transaction(library.conn):  # opened by an earlier scan: its pages are queued
        work.record_plan(library.conn, opened.sha256, ["ocr"], engine="notready",
                         engine_version="1.0", model="", languages="eng", params={})

    report = library.scan()

    assert (report.attachments_failed, report.attachments_waiting) == (2, 0)
    for attachment in (new, opened):
        row = content(library, attachment.id)
        assert row["state"] == "failed"
        assert "the notready engine cannot serve these languages" in row["reason"]
    assert content(library, new.id)["attempts"] == library.settings.max_attempts
    page = library.conn.execute("SELECT state, attempts FROM pages WHERE sha256=?",
                                (opened.sha256,)).fetchone()
    assert (page["state"], page["attempts"]) == ("failed", library.settings.max_attempts)
    assert not library.has_work()  # not retried, and not waiting either


def test_an_engine_whose_prepare_breaks_is_retried_not_waiting(
        library: Library, text_image: Callable[..., Path]) -> None:
    library.set_setting("engine", "buggyprepare")
    attachment = library.add([text_image("a.png", ["Hello"])]).attachments[0]

    for attempt in (1, 2):
        report = library.scan()
        assert (report.attachments_failed, report.attachments_waiting) == (1, 0)
        row = content(library, attachment.id)
        assert (row["state"], row["attempts"]) == ("failed", attempt)
        assert "RuntimeError: a bug in prepare" in row["reason"]
    assert library.has_work()  # retried with backoff (0 s here) until max_attempts
