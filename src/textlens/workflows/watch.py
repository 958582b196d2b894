"""Keeping a folder in the library: files appear, change and vanish; the library follows.

Each file in the folder is one linked record. watchdog tells us *that* something changed; we then
reconcile the whole folder against the database, which is simple, idempotent and also catches
what happened while nothing was watching.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from watchdog.events import FileSystemEventHandler
from watchdog.observers import Observer

from ..errors import BusyError, NotFoundError, TextlensError
from ..library import Library
from ..store import records as rec

SETTLE_SECONDS = 1.0  # a file modified this recently may still be being written
RESCAN_EVERY = 30.0  # also pick up retries that came due and work added by other processes


def sync_folder(lib: Library, folder: Path) -> dict[str, Any]:
    """Make the library's records for ``folder`` match the files in it now; ``problems`` maps
    each file that could not be added to the reason."""
    root = folder.expanduser().resolve()
    source = f"watch:{root}"
    known = {row["path"]: row for row in rec.attachments_with_source(lib.conn, source)}
    library_dir = lib.path.resolve()  # a library kept inside the folder must not add itself
    now = time.time()
    seen: set[str] = set()
    counts = {"added": 0, "updated": 0, "removed": 0, "waiting": 0}
    problems: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        if not path.is_file() or any(p.startswith(".") for p in path.relative_to(root).parts):
            continue
        key = str(path.resolve())
        if Path(key).is_relative_to(library_dir):
            continue
        seen.add(key)
        try:
            stat = path.stat()
        except FileNotFoundError:
            continue
        if now - stat.st_mtime < SETTLE_SECONDS:
            counts["waiting"] += 1
            continue
        row = known.get(key)
        if row is None:
            try:
                lib.add([path], title=str(path.relative_to(root)), link=True, source=source)
                counts["added"] += 1
            except (TextlensError, OSError) as e:  # one bad file never stops the watcher
                problems[key] = str(e)
        elif (stat.st_size, stat.st_mtime) != (row["size"], row["mtime"]):
            counts["updated"] += lib.update_linked(row["id"])
    for key, row in known.items():
        if key not in seen:
            try:
                lib.remove(row["record_id"])
            except NotFoundError:
                pass
            counts["removed"] += 1
    lib.index.catch_up(lib.conn)
    return counts | {"problems": problems}


class _Changed(FileSystemEventHandler):
    def __init__(self, ignore: Path) -> None:
        self.event = threading.Event()
        self.ignore = str(ignore)  # the library's own folder: its writes are not changes

    def on_any_event(self, event: Any) -> None:
        paths = [str(event.src_path), str(getattr(event, "dest_path", "") or "")]
        if all(not p or p == self.ignore or p.startswith(self.ignore + os.sep) for p in paths):
            return
        self.event.set()


def watch_folder(
    lib: Library, folder: Path, progress_factory: Callable[[], Any], console: Any,
    stop: threading.Event | None = None,
) -> None:
    """Follow ``folder`` until Ctrl-C (or ``stop`` is set)."""
    root = folder.expanduser().resolve()
    if not root.is_dir():
        raise NotFoundError(f"{root} is not a folder")
    handler = _Changed(lib.path.resolve())
    observer = Observer()
    observer.schedule(handler, str(root), recursive=True)
    observer.start()
    console.print(f"watching {root} (Ctrl-C to stop)")
    stop = stop or threading.Event()
    handler.event.set()  # first round: reconcile what changed while we were not watching
    last_scan = 0.0
    reported: set[str] = set()
    try:
        while not stop.is_set():
            if not handler.event.wait(timeout=0.5) and time.time() - last_scan < RESCAN_EVERY:
                continue
            handler.event.clear()
            time.sleep(0.3)  # let a burst of events (a copy of many files) finish arriving
            counts = sync_folder(lib, root)
            for path, reason in counts["problems"].items():
                if path not in reported:  # say it once, not every round
                    console.print(f"not added {path}: {reason}")
                    reported.add(path)
            if counts["added"] or counts["updated"] or counts["removed"]:
                console.print(
                    f"{counts['added']} added, {counts['updated']} changed, "
                    f"{counts['removed']} removed"
                )
            if counts["waiting"]:
                handler.event.set()  # come back once those files have settled
            _scan_quietly(lib, progress_factory, console)
            last_scan = time.time()
    except KeyboardInterrupt:
        pass
    finally:
        observer.stop()
        observer.join()


def scan_forever(lib: Library, progress_factory: Callable[[], Any],
                 stop: threading.Event | None = None) -> None:
    """`textlens scan --watch`: scan, wait for new work, scan again."""
    stop = stop or threading.Event()
    try:
        while not stop.is_set():
            _scan_quietly(lib, progress_factory, None)
            stop.wait(2.0)
    except KeyboardInterrupt:
        pass


def _scan_quietly(lib: Library, progress_factory: Callable[[], Any], console: Any) -> None:
    if not lib.settings.ocr or lib.scan_in_progress():
        return  # off, or someone else is scanning: their results land all the same
    if not lib.work_due():
        return
    try:
        with progress_factory() as progress:
            task = progress.add_task("ocr", total=None)
            report = lib.scan(on_progress=lambda d, t: progress.update(task, completed=d, total=t))
        if console is not None and (report.pages_done or report.failures):
            console.print(f"{report.pages_done} pages OCR'd")
            for f in report.failures:
                console.print(f"  failed {f['name']}: {f['reason']}")
    except BusyError:
        pass  # someone else is scanning this library; their results land all the same
    except TextlensError as e:
        if console is not None:
            console.print(f"scan error: {e}")
