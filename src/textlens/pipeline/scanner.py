"""The scan coordinator: hands pages to worker processes and is the only database writer.

Results are committed in batches (one transaction every ``commit_interval`` seconds), so a
``kill -9`` loses at most the batch in flight: those pages are still marked pending or running
and the next scan does them again, and nothing is stored twice because a page's result
replaces any earlier one for the same run and page.
"""

from __future__ import annotations

import multiprocessing
import sqlite3
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

from pebble import ProcessExpired, ProcessPool

from ..engines import registry
from ..errors import EngineError, LanguageDataError
from ..settings import Settings, split_languages
from ..store import transaction
from ..store import work as store
from ..types import PageResult, ScanReport
from .documents import IMAGE_DPI, PDF, Limits
from .worker import Failure, PageJob, Plan, PlanJob, init_worker, plan_document, process_page

# Workers yield the CPU to interactive programs; a first scan of a big library can take hours.
WORKER_NICENESS = 10
INDEX_EVERY = 5.0  # seconds between search-index catch-ups during a long scan

ProgressCallback = Callable[[int, int], None]
RECORDED_OPTIONS = ("passes",)
_DIED = "the worker process died"


@dataclass
class _Task:
    kind: str  # "plan" | "page"
    sha256: str
    page: int
    job: Any
    run_id: int = 0


def limits_from(settings: Settings) -> Limits:
    return Limits(
        dpi=settings.dpi,
        max_image_pixels=settings.max_image_pixels,
        max_pages=settings.max_pages,
        max_file_mb=settings.max_file_mb,
        text_layer_min_chars=settings.text_layer_min_chars,
        page_timeout=settings.page_timeout,
    )


