"""Keeping a folder in the library: `sync_folder` (one reconcile pass) and `watch_folder`."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from rich.progress import Progress

from textlens import Library, NotFoundError
from textlens.samples import render_text_image
from textlens.workflows.watch import SETTLE_SECONDS, sync_folder, watch_folder


def put_image(path: Path, lines: list[str], *, age: float | None = 100.0) -> Path:
    """Write an image; with ``age``, date its mtime that many seconds back (so it has settled)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    render_text_image(lines, font_size=36).save(path)
    if age is not None:
        settle(path, age)
    return path


def settle(path: Path, age: float) -> None:
    then = time.time() - age
    os.utime(path, (then, then))


def watched(lib: Library, folder: Path) -> dict[str, Any]:
    """Records created for ``folder``: title -> row (id, source, attachment path, linked)."""
    rows = lib.conn.execute(
        "SELECT r.id, r.title, r.source, a.id AS attachment_id, a.path, a.linked, a.sha256"
        " FROM records r JOIN attachments a ON a.record_id = r.id WHERE r.source = ?",
        (f"watch:{folder.resolve()}",),
    ).fetchall()
    return {r["title"]: r for r in rows}


def found(lib: Library, query: str) -> set[int]:
    return {h.record_id for h in lib.search(query).results}


def test_new_files_become_linked_records(library: Library, tmp_path: Path) -> None:
    folder = tmp_path / "inbox"
    a = put_image(folder / "a.png", ["Albatross"])
    b = put_image(folder / "sub" / "b.png", ["Bittern"])
    put_image(folder / ".cache" / "c.png", ["Hidden"])
    put_image(folder / ".d.png", ["Hidden"])
    counts = sync_folder(library, folder)
    assert counts == {"added": 2, "updated": 0, "removed": 0, "waiting": 0, "problems": {}}
    rows = watched(library, folder)
    assert set(rows) == {"a.png", "sub/b.png"}
    for row, path in ((rows["a.png"], a), (rows["sub/b.png"], b)):
        assert row["source"] == f"watch:{folder.resolve()}"
        assert row["linked"] == 1
        assert row["path"] == str(path.resolve())
    assert not [p for p in (library.path / "files").rglob("*") if p.is_file()]
    # A second pass changes nothing.
    assert sync_folder(library, folder) == (
        {"added": 0, "updated": 0, "removed": 0, "waiting": 0, "problems": {}}
    )
    assert len(library.records()) == 2


def test_watched_files_are_searchable_after_scan(library: Library, tmp_path: Path) -> None:
    folder = tmp_path / "inbox"
    put_image(folder / "a.png", ["Albatross migration"])
    sync_folder(library, folder)
    library.scan()
    [record_id] = found(library, "albatross")
    assert library.record(record_id).title == "a.png"


def test_recently_modified_files_wait_until_they_settle(library: Library, tmp_path: Path) -> None:
    folder = tmp_path / "inbox"
    put_image(folder / "old.png", ["Old"])
    fresh = put_image(folder / "fresh.png", ["Fresh"], age=None)
    counts = sync_folder(library, folder)
    assert counts["added"] == 1
    assert counts["waiting"] == 1
    assert set(watched(library, folder)) == {"old.png"}
    settle(fresh, SETTLE_SECONDS + 1)
    assert sync_folder(library, folder)["added"] == 1
    assert set(watched(library, folder)) == {"old.png", "fresh.png"}


def test_changed_file_is_rehashed_and_ocrd_again(library: Library, tmp_path: Path) -> None:
    folder = tmp_path / "inbox"
    path = put_image(folder / "page.png", ["Albatross migration"], age=200)
    sync_folder(library, folder)
    library.scan()
    before = watched(library, folder)["page.png"]
    assert found(library, "albatross") == {before["id"]}

    put_image(path, ["Puffin colony"], age=100)
    counts = sync_folder(library, folder)
    assert counts == {"added": 0, "updated": 1, "removed": 0, "waiting": 0, "problems": {}}
    after = watched(library, folder)["page.png"]
    assert (after["id"], after["attachment_id"]) == (before["id"], before["attachment_id"])
    assert after["sha256"] != before["sha256"]
    assert library.attachment(after["attachment_id"]).state == "pending"
    # The old text left the index with the old content.
    assert found(library, "albatross") == set()

    report = library.scan()
    assert report.pages_done == 1
    assert found(library, "puffin") == {before["id"]}
    assert found(library, "albatross") == set()
    assert "Puffin" in library.ocr_text(after["attachment_id"])["pages"][0]["text"]


def test_touched_but_unchanged_file_is_not_ocrd_again(library: Library, tmp_path: Path) -> None:
    folder = tmp_path / "inbox"
    path = put_image(folder / "page.png", ["Albatross"], age=200)
    sync_folder(library, folder)
    library.scan()
    settle(path, 50)  # new mtime, same bytes
    assert sync_folder(library, folder)["updated"] == 0
    assert library.scan().pages_done == 0
    assert sync_folder(library, folder)["updated"] == 0  # the new mtime was remembered


