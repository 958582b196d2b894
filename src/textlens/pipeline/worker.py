"""What runs inside a worker process: small picklable jobs in, results (never SQL) out."""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass, field
from typing import Any

from ..errors import BadFileError, TextlensError, UnsupportedFileError
from ..settings import split_languages
from ..types import PageResult
from . import documents
from .documents import Limits

# One engine instance per worker process, reused for every page (never a process per page).
_ENGINES: dict[str, Any] = {}
_PLUGINS = ""


@dataclass(frozen=True)
class PlanJob:
    """Open a document and say how its pages should be read."""

    sha256: str
    path: str
    mime: str
    engine: str
    languages: str
    limits: Limits
    # From the engine's prepare(); ready=False: it could not get ready (e.g. language data
    # missing), so only learn whether the file needs OCR at all, and ask the engine nothing.
    options: dict[str, Any] = field(default_factory=dict)
    ready: bool = True


@dataclass(frozen=True)
class Plan:
    methods: list[str]
    engine_version: str
    model: str


@dataclass(frozen=True)
class PageJob:
    """Read one page: OCR it, or take its PDF text layer."""

    sha256: str
    page: int
    method: str
    path: str
    mime: str
    engine: str
    languages: str
    limits: Limits
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Failure:
    """A job that failed in a way the worker understood; ``permanent`` means do not retry."""

    reason: str
    permanent: bool


def init_worker(plugins: str, niceness: int, log_path: str | None = None) -> None:
    """Per-process set-up: low CPU priority, one OpenMP thread, Ctrl-C left to the coordinator,
    and native-library chatter (Leptonica writes warnings straight to file descriptor 2) sent
    to the library's worker log instead of over the progress bar."""
    global _PLUGINS
    _PLUGINS = plugins
    if log_path:
        try:
            log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            os.dup2(log, 2)
            os.close(log)
        except OSError:
            pass
    os.environ["OMP_THREAD_LIMIT"] = "1"
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if niceness:
        try:
            os.nice(niceness)
        except OSError:
            pass


def engine(name: str):  # -> Engine
    from ..engines import registry

    if name not in _ENGINES:
        _ENGINES[name] = registry.create(name, _PLUGINS)
    return _ENGINES[name]


def plan_document(job: PlanJob) -> Plan | Failure:
    try:
        methods = documents.plan(job.path, job.mime, job.limits)
        version = model = ""
        if "ocr" in methods and job.ready:
            eng = engine(job.engine)
            version = eng.version()
            model = str(job.options.get("model") or eng.model(split_languages(job.languages)))
        return Plan(methods, version, model)
    except Exception as e:  # noqa: BLE001 - every failure becomes a recorded reason
        return _failure(e)


def process_page(job: PageJob) -> tuple[PageResult, float] | Failure:
    """The page's result and the seconds the engine took."""
    started = time.perf_counter()
    try:
        if job.method == "text-layer":
            result = documents.read_text_layer(job.path, job.page, job.limits)
        else:
            image = documents.load_image(job.path, job.mime, job.page, job.limits)
            dpi = job.limits.dpi if job.mime == documents.PDF else documents.IMAGE_DPI
            # An engine that waits on a server times each request itself, within the page's.
            options = {"dpi": dpi, "page_timeout": job.limits.page_timeout, **job.options}
            result = engine(job.engine).recognize(image, split_languages(job.languages),
                                                  options)
        return result, time.perf_counter() - started
    except Exception as e:  # noqa: BLE001
        return _failure(e)


def _failure(e: Exception) -> Failure:
    if isinstance(e, (BadFileError, UnsupportedFileError)):
        return Failure(str(e), permanent=True)
    if isinstance(e, TextlensError):
        return Failure(str(e), permanent=not getattr(e, "retryable", True))
    if isinstance(e, FileNotFoundError):
        return Failure(f"the file is gone ({e.filename}); re-add it or remove the attachment",
                       permanent=False)
    return Failure(f"{type(e).__name__}: {e}", permanent=False)
