"""OCR routes of the REST API: OCR one file now, re-OCR, batches, the background scanner,
jobs, imports of OCR made elsewhere, and the sync feed."""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, HTTPException, Query, Request, Response, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, Field

from ..engines import registry
from ..errors import NotFoundError
from ..library import Library
from ..settings import check_languages
from ..workflows.sync import bundle_lines
from .api import Id, Lib, Service
from .api_settings import accepted
from .ocr_service import Job, OcrService
from .uploads import save_uploads

router = APIRouter(prefix="/api")

class BatchRequest(BaseModel):
    status: str = Field(description="Processing status; `none` for records without one.",
                        min_length=1, max_length=200)
    limit: int = Field(default=100, ge=1, le=100_000, description="At most this many records.")
    collection: str | None = Field(default=None, max_length=200)


class OcrAgainRequest(BaseModel):
    engine: str | None = Field(default=None, max_length=200, description="Another engine to use.")
    languages: str | None = Field(default=None, max_length=200, description="e.g. eng+deu")


@router.post("/ocr", summary="OCR an uploaded image or PDF now; nothing is stored")
async def ocr(
    request: Request, lib: Lib,
    file: Annotated[UploadFile, File(description="An image or PDF.")],
    languages: Annotated[str | None, Form(description="e.g. eng+deu")] = None,
    engine: Annotated[str | None, Form()] = None,
) -> dict[str, Any]:
    if engine:  # an unknown name is a 400 before anything is read or started
        registry.engine_class(engine, lib.settings.plugins)
    if languages:
        check_languages(languages)
    slots = _ocr_slots(request, lib)
    # Busy: say so at once (a remote engine retries a 429 later) rather than hold a thread.
    if not slots.acquire(blocking=False):
        raise HTTPException(429, f"the server is OCRing {lib.settings.worker_count} files "
                                 "for other requests; try again in a few seconds",
                            headers={"Retry-After": "5"})
    try:
        with tempfile.TemporaryDirectory(prefix="textlens-ocr-") as tmp:
            paths = await save_uploads([file], Path(tmp), request.app.state.max_upload_bytes)
            # The engine runs in a worker process with the page time limit; this thread waits.
            return await run_in_threadpool(lib.ocr_file, paths[0], engine=engine,
                                           languages=languages)
    finally:
        slots.release()


_slots_lock = threading.Lock()


def _ocr_slots(request: Request, lib: Library) -> threading.BoundedSemaphore:
    """As many OCR requests at once as the library has workers (set when the first comes):
    each is a worker process, and the server's own background OCR needs the cores too."""
    state = request.app.state
    with _slots_lock:
        if getattr(state, "ocr_slots", None) is None:
            state.ocr_slots = threading.BoundedSemaphore(lib.settings.worker_count)
        return state.ocr_slots  # type: ignore[no-any-return]


@router.post("/records/{record_id}/ocr", status_code=202, response_model=None,
             summary="OCR a record's attachments again (a job), with another engine or "
                     "languages if given")
def ocr_record(record_id: Id, lib: Lib, service: Service,
               body: OcrAgainRequest | None = None) -> JSONResponse:
    body = body or OcrAgainRequest()
    return accepted(start_ocr_again(lib, service, str(record_id), body.engine, body.languages))


@router.post("/attachments/{attachment_id}/ocr", status_code=202, response_model=None,
             summary="OCR one attachment again (a job)")
def ocr_attachment(attachment_id: Id, lib: Lib, service: Service,
                   body: OcrAgainRequest | None = None) -> JSONResponse:
    body = body or OcrAgainRequest()
    return accepted(start_ocr_again(lib, service, f"a{attachment_id}", body.engine,
                                    body.languages))


