"""Adding files: a library inside the folder being added is never added to itself."""

from __future__ import annotations

from pathlib import Path

from textlens import Library
from textlens.samples import render_text_image


def test_add_each_skips_the_library_s_own_folder(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    render_text_image(["a photo"]).save(folder / "photo.png")
    lib = Library.init(folder / "my-library")
    try:
        records = lib.add_each(folder)
        assert [r.title for r in records] == ["photo.png"]
    finally:
        lib.close()
