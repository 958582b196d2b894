"""The REST API under ``/api``: each route calls one ``Library`` method and returns its JSON."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, Response, UploadFile
from fastapi import Path as Path_
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse

from ..errors import ConflictError, NotFoundError
from ..library import Library
from .ocr_service import OcrService
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
MAX_ID = 2**63 - 1  # SQLite's largest integer; a larger id names nothing
Id = Annotated[int, Path_(ge=1, le=MAX_ID)]


def ocr_service(request: Request) -> OcrService:
    return request.app.state.ocr  # type: ignore[no-any-return]


Service = Annotated[OcrService, Depends(ocr_service)]


@router.get("/records", summary="List records, oldest first")
def list_records(lib: Lib, limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                 offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0) -> dict[str, Any]:
    records = lib.records(limit=limit, offset=offset)
    return {"limit": limit, "offset": offset, "records": [r.to_dict() for r in records]}


@router.get("/records/{record_id}", summary="One record with its attachments")
def get_record(record_id: Id, lib: Lib) -> dict[str, Any]:
    return lib.record(record_id).to_dict()


@router.post("/records", status_code=201, summary="Create a record from uploaded files")
async def create_record(
    request: Request, lib: Lib, service: Service,
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
    service.wake()  # OCR it within seconds
    return record.to_dict()


@router.post("/records/{record_id}/attachments", status_code=201,
             summary="Attach more uploaded files to a record")
async def add_attachments(
    record_id: Id, request: Request, lib: Lib, service: Service,
    files: Annotated[list[UploadFile], File(description="One or more images or PDFs.")],
) -> dict[str, Any]:
    lib.record(record_id)  # 404 before reading the uploads
    with tempfile.TemporaryDirectory(prefix="textlens-upload-") as tmp:
        paths = await save_uploads(files, Path(tmp), request.app.state.max_upload_bytes)
        record = await run_in_threadpool(lib.attach, record_id, paths)
    service.wake()
    return record.to_dict()


@router.delete("/records/{record_id}", status_code=204, summary="Delete a record")
def delete_record(record_id: Id, lib: Lib) -> None:
    lib.remove(record_id)


@router.get("/attachments/{attachment_id}",
            summary="One attachment, its OCR state and run, and the text of each page")
def get_attachment(attachment_id: Id, lib: Lib) -> dict[str, Any]:
    attachment = lib.attachment(attachment_id)
    return {**attachment.to_dict(), "ocr": lib.ocr_text(attachment_id)}


@router.delete("/attachments/{attachment_id}", status_code=204,
               summary="Delete an attachment from its record")
def delete_attachment(attachment_id: Id, lib: Lib) -> None:
    lib.detach(attachment_id)


@router.get("/attachments/{attachment_id}/file", summary="The attachment's file itself",
            response_class=FileResponse)
def attachment_file(attachment_id: Id, lib: Lib) -> Response:
    attachment = lib.attachment(attachment_id)
    path = lib.file_path(attachment)
    if not path.is_file():
        raise NotFoundError(f"the file of attachment {attachment_id} is gone from {path}")
    # Always a download: an attachment is never rendered as a page of this site.
    return FileResponse(path, media_type=attachment.mime or "application/octet-stream",
                        filename=attachment.name, content_disposition_type="attachment")


@router.get("/attachments/{attachment_id}/pages/{page}/image",
            summary="A page drawn as JPEG, at the first of 120, 240, 480, 800, 1200, 1600, "
                    "2400 or 4000 pixels a side that is at least `size`",
            response_class=Response, responses={200: {"content": {"image/jpeg": {}}}})
def page_image(attachment_id: Id, lib: Lib, page: Annotated[int, Path_(ge=1, le=100_000)],
               size: Annotated[int, Query(ge=32, le=4000)] = 1600) -> Response:
    data = lib.page_preview(attachment_id, page, size)
    return Response(data, media_type="image/jpeg",
                    headers={"Cache-Control": "private, max-age=3600"})


@router.get("/attachments/{attachment_id}/pages/{page}/words",
            summary="Every word of a page's OCR with its box, and the page's size")
def page_words(attachment_id: Id, lib: Lib,
               page: Annotated[int, Path_(ge=1, le=100_000)]) -> dict[str, Any]:
    size = _page_size(lib, attachment_id, page)
    words = [{"text": w.text, "box": list(w.box), "confidence": w.confidence}
             for w in lib.page_words(attachment_id, page)]
    return {**size, "words": words}


@router.get("/attachments/{attachment_id}/pages/{page}/hits",
            summary="Where a query matches on a page: the boxes of the matching words")
def page_hits(attachment_id: Id, lib: Lib, page: Annotated[int, Path_(ge=1, le=100_000)],
              q: Annotated[str, Query(min_length=1)], fuzzy: bool = False) -> dict[str, Any]:
    size = _page_size(lib, attachment_id, page)
    hit = lib.locate(attachment_id, page, q, fuzzy=fuzzy)
    return {**size, "snippet": hit.snippet if hit else None,
            "boxes": [list(b) for b in hit.boxes] if hit else []}


def _page_size(lib: Library, attachment_id: int, page: int) -> dict[str, Any]:
    found = lib.ocr_page(attachment_id, page)
    if found is None:
        raise NotFoundError(f"attachment {attachment_id} has no OCR for page {page} (yet)")
    return {"page": page, "width": found["width"], "height": found["height"]}


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
