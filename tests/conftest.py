"""Shared fixtures: a fresh library per test, and files rendered by the tests themselves."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PIL import Image

from tests.langserver import LangServer
from tests.plugins.engines import ALL as TEST_ENGINES
from textlens import Library
from textlens.samples import render_text_image, write_pdf


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the developer's own library or TEXTLENS_* settings."""
    import os

    for name in list(os.environ):
        if name.startswith("TEXTLENS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    # Language data downloads go to a cache of the test's own, never the user's.
    monkeypatch.setenv("TEXTLENS_CACHE_DIR", str(tmp_path / "cache"))


def new_test_library(path: Path) -> Library:
    """A new library at ``path`` with test engines available and quick commits."""
    lib = Library.init(path)
    lib.set_setting("plugins", TEST_ENGINES)
    lib.set_setting("commit_interval", "0.2")
    lib.set_setting("workers", "2")
    lib.set_setting("retry_backoff", "0")
    return lib


@pytest.fixture
def library(tmp_path: Path) -> Iterator[Library]:
    """A new library with test engines available and quick commits."""
    lib = new_test_library(tmp_path / "lib")
    yield lib
    lib.close()


@pytest.fixture
def text_image(tmp_path: Path) -> Callable[..., Path]:
    """Write an image of the given lines: ``text_image("name.png", ["line", ...])``."""

    def make(name: str, lines: list[str], **kwargs: object) -> Path:
        path = tmp_path / "files" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        image: Image.Image = render_text_image(lines, **kwargs)  # type: ignore[arg-type]
        fmt = {".jpg": "JPEG", ".jpeg": "JPEG", ".pnm": "PPM", ".ppm": "PPM"}.get(
            path.suffix.lower())
        image.save(path, fmt) if fmt else image.save(path)
        return path

    return make


@pytest.fixture
def pdf_file(tmp_path: Path) -> Callable[..., Path]:
    """Write a PDF whose pages are text layers (str) or scanned images (lists of lines)."""

    def make(name: str, pages: list[str | list[str]]) -> Path:
        path = tmp_path / "files" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        write_pdf(path, [p if isinstance(p, str) else render_text_image(p, font_size=40)
                         for p in pages])
        return path

    return make


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LangServer]:
    """A real HTTP server on loopback serving language data from ``server.folder``."""
    served = LangServer(tmp_path / "served")
    served.folder.mkdir()
    yield served
    served.stop()
