"""OCR one file now, outside the library: the stateless `POST /api/ocr`.

The same worker functions as a scan, in a worker process of its own, so a file that crashes a
decoder or hangs an engine costs that process (stopped after the page time limit), not the
caller. Nothing is stored.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any

from pebble import ProcessExpired, ProcessPool

from ..engines import registry
from ..errors import BadFileError, EngineError, UnsupportedFileError
from ..settings import Settings, split_languages
from ..types import PageResult
from .filetypes import detect
from .scanner import WORKER_NICENESS, limits_from
from .worker import Failure, PageJob, Plan, PlanJob, init_worker, plan_document, process_page


def ocr_file(path: Path, settings: Settings, *, engine: str | None = None,
             languages: str | None = None) -> dict[str, Any]:
    """``{"mime", "engine", "languages", "engine_version", "model", "pages": [PageResult
    dicts with "page"]}`` for this image or PDF, read with the settings' engine and languages
    (or these)."""
    mime, skip_reason = detect(path)
    if mime is None:
        raise UnsupportedFileError(skip_reason or "not a supported image or PDF")
    engine = engine or settings.engine
    languages = languages or settings.languages
    cls = registry.engine_class(engine, settings.plugins)
    options = dict(cls.prepare(split_languages(languages), settings.for_run()))
    limits = limits_from(settings)
    pool = ProcessPool(max_workers=1, initializer=init_worker,
                       initargs=(settings.plugins, WORKER_NICENESS, None),
                       context=multiprocessing.get_context("forkserver"))
    try:
        plan = _run(pool, plan_document, PlanJob(
            sha256="", path=str(path), mime=mime, engine=engine, languages=languages,
            limits=limits, options=options), settings.page_timeout)
        assert isinstance(plan, Plan)
        pages = []
        for number, method in enumerate(plan.methods, start=1):
            outcome = _run(pool, process_page, PageJob(
                sha256="", page=number, method=method, path=str(path), mime=mime,
                engine=engine, languages=languages, limits=limits, options=options),
                settings.page_timeout)
            result: PageResult = outcome[0]
            pages.append({"page": number, **result.to_dict()})
    finally:
        pool.stop()
        pool.join()
    return {"mime": mime, "engine": engine, "languages": languages,
            "engine_version": plan.engine_version, "model": plan.model, "pages": pages}


def _run(pool: ProcessPool, func: Any, job: Any, timeout: float) -> Any:
    try:
        outcome = pool.schedule(func, (job,), timeout=timeout).result()
    except FutureTimeout as e:
        raise EngineError(f"the page took longer than the page time limit ({timeout:g} s); "
                          "raise page_timeout if such pages are expected") from e
    except ProcessExpired as e:
        raise EngineError("the OCR worker process died on this file; try another engine, "
                          "or check the file") from e
    if isinstance(outcome, Failure):
        if outcome.permanent:
            raise BadFileError(outcome.reason)
        raise EngineError(outcome.reason)
    return outcome