def test_deleted_file_leaves_library_and_index(library: Library, tmp_path: Path) -> None:
    folder = tmp_path / "inbox"
    gone = put_image(folder / "gone.png", ["Albatross"])
    put_image(folder / "kept.png", ["Cormorant"])
    sync_folder(library, folder)
    library.scan()
    gone_id = watched(library, folder)["gone.png"]["id"]
    assert found(library, "albatross") == {gone_id}

    gone.unlink()
    counts = sync_folder(library, folder)
    assert counts == {"added": 0, "updated": 0, "removed": 1, "waiting": 0, "problems": {}}
    assert set(watched(library, folder)) == {"kept.png"}
    with pytest.raises(NotFoundError):
        library.record(gone_id)
    assert found(library, "albatross") == set()
    assert len(found(library, "cormorant")) == 1
    with Library.open(library.path) as other:  # a fresh connection and index reader agree
        assert other.search("albatross").total == 0


def test_removing_the_whole_folder_empties_its_records(library: Library, tmp_path: Path) -> None:
    folder = tmp_path / "inbox"
    for name in ("a.png", "b.png"):
        put_image(folder / name, ["Albatross"])
    other = library.add([put_image(tmp_path / "other.png", ["Albatross"])]).id
    sync_folder(library, folder)
    for p in folder.iterdir():
        p.unlink()
    assert sync_folder(library, folder)["removed"] == 2
    assert [r.id for r in library.records()] == [other]  # records of other sources stay


def test_sync_of_a_relative_folder_matches_the_absolute_one(
    library: Library, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    put_image(tmp_path / "inbox" / "a.png", ["Albatross"])
    sync_folder(library, tmp_path / "inbox")
    monkeypatch.chdir(tmp_path)
    assert sync_folder(library, Path("inbox"))["added"] == 0
    assert len(library.records()) == 1


def test_a_library_inside_the_folder_is_not_added_to_itself(tmp_path: Path) -> None:
    folder = tmp_path / "documents"
    with Library.init(folder / "library") as lib:
        lib.add([put_image(tmp_path / "copied.png", ["Copied"])])  # lands in library/files
        put_image(folder / "a.png", ["Albatross"])
        for path in (folder / "library").rglob("*"):
            settle(path, 100)
        assert sync_folder(lib, folder) == (
            {"added": 1, "updated": 0, "removed": 0, "waiting": 0, "problems": {}}
        )
        assert set(watched(lib, folder)) == {"a.png"}


def test_watcher_ignores_writes_inside_the_library(tmp_path: Path) -> None:
    from watchdog.events import FileCreatedEvent, FileModifiedEvent, FileMovedEvent

    from textlens.workflows.watch import _Changed

    lib = tmp_path / "documents" / "library"
    handler = _Changed(lib)
    handler.on_any_event(FileModifiedEvent(str(lib / "library.db-wal")))
    handler.on_any_event(FileCreatedEvent(str(lib / "index" / "meta.json")))
    assert not handler.event.is_set()
    handler.on_any_event(FileCreatedEvent(str(tmp_path / "documents" / "library-notes.png")))
    assert handler.event.is_set()
    handler.event.clear()
    handler.on_any_event(FileMovedEvent(str(lib / "x.png"), str(tmp_path / "documents" / "x.png")))
    assert handler.event.is_set()


def test_watch_folder_rejects_a_missing_folder(library: Library, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="is not a folder"):
        watch_folder(library, tmp_path / "nope", lambda: Progress(disable=True), _Console())


class _Console:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def print(self, *args: object, **kwargs: object) -> None:
        self.lines.append(" ".join(str(a) for a in args))


@pytest.mark.slow
def test_watch_folder_picks_up_a_new_file(library: Library, tmp_path: Path) -> None:
    folder = tmp_path / "inbox"
    put_image(folder / "first.png", ["Albatross migration"])
    library_path = library.path
    stop = threading.Event()
    errors: list[BaseException] = []
    console = _Console()

    def run() -> None:
        try:
            with Library.open(library_path) as lib:
                watch_folder(lib, folder, lambda: Progress(disable=True), console, stop=stop)
        except BaseException as e:  # noqa: BLE001 - reported by the test thread
            errors.append(e)

    def wait_for(query: str, reader: Library, timeout: float = 20.0) -> set[int]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert not errors, errors
            hits = found(reader, query)
            if hits:
                return hits
            time.sleep(0.25)
        raise AssertionError(f"{query!r} not searchable after {timeout} s; {console.lines}")

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        with Library.open(library_path) as reader:
            wait_for("albatross", reader)  # what was there before watching began
            put_image(folder / "second.png", ["Puffin colony"], age=None)
            [record_id] = wait_for("puffin", reader)
            assert reader.record(record_id).title == "second.png"
            (folder / "first.png").unlink()
            deadline = time.monotonic() + 20
            while found(reader, "albatross") and time.monotonic() < deadline:
                time.sleep(0.25)
            assert found(reader, "albatross") == set()
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive(), "the watcher did not stop"
    assert not errors, errors
    assert any("added" in line for line in console.lines), console.lines


def test_a_file_that_cannot_be_linked_is_reported_and_the_rest_still_added(
    library: Library, tmp_path: Path,
) -> None:
    from textlens.samples import render_text_image

    folder = tmp_path / "odd-names"
    folder.mkdir()
    render_text_image(["fine name"]).save(folder / "fine.png")
    bad = os.fsdecode(bytes(folder) + b"/bad\xff.png")
    render_text_image(["bad name"]).save(bad)
    old = time.time() - 60
    for name in os.listdir(folder):
        os.utime(folder / name, (old, old))
    counts = sync_folder(library, folder)
    assert counts["added"] == 1
    [(path, reason)] = counts["problems"].items()
    assert "not valid UTF-8" in reason
