"""The server's one OCR runner: background scanning and the jobs people start, one at a time.

A single thread does all OCR work of the server, so it never uses more cores than the
``workers`` setting, whatever the number of browsers and API clients. Between jobs it scans in
the background (when OCR is on and the scanner is not paused). A job someone starts (a batch,
OCR again, language data) ends the background scan early at the next page, runs, and the
background scan then goes on where it stopped: the pages in flight go back to the queue.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import BusyError, TextlensError
from ..library import Library

log = logging.getLogger("textlens.web")

RESCAN_EVERY = 30.0  # also pick up retries that came due and work added by other processes
KEEP_JOBS = 100  # finished jobs remembered for their pages and API clients
# How long the library's OCR counts are shared: every page shows them and polls them every
# 2 s, and on a library of 100,000 pages counting takes about 0.1 s.
COUNTS_TTL = 2.0



@dataclass
class JobControl:
    """What a running job is handed: where to report progress, and whether to stop (the
    server is shutting down; OCR work stops at the next page and stays queued)."""

    progress: Callable[[int, int], None]
    should_stop: Callable[[], bool]


JobFunction = Callable[[Library, JobControl], dict[str, Any]]


@dataclass
class Job:
    """Work someone started: what it is, how far it got, and its result or error."""

    id: int
    kind: str  # batch | ocr | langdata
    label: str
    function: JobFunction = field(repr=False)
    state: str = "queued"  # queued | running | done | failed
    done: int = 0
    total: int = 0
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    result: dict[str, Any] | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "label": self.label, "state": self.state,
                "done": self.done, "total": self.total, "created": self.created,
                "started": self.started, "finished": self.finished, "result": self.result,
                "error": self.error}


@dataclass
class _Background:
    # starting | idle | scanning | off | busy | stopped; state() shows "paused" over the first
    # three while the scanner is paused
    state: str = "starting"
    done: int = 0
    total: int = 0
    started: float | None = None
    error: str | None = None
    last: dict[str, Any] | None = None  # the last scan's report


class OcrService:
    """Runs background scans and jobs for the library at ``library_path`` in one thread."""

    def __init__(self, library_path: Path, *, background: bool = True,
                 rescan_every: float = RESCAN_EVERY) -> None:
        self.library_path = library_path
        self.background = background
        self.rescan_every = rescan_every
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._paused = False
        self._queue: deque[Job] = deque()
        self._jobs: OrderedDict[int, Job] = OrderedDict()
        self._ids = itertools.count(1)
        self._scan = _Background()
        self._thread: threading.Thread | None = None
        self._counts: tuple[float, dict[str, Any]] | None = None
        self._counts_lock = threading.Lock()

    # -- control -------------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="textlens-ocr", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after the page in hand; unfinished work stays queued in the library."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def wake(self) -> None:
        """Something was added or changed: look for work now, not at the next rescan."""
        self._wake.set()

    def pause(self) -> None:
        """Stop background scanning (the pages in flight go back to the queue)."""
        with self._lock:
            self._paused = True
        self._wake.set()

    def resume(self) -> None:
        with self._lock:
            self._paused = False
        self._wake.set()

    def submit(self, kind: str, label: str, function: JobFunction) -> Job:
        """Queue a job; it starts once the page in hand is done."""
        with self._lock:
            job = Job(next(self._ids), kind, label, function)
            self._jobs[job.id] = job
            self._queue.append(job)
            while len(self._jobs) > KEEP_JOBS:
                oldest = next(iter(self._jobs.values()))
                if oldest.state in ("queued", "running"):
                    break
                self._jobs.popitem(last=False)
        self._wake.set()
        return job

    # -- what pages and the API show -----------------------------------------------------------

    def job(self, job_id: int) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def jobs(self) -> list[Job]:
        with self._lock:
            return list(reversed(self._jobs.values()))

    def state(self) -> dict[str, Any]:
        """``{"state", "paused", "done", "total", "eta_seconds", "error", "last", "jobs"}``:
        the background scan's state and progress (pages of this run), and jobs not done."""
        with self._lock:
            scan = self._scan
            eta = None
            if scan.state == "scanning" and scan.started and scan.done and scan.total \
                    and not self._paused:
                elapsed = time.time() - scan.started
                eta = round(elapsed / scan.done * (scan.total - scan.done))
            state = scan.state
            if self._paused and state in ("starting", "idle", "scanning"):
                state = "paused"  # said at once; the scan stops at its next page
            return {"state": state, "paused": self._paused, "done": scan.done,
                    "total": scan.total, "eta_seconds": eta, "error": scan.error,
                    "last": scan.last,
                    "jobs": [j.to_dict() for j in self._jobs.values()
                             if j.state in ("queued", "running")]}

    def library_counts(self, lib: Library) -> dict[str, Any]:
        """``lib.status()``, counted at most once per COUNTS_TTL seconds however many pages
        are open (so a few seconds old at most)."""
        with self._counts_lock:
            if self._counts is None or time.monotonic() - self._counts[0] > COUNTS_TTL:
                self._counts = (time.monotonic(), lib.status())
            return self._counts[1]

    # -- the thread ----------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            job = self._next_job()
            if job is not None:
                self._run_job(job)
                continue
            if self.background:
                self._scan_once()
            if not self._queue:
                self._wake.wait(self.rescan_every)
        self._set_scan(state="stopped")

    def _next_job(self) -> Job | None:
        with self._lock:
            return self._queue.popleft() if self._queue else None

    def _run_job(self, job: Job) -> None:
        def progress(done: int, total: int) -> None:
            job.done, job.total = done, total

        control = JobControl(progress, self._stopping.is_set)
        job.state, job.started = "running", time.time()
        try:
            with Library.open(self.library_path) as lib:
                job.result = job.function(lib, control)
            job.state = "done"
        except TextlensError as e:
            job.state, job.error = "failed", str(e)
        except Exception as e:  # noqa: BLE001 - a job's bug must not stop the OCR thread
            log.exception("job %s failed", job.id)
            job.state, job.error = "failed", f"internal error: {e!r}; see the server log"
        job.finished = time.time()

    def _scan_once(self) -> None:
        with self._lock:
            if self._paused:
                return  # state() says "paused"
        try:
            with Library.open(self.library_path) as lib:
                if not lib.settings.ocr:
                    self._set_scan(state="off")
                    return
                if not lib.work_due():
                    self._set_scan(state="idle", error=None)
                    return
                self._set_scan(state="scanning", done=0, total=0, started=time.time(),
                               error=None)
                report = lib.scan(on_progress=self._scan_progress, should_stop=self._interrupt)
            self._set_scan(state="idle", last=report.to_dict())
        except BusyError:
            # Another process (a `textlens scan` or a second server) is scanning: it does the
            # work; look again later.
            self._set_scan(state="busy")
        except TextlensError as e:
            self._set_scan(state="idle", error=str(e))
        except Exception as e:  # noqa: BLE001 - keep serving; say what happened
            log.exception("background scan failed")
            self._set_scan(state="idle", error=f"internal error: {e!r}; see the server log")

    def _interrupt(self) -> bool:
        with self._lock:
            return self._paused or bool(self._queue) or self._stopping.is_set()

    def _scan_progress(self, done: int, total: int) -> None:
        self._set_scan(done=done, total=total)

    def _set_scan(self, **changes: Any) -> None:
        with self._lock:
            for name, value in changes.items():
                setattr(self._scan, name, value)
