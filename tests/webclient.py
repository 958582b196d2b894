"""Helpers shared by the in-process web tests: uploads, polling with a bound, and a client."""

from __future__ import annotations

import io
import re
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from fastapi.testclient import TestClient

from textlens.web import create_app

# Without a token the app only answers loopback Host names.
BASE_URL = "http://127.0.0.1"

T = TypeVar("T")


def make_client(library_path: Path, **kwargs: Any) -> TestClient:
    """A client over a new app; use it as a context manager so the OCR thread runs."""
    kwargs.setdefault("background", False)
    return TestClient(create_app(library_path, **kwargs), base_url=BASE_URL)


def upload(path: Path, field: str = "files") -> tuple[str, tuple[str, bytes, str]]:
    return (field, (path.name, path.read_bytes(), "application/octet-stream"))


def wait_for(condition: Callable[[], T | None], timeout: float = 30.0,
             every: float = 0.05, what: str = "condition") -> T:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


def wait_for_job(client: TestClient, location: str, timeout: float = 30.0) -> dict[str, Any]:
    """Poll a job (its Location) until it is done or failed; the job's JSON."""

    def finished() -> dict[str, Any] | None:
        job = client.get(location)
        assert job.status_code == 200, job.text
        return job.json() if job.json()["state"] in ("done", "failed") else None

    return wait_for(finished, timeout, what=f"job {location}")


def make_zip(files: dict[str, bytes | str]) -> bytes:
    """A zip archive in memory holding these members."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buffer.getvalue()


def csrf_from(page: str) -> str:
    """The CSRF token in a page's hidden form field."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "no csrf_token field in the page"
    return found.group(1)
