"""The REST API under ``/api``: each route calls one ``Library`` method and returns its JSON."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, Response, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse

from ..errors import ConflictError, UnsupportedFileError
from ..library import Library
from ..workflows.sync import bundle_lines
from .uploads import save_uploads

router = APIRouter(prefix="/api")


def open_library(request: Request) -> Iterator[Library]:
    """A Library per request: SQLite connections are not shared between the server's threads."""
    lib = Library.open(request.app.state.library_path)
    try:
        yield lib
    finally:
        lib.close()


Lib = Annotated[Library, Depends(open_library)]


@router.get("/records", summary="List records, oldest first")
def list_records(lib: Lib, limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                 offset: Annotated[int, Query(ge=0)] = 0) -> dict[str, Any]:
    records = lib.records(limit=limit, offset=offset)
    return {"limit": limit, "offset": offset, "records": [r.to_dict() for r in records]}


@router.get("/records/{record_id}", summary="One record with its attachments")
def get_record(record_id: int, lib: Lib) -> dict[str, Any]:
    return lib.record(record_id).to_dict()


@router.post("/records", status_code=201, summary="Create a record from uploaded files")
async def create_record(
    request: Request, lib: Lib,
    files: Annotated[list[UploadFile], File(description="One or more images or PDFs.")],
    title: Annotated[str | None, Form()] = None,
    body: Annotated[str, Form()] = "",
    catalog_number: Annotated[str | None, Form()] = None,
    processing_status: Annotated[str | None, Form()] = None,
    collection: Annotated[str, Form()] = "",
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="textlens-upload-") as tmp:
        paths = await save_uploads(files, Path(tmp), request.app.state.max_upload_bytes)
        record = await run_in_threadpool(lib.add, paths, title=title or None, body=body)
    if catalog_number or processing_status or collection:
        try:
            record = await run_in_threadpool(
                lib.set_specimen, record.id, catalog_number=catalog_number,
                processing_status=processing_status, collection=collection)
        except ConflictError:
            await run_in_threadpool(lib.remove, record.id)  # all or nothing
            raise
    return record.to_dict()


@router.delete("/records/{record_id}", status_code=204, summary="Delete a record")
def delete_record(record_id: int, lib: Lib) -> None:
    lib.remove(record_id)


@router.get("/attachments/{attachment_id}",
            summary="One attachment, its OCR state and run, and the text of each page")
def get_attachment(attachment_id: int, lib: Lib) -> dict[str, Any]:
    attachment = lib.attachment(attachment_id)
    return {**attachment.to_dict(), "ocr": lib.ocr_text(attachment_id)}


@router.get("/search", summary="Search records and their attachments' text (as `search --json`)")
def search(lib: Lib, q: Annotated[str, Query(min_length=1)],
           limit: Annotated[int, Query(ge=1, le=1000)] = 20,
           fuzzy: bool = False) -> dict[str, Any]:
    return lib.search(q, limit=limit, fuzzy=fuzzy).to_dict()


@router.get("/status", summary="OCR counts (as `status --json`)")
def status(lib: Lib, failures: bool = False) -> dict[str, Any]:
    return lib.status(failures=failures)


@router.get("/status/by-status", summary="OCR coverage per processing status")
def status_by_status(lib: Lib, collection: str | None = None) -> list[dict[str, Any]]:
    return lib.status_by_processing_status(collection)


@router.get("/ocr-results", summary="OCR runs as JSON Lines (as `export-ocr`), for sync",
            response_class=PlainTextResponse)
def ocr_results(lib: Lib, since: Annotated[float | None, Query(
        description="Only runs created at or after this Unix time")] = None) -> Response:
    # A client keeps the newest `created` it has seen and asks for what came after it.
    body = "".join(line + "\n" for line, _ in bundle_lines(lib, since))
    return PlainTextResponse(body, media_type="application/x-ndjson")


@router.post("/ocr", summary="OCR an uploaded image or PDF now; nothing is stored")
async def ocr(
    request: Request, lib: Lib,
    file: Annotated[UploadFile, File(description="An image or PDF.")],
    languages: Annotated[str | None, Form(description="e.g. eng+deu")] = None,
    engine: Annotated[str | None, Form()] = None,
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="textlens-ocr-") as tmp:
        paths = await save_uploads([file], Path(tmp), request.app.state.max_upload_bytes)
        if not paths:
            raise UnsupportedFileError("no file uploaded; send one image or PDF as `file`")
        # The engine runs in a worker process with the page time limit; this thread waits.
        return await run_in_threadpool(lib.ocr_file, paths[0], engine=engine,
                                       languages=languages)