def start_ocr_again(lib: Library, service: OcrService, target: str, engine: str | None,
                    languages: str | None) -> Job:
    """Check what can be checked now (a 4xx beats a failed job), then queue the OCR."""
    engine, languages = (engine or "").strip() or None, (languages or "").strip() or None
    lib.check_ocr(target, engine=engine, languages=languages)
    label = f"OCR {'attachment ' + target[1:] if target.startswith('a') else 'record ' + target}"
    if engine or languages:
        label += f" with {' '.join(x for x in (engine, languages) if x)}"
    return service.submit("ocr", label, lambda job_lib, control: job_lib.ocr(
        target, engine=engine, languages=languages, on_progress=control.progress,
        should_stop=control.should_stop).to_dict())


@router.post("/batch", status_code=202, response_model=None,
             summary="OCR the images of records in a processing status (a job)")
def batch(body: BatchRequest, service: Service) -> JSONResponse:
    return accepted(start_batch(service, body.status, body.limit, body.collection))


def start_batch(service: OcrService, status: str, limit: int, collection: str | None) -> Job:
    collection = (collection or "").strip() or None
    label = f"batch: {limit} records in status {status!r}" + (
        f" of {collection}" if collection else "")
    return service.submit("batch", label, lambda lib, control: lib.batch(
        status, limit=limit, collection=collection, on_progress=control.progress,
        should_stop=control.should_stop))


@router.get("/jobs", summary="Jobs started on this server, newest first")
def jobs(service: Service) -> list[dict[str, Any]]:
    return [j.to_dict() for j in service.jobs()]


@router.get("/jobs/{job_id}", summary="One job: state, progress, and its result or error")
def job(job_id: Id, service: Service) -> dict[str, Any]:
    found = service.job(job_id)
    if found is None:
        raise NotFoundError(f"no job {job_id} (jobs are kept until the server restarts)")
    return found.to_dict()


@router.get("/scanner", summary="The background scanner: state, progress, and the library's "
                                "OCR counts (as /api/status, up to 2 s old)")
def scanner(lib: Lib, service: Service) -> dict[str, Any]:
    return {**service.state(), "library": service.library_counts(lib)}


@router.post("/scanner/pause", summary="Pause background OCR (jobs still run)")
def pause(service: Service) -> dict[str, Any]:
    service.pause()
    return service.state()


@router.post("/scanner/resume", summary="Resume background OCR")
def resume(service: Service) -> dict[str, Any]:
    service.resume()
    return service.state()


@router.post("/import-ocr", summary="Import OCR text made elsewhere: a zip of .txt files "
                                    "named by catalog number (as `import-ocr --json`)")
async def import_ocr(
    request: Request, lib: Lib,
    file: Annotated[UploadFile, File(description="A zip of .txt files.")],
    pattern: Annotated[str | None, Form(description="Regular expression on the file name "
                                                    "(without .txt) giving the catalog "
                                                    "number")] = None,
    source: Annotated[str | None, Form(description="Label of where the text came from")] = None,
    collection: Annotated[str | None, Form()] = None,
    dry_run: Annotated[bool, Form()] = False,
) -> dict[str, Any]:
    return await import_ocr_upload(request, lib, file, pattern, source, collection, dry_run)


async def import_ocr_upload(request: Request, lib: Library, file: UploadFile,
                            pattern: str | None, source: str | None, collection: str | None,
                            dry_run: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="textlens-import-") as tmp:
        paths = await save_uploads([file], Path(tmp), request.app.state.max_upload_bytes)
        report = await run_in_threadpool(
            lib.import_ocr, paths[0], pattern=pattern or None, source=source or None,
            collection=(collection or "").strip() or None, dry_run=dry_run)
    return report.to_dict()


@router.get("/ocr-results", summary="OCR runs as JSON Lines (as `export-ocr`), for sync",
            response_class=PlainTextResponse)
def ocr_results(lib: Lib, since: Annotated[float | None, Query(
        description="Only runs created at or after this Unix time")] = None) -> Response:
    # A client keeps the newest `created` it has seen and asks for what came after it.
    body = "".join(line + "\n" for line, _ in bundle_lines(lib, since))
    return PlainTextResponse(body, media_type="application/x-ndjson")
