"""The `remote` engine against a real textlens server on loopback (and a slow stub server)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from tests.conftest import new_test_library
from tests.webserver import free_port, textlens_server
from textlens import Library
from textlens.engines import registry
from textlens.engines.remote import RemoteEngine, page_request_timeout
from textlens.errors import EngineError
from textlens.settings import Settings


@contextmanager
def slow_server(delay: float) -> Iterator[str]:
    """An HTTP server that waits ``delay`` seconds before answering anything."""

    class Slow(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server name
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            time.sleep(delay)
            try:
                self.send_response(503)
                self.end_headers()
            except OSError:
                pass  # the client gave up first

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def server_library(tmp_path: Path) -> Iterator[Path]:
    """The library of the OCR server (tesseract, its own settings)."""
    lib = new_test_library(tmp_path / "server-lib")
    path = lib.path
    lib.close()
    yield path


def _use_remote(library: Library, url: str, **settings: str) -> None:
    library.set_setting("engine", "remote")
    library.set_setting("remote_url", url)
    for name, value in settings.items():
        library.set_setting(name, value)


def _page_row(library: Library, attachment_id: int) -> tuple:
    sha = library.attachment(attachment_id).sha256
    [row] = library.conn.execute(
        "SELECT state, attempts, error FROM pages WHERE sha256=?", (sha,)).fetchall()
    return tuple(row)


def test_scan_ocrs_through_a_real_server_and_search_finds_the_word(
        library: Library, server_library: Path, text_image: Callable[..., Path]) -> None:
    attachment_id = library.add([text_image("label.png", ["Quercus robur"])]).attachments[0].id
    with textlens_server(server_library, token="s3cret") as url:
        _use_remote(library, url, remote_token="s3cret")
        report = library.scan()

    assert report.pages_done == 1, report
    assert library.attachment(attachment_id).state == "done"
    assert library.search("quercus").total == 1
    ocr = library.ocr_text(attachment_id)
    assert ocr["run"]["engine"] == "remote"
    assert ocr["run"]["model"] == url
    assert ocr["run"]["languages"] == "eng"
    [page] = ocr["pages"]
    assert "Quercus" in page["text"] and page["words"] >= 2
    assert page["width"] > 0 and page["height"] > 0


def test_server_down_leaves_the_page_to_be_retried(
        library: Library, text_image: Callable[..., Path]) -> None:
    attachment_id = library.add([text_image("a.png", ["Alpha"])]).attachments[0].id
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    _use_remote(library, url, max_attempts="3")

    started = time.monotonic()
    library.scan()
    state, attempts, error = _page_row(library, attachment_id)
    assert (state, attempts) == ("failed", 1)
    assert f"{url}/api/ocr did not answer" in error
    assert "stays queued and is retried" in error

    library.scan()  # retried (backoff 0), not given up
    assert _page_row(library, attachment_id)[:2] == ("failed", 2)
    assert time.monotonic() - started < 15


def test_slow_server_times_out_with_a_clear_reason(
        library: Library, text_image: Callable[..., Path]) -> None:
    attachment_id = library.add([text_image("a.png", ["Alpha"])]).attachments[0].id
    with slow_server(delay=3) as url:
        _use_remote(library, url, remote_timeout="0.5", max_attempts="3")
        started = time.monotonic()
        library.scan()
        elapsed = time.monotonic() - started
    state, attempts, error = _page_row(library, attachment_id)
    assert (state, attempts) == ("failed", 1)
    assert "did not answer within 0.5 s" in error and "remote_timeout" in error
    assert elapsed < 3


def test_wrong_token_fails_the_page_at_once(
        library: Library, server_library: Path, text_image: Callable[..., Path]) -> None:
    attachment_id = library.add([text_image("a.png", ["Alpha"])]).attachments[0].id
    with textlens_server(server_library, token="right") as url:
        _use_remote(library, url, remote_token="wrong", max_attempts="3")
        library.scan()
    state, attempts, error = _page_row(library, attachment_id)
    assert (state, attempts) == ("failed", 3)  # non-retryable: every attempt used at once
    assert "HTTP 401" in error and "remote_token" in error


def test_empty_remote_url_says_how_to_set_it(
        library: Library, text_image: Callable[..., Path]) -> None:
    attachment_id = library.add([text_image("a.png", ["Alpha"])]).attachments[0].id
    library.set_setting("engine", "remote")
    library.scan()
    assert library.attachment(attachment_id).state == "failed"
    assert "textlens config set remote_url" in (library.attachment(attachment_id).reason or "")
    with pytest.raises(EngineError) as caught:
        RemoteEngine.prepare(["eng"], Settings.load(library.path))
    assert not caught.value.retryable


def test_rejected_request_is_not_retried() -> None:
    def reply(status: int, body: dict[str, str]) -> httpx.MockTransport:
        return httpx.MockTransport(lambda request: httpx.Response(status, json=body))

    from PIL import Image

    options = {"remote_url": "http://ocr.test", "remote_timeout": 5.0, "page_timeout": 300.0}
    for status, retryable in ((413, False), (422, False), (429, True), (503, True)):
        engine = RemoteEngine()
        engine._client = httpx.Client(transport=reply(status, {"error": f"nope {status}"}))
        with pytest.raises(EngineError) as caught:
            engine.recognize(Image.new("L", (20, 10), 255), ["eng"], options)
        assert caught.value.retryable is retryable
        assert f"nope {status}" in str(caught.value)
        engine.close()


def test_request_timeout_stays_below_the_page_time_limit() -> None:
    assert page_request_timeout(60, 300) == 60
    assert page_request_timeout(60, 30) == 25
    assert 0 < page_request_timeout(60, 1) < 1
    assert registry.engine_class("remote") is RemoteEngine