class Scanner:
    """One scan run over the pending work of a library."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        settings: Settings,
        resolve_path: Callable[[str, bool], str],
        catch_up_index: Callable[[], object],
        on_progress: ProgressCallback | None = None,
        log_path: str | None = None,
        should_stop: Callable[[], bool] | None = None,
    ):
        self.log_path = log_path
        # Asked between pages: True ends the run early (a pause, or more urgent work); pages
        # in flight go back to the queue, nothing done is lost.
        self.should_stop = should_stop or (lambda: False)
        self.conn = conn
        # This run's own copy: it remembers language-data sources that did not answer, so
        # each (engine, languages) below does not wait for the same silent server again.
        self.settings = settings.for_run()
        self.resolve_path = resolve_path
        self.catch_up_index = catch_up_index
        self.on_progress = on_progress or (lambda done, total: None)
        self.limits = limits_from(settings)
        self.report = ScanReport()
        self._pending_writes: list[tuple[str, tuple]] = []
        self._dispatched: list[tuple[str, int]] = []
        self._touched: set[str] = set()
        self._deaths_in_a_row = 0
        self._any_success = False
        # Per (engine, languages) of this run: the options its prepare() gave, or why not:
        # waiting (language data missing) or failing (any other error, a failure of its files).
        self._options: dict[tuple[str, str], dict[str, Any]] = {}
        self._waiting: dict[tuple[str, str], str] = {}
        self._failing: dict[tuple[str, str], Failure] = {}

    def run(self, *, limit: int | None = None, only: Iterable[str] | None = None) -> ScanReport:
        started = time.perf_counter()
        with transaction(self.conn):
            store.reset_running(self.conn)
        now = time.time()
        page_todo, plan_todo = self._select(now, limit, only)
        page_todo = self._get_engines_ready(page_todo, plan_todo)
        if not (page_todo or plan_todo):
            self.catch_up_index()
            self.report.seconds = time.perf_counter() - started
            return self.report
        plans = deque(_Task("plan", c.sha256, 0, self._plan_job(c)) for c in plan_todo)
        pages = deque(self._page_task(p) for p in page_todo)
        total = len(pages) + len(plans)
        done = 0
        self.on_progress(done, total)
        workers = self.settings.worker_count
        context = multiprocessing.get_context("forkserver")
        pool = ProcessPool(
            max_workers=workers, initializer=init_worker,
            initargs=(self.settings.plugins, WORKER_NICENESS, self.log_path), context=context,
        )
        inflight: dict[Future, _Task] = {}
        last_commit = last_index = time.monotonic()
        try:
            while (pages or plans or inflight) and not self.should_stop():
                # Keep every worker busy with one queued behind it, no more: a pending page
                # stays cheap to cancel and `running` in the database stays truthful.
                while len(inflight) < workers * 2 and (pages or plans):
                    task = pages.popleft() if pages else plans.popleft()
                    func = process_page if task.kind == "page" else plan_document
                    inflight[pool.schedule(func, (task.job,),
                                           timeout=self.settings.page_timeout)] = task
                    if task.kind == "page":
                        self._dispatched.append((task.sha256, task.page))
                finished, _ = wait(list(inflight), timeout=0.5, return_when=FIRST_COMPLETED)
                for future in finished:
                    task = inflight.pop(future)
                    outcome = self._outcome(future)
                    if task.kind == "plan":
                        new_pages = self._apply_plan(task, outcome)
                        pages.extend(new_pages)
                        if new_pages:  # the file's one unit of work becomes its pages
                            total += len(new_pages) - 1
                        else:  # failed, waiting, or nothing to read: that unit is done
                            done += 1
                    else:
                        self._apply_page(task, outcome)
                        done += 1
                    self._check_workers_alive(task.kind, outcome)
                    self.on_progress(done, total)
                if time.monotonic() - last_commit >= self.settings.commit_interval:
                    self._commit()
                    last_commit = time.monotonic()
                if time.monotonic() - last_index >= INDEX_EVERY:
                    self.catch_up_index()
                    last_index = time.monotonic()
            self.report.stopped = bool(pages or plans or inflight)
        finally:
            pool.stop()
            self._commit()
            pool.join()
            if inflight:  # interrupted: what was handed out goes back to the queue
                with transaction(self.conn):
                    store.reset_running(self.conn)
            self.catch_up_index()
        self.report.seconds = time.perf_counter() - started
        return self.report

    def _check_workers_alive(self, kind: str, outcome: object) -> None:
        """Stop the run when workers die on every page before any succeeds: that is a broken
        engine or environment, not bad files, and failing every file for it would be wrong."""
        if isinstance(outcome, Failure) and outcome.reason.startswith(_DIED):
            self._deaths_in_a_row += 1
        elif kind == "page":
            self._deaths_in_a_row = 0
            self._any_success = self._any_success or not isinstance(outcome, Failure)
        if not self._any_success and self._deaths_in_a_row >= 2 * self.settings.worker_count + 2:
            raise EngineError(
                f"the OCR worker processes died on {self._deaths_in_a_row} jobs in a row "
                "without finishing any; the engine or its set-up is broken (check "
                "`textlens engines`); the pages stay queued for the next scan"
            )

    def _select(
        self, now: float, limit: int | None, only: Iterable[str] | None
    ) -> tuple[list[store.PageTodo], list[store.ContentTodo]]:
        """The work of this run: pages due (of files already opened), then files to open;
        with ``limit``, only the first ``limit`` files of that order."""
        only_list = list(only) if only is not None else None
        pages = store.pages_to_run(self.conn, now, self.settings.max_attempts, only_list)
        plans = store.contents_to_plan(self.conn, now, self.settings.max_attempts, only_list)
        if limit:
            chosen = set(list(dict.fromkeys(
                [p.sha256 for p in pages] + [c.sha256 for c in plans]))[:limit])
            pages = [p for p in pages if p.sha256 in chosen]
            plans = [c for c in plans if c.sha256 in chosen]
        return pages, plans

    def _get_engines_ready(self, pages: list[store.PageTodo],
                           plans: list[store.ContentTodo]) -> list[store.PageTodo]:
        """Let each (engine, languages) of this run get ready once, here, before any job goes
        out: prepare() may fetch language data. The pages of files whose language data
        cannot be had wait, pending with the reason and their attempts untouched; those
        whose engine fails to get ready otherwise fail (see _prepare); the others are
        returned. Files still to be opened go out either way (see _apply_plan)."""
        keys = {(p.engine, p.languages) for p in pages if p.method == "ocr"}
        keys |= {self._plan_key(c) for c in plans}
        for key in sorted(keys):
            self._prepare(*key)
        held = {p.sha256: self._waiting[(p.engine, p.languages)] for p in pages
                if p.method == "ocr" and (p.engine, p.languages) in self._waiting}
        failing = [p for p in pages if p.sha256 not in held and p.method == "ocr"
                   and (p.engine, p.languages) in self._failing]
        failing_shas = {p.sha256 for p in failing}
        going = [p for p in pages if p.sha256 not in held and p.sha256 not in failing_shas]
        ready = [c.sha256 for c in plans if self._plan_key(c) not in self._waiting]
        with transaction(self.conn):
            store.clear_waiting(self.conn, [p.sha256 for p in going + failing] + ready)
            store.mark_waiting(self.conn, held)
        for sha256, reason in held.items():
            self._note_waiting(sha256, reason)
        for page in failing:  # their attempts are used up (all at once when permanent)
            self._apply_page(self._page_task(page), self._failing[(page.engine,
                                                                   page.languages)])
        self._commit()
        return going

    def _prepare(self, engine: str, languages: str) -> None:
        key = (engine, languages)
        try:
            cls = registry.engine_class(engine, self.settings.plugins)
        except EngineError:
            self._options[key] = {}  # an unknown engine fails its jobs in the workers
            return
        try:
            self._options[key] = dict(cls.prepare(split_languages(languages), self.settings))
        except LanguageDataError as e:  # only this waits: a later scan may have the data
            self._waiting[key] = str(e)
        except EngineError as e:  # e.g. a remote engine refusing: its files fail, as a page
            self._failing[key] = Failure(  # would, at once when retrying cannot help
                f"the {engine} engine could not get ready for {languages}: {e}",
                permanent=not e.retryable)
        except Exception as e:  # noqa: BLE001 - a plugin's bug fails its files, not the scan
            self._failing[key] = Failure(  # retried with backoff, not waiting forever
                f"the {engine} engine could not get ready for {languages} "
                f"({type(e).__name__}: {e})", permanent=False)

    def _plan_key(self, content: store.ContentTodo) -> tuple[str, str]:
        return (content.engine or self.settings.engine,
                content.languages or self.settings.languages)

    def _plan_job(self, content: store.ContentTodo) -> PlanJob:
        engine, languages = key = self._plan_key(content)
        return PlanJob(
            sha256=content.sha256,
            path=self.resolve_path(content.path, content.linked),
            mime=content.mime,
            engine=engine,
            languages=languages,
            limits=self.limits,
            options=self._options.get(key, {}),
            ready=key not in self._waiting and key not in self._failing,
        )

    def _page_task(self, todo: store.PageTodo) -> _Task:
        job = PageJob(
            sha256=todo.sha256, page=todo.page, method=todo.method,
            path=self.resolve_path(todo.path, todo.linked), mime=todo.mime, engine=todo.engine,
            languages=todo.languages, limits=self.limits,
            options=self._options.get((todo.engine, todo.languages), {}),
        )
        return _Task("page", todo.sha256, todo.page, job, todo.run_id)

    def _outcome(self, future: Future) -> Any:
        try:
            return future.result()
        except FutureTimeout:
            return Failure(
                f"took longer than the page time limit ({self.settings.page_timeout:g} s), so "
                "its worker was stopped; raise page_timeout if such pages are expected",
                permanent=False,
            )
        except ProcessExpired as e:
            return Failure(
                f"{_DIED} while reading this page (exit code {e.exitcode}; "
                "-9 is usually the system running out of memory)",
                permanent=False,
            )
        except Exception as e:  # noqa: BLE001 - e.g. a result that could not be pickled
            return Failure(f"{type(e).__name__}: {e}", permanent=False)

    def _apply_plan(self, task: _Task, outcome: Plan | Failure) -> list[_Task]:
        """Store a plan now (its pages need the run id) and return the pages to dispatch."""
        self._commit()
        job: PlanJob = task.job
        with transaction(self.conn):
            if isinstance(outcome, Plan) and "ocr" in outcome.methods and not job.ready:
                # It needs OCR, and its engine could not get ready: it waits, unopened, for
                # language data; for anything else it fails (see _prepare).
                key = (job.engine, job.languages)
                if key in self._failing:  # it could not get ready otherwise: a failure
                    outcome = self._failing[key]
                else:
                    reason = self._waiting[key]
                    store.mark_waiting(self.conn, {task.sha256: reason})
                    self._note_waiting(task.sha256, reason)
                    return []
            store.clear_waiting(self.conn, [task.sha256])
            if isinstance(outcome, Failure):
                store.record_plan_failure(
                    self.conn, task.sha256, outcome.reason, permanent=outcome.permanent,
                    max_attempts=self.settings.max_attempts,
                    backoff=self.settings.retry_backoff,
                )
                self._note_failure(task.sha256, outcome.reason)
                return []
            ocr_pages = "ocr" in outcome.methods
            params: dict[str, Any] = {}
            if ocr_pages:
                # The resolution the engine was told: PDF pages are rendered at `dpi`; images
                # are given as they are, declared as 300 DPI (see worker.process_page).
                params = {"dpi": job.limits.dpi if job.mime == PDF else IMAGE_DPI}
                # Engine settings that change what is read (e.g. Tesseract's `passes`).
                params |= {k: job.options[k] for k in RECORDED_OPTIONS if k in job.options}
            store.record_plan(
                self.conn, task.sha256, outcome.methods,
                engine=job.engine if ocr_pages else None,
                engine_version=outcome.engine_version, model=outcome.model,
                languages=job.languages if ocr_pages else None, params=params,
            )
        todo = store.pages_to_run(self.conn, time.time(), self.settings.max_attempts,
                                  [task.sha256])
        return [self._page_task(p) for p in todo]

    def _apply_page(self, task: _Task, outcome: tuple[PageResult, float] | Failure) -> None:
        if isinstance(outcome, Failure):
            self._pending_writes.append(("fail", (task.sha256, task.page, outcome)))
            self.report.pages_failed += 1
        else:
            self._pending_writes.append(("done", (task.run_id, task.sha256, task.page,
                                                  outcome[0])))
            self.report.pages_done += 1
        self._touched.add(task.sha256)

    def _commit(self) -> None:
        if not (self._pending_writes or self._dispatched):
            return
        with transaction(self.conn):
            store.mark_running(self.conn, self._dispatched)
            for kind, args in self._pending_writes:
                if kind == "done":
                    store.store_page_result(self.conn, *args)
                else:
                    sha256, page, failure = args
                    store.store_page_failure(
                        self.conn, sha256, page, failure.reason, permanent=failure.permanent,
                        max_attempts=self.settings.max_attempts,
                        backoff=self.settings.retry_backoff,
                    )
            for sha256, (state, reason) in store.finish_contents(
                    self.conn, self._touched).items():
                if state == "done":
                    self.report.attachments_done += 1
                else:
                    self._note_failure(sha256, reason)
        self._pending_writes.clear()
        self._dispatched.clear()
        self._touched.clear()

    def _note_waiting(self, sha256: str, reason: str) -> None:
        self.report.attachments_waiting += 1
        names = store.attachment_names(self.conn, sha256)
        self.report.waiting.append({"name": ", ".join(names), "reason": reason})

    def _note_failure(self, sha256: str, reason: str) -> None:
        self.report.attachments_failed += 1
        names = store.attachment_names(self.conn, sha256)
        self.report.failures.append({"name": ", ".join(names), "reason": reason})
