"""The ``Library`` facade: everything a user can do, as methods. The CLI and web app call these."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import platformdirs
from filelock import FileLock, Timeout

from . import settings as settings_mod
from .engines import langdata
from .errors import (
    BusyError,
    ConflictError,
    LibraryNotFoundError,
    NotFoundError,
    SettingsError,
    TextlensError,
    UnsupportedFileError,
)
from .pipeline import filetypes
from .pipeline.scanner import ProgressCallback, Scanner, limits_from
from .search import SearchIndex
from .search import search as run_search
from .search.index import SEARCH_CATCH_UP_ROWS
from .search.searcher import locate as locate_hits
from .settings import CONFIG_FILE, Settings, split_languages
from .store import DB_FILE, collections, connect, transaction, wordboxes, work
from .store import records as rec
from .types import AttachmentInfo, PageHit, RecordInfo, ScanReport, SearchResults
from .workflows import ocr_import, records_import, sync

FILES_DIR = "files"
SCAN_LOCK = "scan.lock"
STORE_LOCK = "store.lock"  # held while a copied file is added to or removed from files/
WORKER_LOG = "worker.log"  # what OCR engines print (warnings from Tesseract and Leptonica)


def default_library_path() -> Path:
    """``TEXTLENS_LIBRARY``, else a library in the user data directory."""
    if os.environ.get("TEXTLENS_LIBRARY"):
        return Path(os.environ["TEXTLENS_LIBRARY"]).expanduser()
    return Path(platformdirs.user_data_dir("textlens")) / "library"


def sha256_of(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


class Library:
    """One library: a folder with a SQLite database, copied attachments, an index and settings."""

    def __init__(self, path: Path, settings: Settings, conn: sqlite3.Connection):
        self.path = path
        self.settings = settings
        self.conn = conn
        self.index = SearchIndex(path)

    # -- opening -----------------------------------------------------------------------------

    @classmethod
    def init(cls, path: Path | str | None = None) -> Library:
        """Create a library folder (or open it if it exists)."""
        return cls.open(path, create=True)

    @classmethod
    def open(
        cls, path: Path | str | None = None, overrides: dict[str, Any] | None = None,
        *, create: bool = False,
    ) -> Library:
        """Open an existing library; with ``create=True`` make it first if needed."""
        path = Path(path) if path else default_library_path()
        if create:
            _create_folder(path)
        if not (path / DB_FILE).exists():
            raise LibraryNotFoundError(
                f"no textlens library at {path}; create one with `textlens init` "
                "(choose the folder with --library DIR or TEXTLENS_LIBRARY)"
            )
        settings = Settings.load(path, overrides)
        library = cls(path, settings, connect(path / DB_FILE))
        if library.index.needs_rebuild and rec.has_records(library.conn):
            library.index.rebuild(library.conn)
        # Repair an index left behind by a crash between a database commit and its index commit.
        library.index.catch_up(library.conn, max_rows=SEARCH_CATCH_UP_ROWS)
        return library

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- records and attachments --------------------------------------------------------------

    def add(
        self, paths: Iterable[Path | str], *, title: str | None = None, body: str = "",
        link: bool = False, source: str | None = None,
    ) -> RecordInfo:
        """One new record with these files attached (copied into the library, or linked)."""
        files = self._check_files(paths, link)
        # The store lock keeps `remove` from deleting a copy between its copy-in and commit.
        with self._store_lock():
            prepared = [self._prepare_file(f, link) for f in files]
            with transaction(self.conn):
                record_id = rec.insert_record(
                    self.conn, title if title is not None else _title_for(files), body, source
                )
                self._insert_attachments(record_id, prepared)
        return self.record(record_id)

    def attach(self, record_id: int, paths: Iterable[Path | str], *,
               link: bool = False) -> RecordInfo:
        """Attach more files to an existing record."""
        self.record(record_id)
        files = self._check_files(paths, link)
        with self._store_lock():
            prepared = [self._prepare_file(f, link) for f in files]
            with transaction(self.conn):
                self._insert_attachments(record_id, prepared)
                rec.enqueue_index(self.conn, "record", record_id)
        return self.record(record_id)

    def detach(self, attachment_id: int) -> None:
        """Delete one attachment from its record (its OCR stays, keyed by content)."""
        attachment = self.attachment(attachment_id)
        with self._store_lock():
            with transaction(self.conn):
                rec.delete_attachment(self.conn, attachment_id)
                rec.enqueue_index(self.conn, "record", attachment.record_id)
            if not attachment.linked and not rec.copy_in_use(self.conn, attachment.path):
                (self.path / attachment.path).unlink(missing_ok=True)
        self.index.catch_up(self.conn)

    def _insert_attachments(self, record_id: int, prepared: list[dict[str, Any]]) -> None:
        for info in prepared:
            rec.ensure_content(self.conn, info["sha256"], info["mime"], info["size"],
                               info.pop("skip_reason"))
            rec.insert_attachment(self.conn, record_id, **info)

    def _check_files(self, paths: Iterable[Path | str], link: bool) -> list[Path]:
        files = [Path(p).expanduser() for p in paths]
        for file in files:
            if file.is_dir():
                raise NotFoundError(
                    f"{file} is a folder; use `textlens add --each {file}` for one record per "
                    "file in it"
                )
            if not file.is_file():
                raise NotFoundError(f"{_printable(str(file))} is not a file; check the path")
            if link and _printable(str(file)) != str(file):
                raise UnsupportedFileError(
                    f"cannot link {_printable(str(file))}: its name is not valid UTF-8; rename "
                    "it, or add it without --link (a copy keeps the name with � for bad bytes)"
                )
        return files

    def add_each(
        self, folder: Path | str, *, link: bool = False,
        errors: list[tuple[str, str]] | None = None,
    ) -> list[RecordInfo]:
        """One record per file found (recursively) in ``folder``.

        With an ``errors`` list, a file that cannot be added is noted there as (path, reason)
        and the others are still added; without one, the first such file raises."""
        root = Path(folder).expanduser()
        if not root.is_dir():
            raise NotFoundError(f"{root} is not a folder")
        own = self.path.resolve()  # never add the library's own files when it sits inside
        files = sorted(p for p in root.rglob("*") if p.is_file() and not _hidden(p, root)
                       and own not in p.resolve().parents)
        records = []
        for f in files:
            try:
                records.append(self.add([f], title=_printable(str(f.relative_to(root))),
                                        link=link))
            except (TextlensError, OSError) as e:
                if errors is None:
                    raise
                errors.append((_printable(str(f)), str(e)))
        return records

    def _prepare_file(self, file: Path, link: bool) -> dict[str, Any]:
        mime, skip_reason = filetypes.detect(file)
        stat = file.stat()
        if link:
            sha, path = sha256_of(file), str(file.resolve())
        else:
            sha, path = self._copy_in(file)
        return {
            "name": _printable(file.name), "path": path, "linked": link, "mime": mime,
            "size": stat.st_size,
            "mtime": stat.st_mtime, "sha256": sha, "skip_reason": skip_reason,
        }

    def _copy_in(self, file: Path) -> tuple[str, str]:
        """Copy a file into the content-addressed store (hashing while copying)."""
        digest = hashlib.sha256()
        store = self.path / FILES_DIR
        store.mkdir(exist_ok=True)
        with open(file, "rb") as src, tempfile.NamedTemporaryFile(dir=store, delete=False) as tmp:
            while chunk := src.read(1 << 20):
                digest.update(chunk)
                tmp.write(chunk)
        sha = digest.hexdigest()
        relative = Path(FILES_DIR) / sha[:2] / (sha + file.suffix.lower())
        target = self.path / relative
        target.parent.mkdir(exist_ok=True)
        # Always put our copy in place (same bytes if it was there): a concurrent `remove` that
        # unlinks the old copy can then never leave this new attachment without its file.
        os.replace(tmp.name, target)
        return sha, str(relative)

    def remove(self, record_id: int) -> None:
        """Delete a record and its attachments; a copied file goes when no record uses it.

        OCR results stay, keyed by content, so adding the same file again needs no OCR.
        """
        record = self.record(record_id)
        with self._store_lock():
            with transaction(self.conn):
                rec.delete_record(self.conn, record_id)
            for a in record.attachments:
                if not a.linked and not rec.copy_in_use(self.conn, a.path):
                    (self.path / a.path).unlink(missing_ok=True)
        self.index.catch_up(self.conn)

    def set_specimen(
        self, record_id: int, *, catalog_number: str | None = None,
        processing_status: str | None = None, collection: str = "",
    ) -> RecordInfo:
        """Make a record a specimen of ``collection`` with this catalog number and processing
        status (None clears them). A catalog number is unique within its collection."""
        record = self.record(record_id)
        catalog_number = (catalog_number or "").strip() or None
        processing_status = (processing_status or "").strip() or None
        collection = collection.strip()
        with transaction(self.conn):
            if catalog_number is not None:
                taken = [r for r in rec.records_by_catalog_number(
                    self.conn, catalog_number, collection) if r != record.id]
                if taken:
                    where = f"collection {collection!r}" if collection else "the library"
                    raise ConflictError(
                        f"catalog number {catalog_number} is already record {taken[0]} in "
                        f"{where}; change that record, or use another collection"
                    )
            rec.set_specimen_fields(self.conn, record.id, catalog_number=catalog_number,
                                    processing_status=processing_status, collection=collection)
        return self.record(record.id)

    def specimens(self, catalog_number: str, collection: str | None = None) -> list[RecordInfo]:
        """The records with this catalog number, in ``collection`` or (None) in any."""
        return [self.record(i) for i in
                rec.records_by_catalog_number(self.conn, catalog_number.strip(), collection)]

    def import_records(
        self, path: Path | str, *, collection: str = "", link: bool = False,
    ) -> records_import.ImportReport:
        """Create or update specimen records of ``collection`` from a CSV file or a Darwin Core
        Archive (catalog number, processing status, images). See workflows/records_import.py."""
        # The store lock, as in `add`: `remove` must not delete a copy before its commit.
        with self._store_lock():
            report = records_import.import_records(
                self.conn, Path(path), collection=collection.strip(), link=link,
                prepare=self._prepare_file)
        self.index.catch_up(self.conn)
        return report

    def record(self, record_id: int) -> RecordInfo:
        found = rec.get_record(self.conn, record_id)
        if found is None:
            raise NotFoundError(f"no record {record_id}; `textlens search` or `status` list ids")
        return found

    def attachment(self, attachment_id: int) -> AttachmentInfo:
        found = rec.get_attachment(self.conn, attachment_id)
        if found is None:
            raise NotFoundError(f"no attachment {attachment_id}")
        return found

    def records(self, limit: int = 100, offset: int = 0) -> list[RecordInfo]:
        return rec.list_records(self.conn, limit, offset)

    def file_path(self, attachment: AttachmentInfo) -> Path:
        return Path(self.resolve(attachment.path, attachment.linked))

    def resolve(self, path: str, linked: bool) -> str:
        return path if linked else str(self.path / path)

    def ocr_text(self, attachment_id: int) -> dict[str, Any]:
        """An attachment's current OCR run: details and pages (text, confidence, word count)."""
        attachment = self.attachment(attachment_id)
        run = work.current_run(self.conn, attachment.sha256)
        if run is None:
            return {"run": None, "pages": []}
        pages = [_page_dict(p) for p in work.run_pages(self.conn, run["id"])]
        details = {k: run[k] for k in ("id", "source", "engine", "engine_version", "model",
                                       "languages", "created", "complete")}
        details["params"] = json.loads(run["params"] or "{}")
        return {"run": details, "pages": pages}

    def show(self, target: str | int, *, text: bool = False) -> dict[str, Any]:
        """A record (``12``) or attachment (``a7``): its fields, attachments, OCR state, run
        details and (with ``text``) the text of every page."""
        kind, number = parse_id(target)
        data: dict[str, Any] = {}
        if kind == "record":
            record = self.record(number)
            data["record"] = {"id": record.id, "title": record.title, "body": record.body,
                              "catalog_number": record.catalog_number,
                              "processing_status": record.processing_status,
                              "collection": record.collection}
            attachments = record.attachments
        else:
            attachments = [self.attachment(number)]
        data["attachments"] = []
        for a in attachments:
            ocr_data = self.ocr_text(a.id)
            if not text:
                for p in ocr_data["pages"]:
                    p.pop("text")
            data["attachments"].append({**a.to_dict(), "ocr": ocr_data})
        return data

    def ocr_page(self, attachment_id: int, page: int) -> dict[str, Any] | None:
        """One page of an attachment's current OCR, as ``ocr_text`` gives each page, plus the
        run's ``source`` (engine, text-layer, import); None when that page has no OCR."""
        run = work.current_run(self.conn, self.attachment(attachment_id).sha256)
        row = work.run_page(self.conn, run["id"], page) if run else None
        if run is None or row is None:
            return None
        return {**_page_dict(row), "source": run["source"]}

    def page_preview(self, attachment_id: int, page: int = 1, max_side: int = 1600) -> bytes:
        """JPEG of one page of an attachment, no side over ``max_side``, in the frame of its
        word boxes (a box's pixels scale by the preview's width over the page's width)."""
        from .pipeline.previews import shared_renderer

        attachment = self.attachment(attachment_id)
        if attachment.mime is None:
            raise UnsupportedFileError(f"{attachment.name} is not an image or PDF; no preview")
        if page < 1 or (attachment.pages is not None and page > attachment.pages):
            raise NotFoundError(f"{attachment.name} has no page {page}")
        return shared_renderer().preview(
            str(self.file_path(attachment)), attachment.sha256, attachment.mime, page,
            limits_from(self.settings), max_side)

    def locate(self, attachment_id: int, page: int, query: str, *,
               fuzzy: bool = False) -> PageHit | None:
        """Where ``query`` matches on one page of an attachment's current OCR: the words'
        boxes and a snippet; None when that page has no OCR."""
        run = work.current_run(self.conn, self.attachment(attachment_id).sha256)
        return locate_hits(self.conn, run["id"], page, query, fuzzy=fuzzy) if run else None

    def page_words(self, attachment_id: int, page: int) -> list[Any]:
        attachment = self.attachment(attachment_id)
        run = work.current_run(self.conn, attachment.sha256)
        return work.page_words(self.conn, run["id"], page) if run else []

    # -- OCR ---------------------------------------------------------------------------------

    def ocr_file(self, path: Path | str, *, engine: str | None = None,
                 languages: str | None = None) -> dict[str, Any]:
        """OCR a file now without adding it (the web API's `POST /api/ocr`): its pages with
        text, words and boxes, read with this library's engine and languages. Nothing is
        stored."""
        from .pipeline.oneshot import ocr_file

        return ocr_file(Path(path), self.settings, engine=engine, languages=languages)


    def refresh_links(self) -> int:
        """Re-hash linked files whose size or mtime changed; return how many changed."""
        changed = 0
        for row in rec.linked_attachments(self.conn):
            try:
                stat = os.stat(row["path"])
            except FileNotFoundError:
                continue  # reported when its page is read; `watch` removes deleted files
            if stat.st_size == row["size"] and stat.st_mtime == row["mtime"]:
                continue
            changed += self.update_linked(row["id"])
        return changed

    def update_linked(self, attachment_id: int) -> int:
        """Re-read a linked file; if its bytes changed, it is OCR'd again. Returns 1 if so."""
        attachment = self.attachment(attachment_id)
        path, old_sha = Path(attachment.path), attachment.sha256
        stat = path.stat()
        sha = sha256_of(path)
        mime, skip_reason = filetypes.detect(path)
        with transaction(self.conn):
            if sha == old_sha:
                rec.touch_attachment_mtime(self.conn, attachment_id, stat.st_mtime)
                return 0
            rec.ensure_content(self.conn, sha, mime, stat.st_size, skip_reason)
            rec.update_attachment_file(self.conn, attachment_id, size=stat.st_size,
                                       mtime=stat.st_mtime, sha256=sha, mime=mime)
        return 1

    def scan(
        self, *, limit: int | None = None, on_progress: ProgressCallback | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> ScanReport:
        """OCR pending pages in worker processes; one scan per library at a time. When
        ``should_stop()`` turns true the scan ends early (``report.stopped``), its unfinished
        pages queued for the next one."""
        if not self.settings.ocr:
            raise TextlensError(
                "OCR is turned off for this library (setting ocr = false); turn it on with "
                "`textlens config set ocr true`, or OCR one record with `textlens ocr ID`"
            )
        with self._scan_lock():
            self.refresh_links()
            return self._run_scanner(limit=limit, on_progress=on_progress,
                                     should_stop=should_stop)

    def ocr(
        self, target: str | int, *, engine: str | None = None, languages: str | None = None,
        on_progress: ProgressCallback | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> ScanReport:
        """OCR one record (all its attachments) or one attachment (``a<N>``) now, again if done.

        Works whether or not background OCR is on. An engine or languages given here stay
        with those files for later re-runs."""
        targets = self.check_ocr(target, engine=engine, languages=languages)
        with self._scan_lock():
            # Under the lock: a running scan must never see its pages reset under it.
            for attachment in targets:
                if attachment.linked and Path(attachment.path).exists():
                    self.update_linked(attachment.id)  # OCR the bytes on disk now
            targets = [self.attachment(a.id) for a in targets]
            shas = sorted({a.sha256 for a in targets if a.state != "skipped"})
            with transaction(self.conn):
                for sha in shas:
                    work.request_reocr(self.conn, sha, engine, languages)
            return self._run_scanner(only=shas, on_progress=on_progress,
                                     should_stop=should_stop)

    def check_ocr(self, target: str | int, *, engine: str | None = None,
                  languages: str | None = None) -> list[AttachmentInfo]:
        """What `ocr` checks before it starts (the web app, before it queues the work): the
        languages are codes, the engine exists, and the target has something to OCR. Its
        attachments."""
        if languages:
            settings_mod.check_languages(languages)  # not a wait for data that cannot exist
        if engine:
            from .engines import registry

            registry.engine_class(engine, self.settings.plugins)  # fail early on a typo
        return self.targets(target, ocrable=True)

    def targets(self, target: str | int, *, ocrable: bool = False) -> list[AttachmentInfo]:
        """The attachments an id names: a record's (``12``) or one attachment (``a7``); with
        ``ocrable``, an error unless at least one of them can be OCR'd."""
        kind, number = parse_id(target)
        attachments = [self.attachment(number)] if kind == "attachment" else \
            self.record(number).attachments
        if ocrable and not attachments:
            raise NotFoundError(f"record {number} has no attachments; nothing to OCR")
        if ocrable and all(a.state == "skipped" for a in attachments):
            reasons = "; ".join(f"{a.name}: {a.reason}" for a in attachments)
            raise UnsupportedFileError(f"nothing to OCR in {target} ({reasons})")
        return attachments

    def status_by_processing_status(self, collection: str | None = None) -> list[dict[str, Any]]:
        """Per processing status (``none`` for records without one): records, records with
        images, records whose images all have OCR, some, none. See store/collections.py."""
        return collections.coverage_by_status(self.conn, collection)

    def batch(
        self, status: str, *, limit: int = 100, collection: str | None = None,
        on_progress: ProgressCallback | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> dict[str, Any]:
        """OCR the images of up to ``limit`` records in processing ``status`` (``none``: records
        without one) that do not have OCR for every image yet; failed images are tried again.
        Works whether or not background OCR is on. Returns ``{"records", "attachments",
        "pages", "failed", "waiting", "seconds"}``."""
        if limit < 1:
            raise SettingsError("--limit must be at least 1")
        with self._scan_lock():
            record_ids = collections.records_needing_ocr(self.conn, status.strip(), limit,
                                                         collection)
            todo = collections.contents_to_do(self.conn, record_ids)
            with transaction(self.conn):
                for row in todo:
                    if row["state"] == "failed":  # asked for now: a fresh set of attempts
                        work.request_reocr(self.conn, row["sha256"], None, None)
            shas = [row["sha256"] for row in todo]
            report = self._run_scanner(only=shas, on_progress=on_progress,
                                       should_stop=should_stop) if shas else ScanReport()
        wanted = set(shas)
        attachments = sum(1 for r in record_ids for a in self.record(r).attachments
                          if a.sha256 in wanted)
        return {"records": len(record_ids), "attachments": attachments,
                "pages": report.pages_done, "failed": report.attachments_failed,
                "waiting": report.attachments_waiting, "seconds": round(report.seconds, 2),
                "failures": report.failures}

    def scan_in_progress(self) -> bool:
        """Whether another process is scanning this library right now."""
        try:
            with self._scan_lock():
                return False
        except BusyError:
            return True

    @contextmanager
    def _store_lock(self) -> Iterator[None]:
        with FileLock(str(self.path / STORE_LOCK)):
            yield

    @contextmanager
    def _scan_lock(self) -> Iterator[None]:
        lock = FileLock(str(self.path / SCAN_LOCK))
        try:
            lock.acquire(timeout=0)
        except Timeout as e:
            raise BusyError(
                "another scan is running on this library; wait for it to finish (or stop it)"
            ) from e
        try:
            yield
        finally:
            lock.release()

    def _run_scanner(self, *, limit: int | None = None, only: Iterable[str] | None = None,
                     on_progress: ProgressCallback | None = None,
                     should_stop: Callable[[], bool] | None = None) -> ScanReport:
        log = self.path / WORKER_LOG
        if log.exists() and log.stat().st_size > 10_000_000:
            os.replace(log, log.with_suffix(".log.1"))  # keep one old log, bounded
        scanner = Scanner(
            self.conn, self.settings, self.resolve,
            lambda: self.index.catch_up(self.conn), on_progress,
            log_path=str(log), should_stop=should_stop,
        )
        report = scanner.run(limit=limit, only=only)
        if only is None:  # a whole scan reports the library's skipped files; `ocr` has none
            report.attachments_skipped = work.skipped_count(self.conn)
        return report

    def has_work(self) -> bool:
        """Whether `scan` would find pages or files due for OCR now."""
        return work.has_due_work(self.conn, time.time(), self.settings.max_attempts)

    def work_due(self) -> bool:
        """Whether a background scan (`watch`, `serve`) has anything to do: work due now, or
        linked files changed on disk (re-hashed here, which queues them)."""
        return self.has_work() or self.refresh_links() > 0

    def status(self, *, failures: bool = False) -> dict[str, Any]:
        counts = work.status_counts(self.conn)
        counts["ocr_enabled"] = self.settings.ocr
        if failures:
            counts["failures"] = work.failures(self.conn)
        return counts

    # -- language data -------------------------------------------------------------------------

    def languages_in_use(self) -> list[str]:
        """The languages this library OCRs with: the `languages` setting, then those given to
        single files (`textlens ocr ID --languages`)."""
        langs = list(self.settings.language_list)
        for combination in work.language_overrides(self.conn):
            langs += split_languages(combination)
        return list(dict.fromkeys(langs))

    def language_data(self) -> dict[str, Any]:
        """What `textlens langs` shows. ``{"model", "source" (URL or folder, may hold
        {lang}), "source_set" (the `langdata` setting is set), "installed_first" (installed
        data is used before the source), "cache" (folder), "in_use" (languages_in_use),
        "missing" (those in use that are not here yet), "languages": [{"language", "origin"
        (pip | system | folder | cache), "where" (label, folder or URL), "path", "model",
        "fetched" (ISO time, cache only), "used" (what these settings give Tesseract)}]}``"""
        config = langdata.Config.from_settings(self.settings)
        rows = langdata.inventory(config)
        here = {r["language"] for r in rows if r["used"]}
        in_use = self.languages_in_use()
        return {"model": config.model, "source": config.source,
                "source_set": bool(config.langdata), "installed_first": config.uses_installed,
                "cache": str(config.cache), "in_use": in_use,
                "missing": [lang for lang in in_use if lang not in here], "languages": rows}

    def fetch_languages(self, languages: Iterable[str], *,
                        on_progress: langdata.FetchProgress | None = None
                        ) -> list[dict[str, Any]]:
        """Have these languages here now, fetching what is missing into the cache (with
        ``on_progress(language, bytes, total or None)``). One result per language: ``{"language",
        "status": "ready" | "fetched" | "failed", "origin", "where", "path", "error"}``."""
        config = langdata.Config.from_settings(self.settings)
        return langdata.fetch_languages(languages, config, on_progress)

    def clear_language_cache(self, *, refetch: bool = False,
                             on_progress: langdata.FetchProgress | None = None
                             ) -> dict[str, Any]:
        """Delete the language data cache (shared by every library of this user); with
        ``refetch``, fetch again the languages this library uses. ``{"cache", "files",
        "bytes"}`` removed, and with ``refetch`` also ``"refetched"``: fetch_languages'
        results."""
        result = langdata.clear_cache(langdata.Config.from_settings(self.settings))
        if refetch:
            result["refetched"] = self.fetch_languages(self.languages_in_use(),
                                                       on_progress=on_progress)
        return result

    # -- search --------------------------------------------------------------------------------

    def search(self, query: str, *, limit: int = 20, fuzzy: bool = False) -> SearchResults:
        self.index.catch_up(self.conn, max_rows=SEARCH_CATCH_UP_ROWS)
        return run_search(self.index, self.conn, query, limit=limit, fuzzy=fuzzy)

    def reindex(self) -> int:
        """Rebuild the search index from the database; return the number of documents."""
        return self.index.rebuild(self.conn)

    def import_ocr(
        self, path: Path | str, *, pattern: str | None = None, source: str | None = None,
        collection: str | None = None, dry_run: bool = False,
    ) -> ocr_import.ImportReport:
        """Import OCR text made elsewhere (a zip or folder of .txt files named by catalog
        number) onto specimen records' images; returns a report of every file. See
        workflows/ocr_import.py."""
        return ocr_import.run_import(
            self, path, pattern=pattern or ocr_import.DEFAULT_PATTERN,
            source=source or ocr_import.DEFAULT_SOURCE, collection=collection, dry_run=dry_run)

    def export_ocr(self, path: Path | str, since: float | None = None) -> dict[str, Any]:
        """Write every complete OCR run (created at or after ``since``) as JSON Lines to
        ``path`` (``-``: stdout); see workflows/sync.py."""
        return sync.export_ocr(self, path, since)

    def import_ocr_bundle(self, path: Path | str) -> dict[str, Any]:
        """Load runs written by `export_ocr`: bytes held here are done without OCR, others are
        kept until a file with them is added; see workflows/sync.py."""
        return sync.import_bundle(self, path)

    # -- settings ------------------------------------------------------------------------------

    def set_setting(self, name: str, value: Any) -> Any:
        result = settings_mod.write_setting(self.path, name, value)
        self.settings = Settings.load(self.path)
        return result

    def set_settings(self, values: dict[str, Any]) -> dict[str, Any]:
        """Write several settings into ``textlens.toml`` at once; all are checked first."""
        result = settings_mod.write_settings(self.path, values)
        self.settings = Settings.load(self.path)
        return result

    def settings_table(self) -> dict[str, dict[str, Any]]:
        """Every setting: ``{"value", "source" (default, textlens.toml, TEXTLENS_*),
        "default", "env", "help", "type", "choices"}``."""
        return {s.name: {"value": self.settings.get(s.name), "source":
                         self.settings.sources[s.name], "default": s.default,
                         "env": s.env_var, "help": s.help, "type": s.type.__name__,
                         "choices": list(s.choices)}
                for s in settings_mod.SETTINGS}


def _page_dict(row: sqlite3.Row) -> dict[str, Any]:
    """A stored page as the API shows it: its words counted, not listed."""
    return {"page": row["page"], "method": row["method"], "width": row["width"],
            "height": row["height"], "rotation": row["rotation"],
            "confidence": row["confidence"], "text": row["text"],
            "extra_text": row["extra_text"], "words": len(wordboxes.texts(row["words"]))}


def _create_folder(path: Path) -> None:
    """A library's folder, `files/`, a commented `textlens.toml` and the database (idempotent)."""
    path.mkdir(parents=True, exist_ok=True)
    (path / FILES_DIR).mkdir(exist_ok=True)
    config = path / CONFIG_FILE
    if not config.exists():
        config.write_text(settings_mod.default_file_text(), encoding="utf-8")
    if not (path / DB_FILE).exists():
        connect(path / DB_FILE).close()


def parse_id(target: str | int) -> tuple[str, int]:
    """``12`` or ``r12`` is record 12; ``a7`` is attachment 7."""
    text = str(target).strip().lower()
    kind = "record"
    if text[:1] in ("a", "r"):
        kind = "attachment" if text[0] == "a" else "record"
        text = text[1:]
    if not text.isdigit() or len(text) > 18:  # SQLite ids are 64-bit
        raise NotFoundError(
            f"{target!r} is not an id: use a record number (12) or an attachment id (a7)"
        )
    return kind, int(text)


def _title_for(files: list[Path]) -> str:
    if not files:
        return "Untitled"
    return _printable(files[0].stem) + (f" (+{len(files) - 1} more)" if len(files) > 1 else "")


def _printable(name: str) -> str:
    """A file name as text: bytes that are not UTF-8 (kept by Python as surrogates) become �."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)
