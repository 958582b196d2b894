"""The pages people use: search, records, attachments with their hits on the page, adding
files, and signing in. Each handler calls the Library and renders a template."""

from __future__ import annotations

import hmac
import tempfile
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import UploadFile as StarletteUpload

from ..engines import registry
from ..errors import NotFoundError, QuerySyntaxError
from .api import MAX_ID, Id, Lib, Service
from .api_ocr import start_ocr_again
from .security import SESSION_COOKIE, CsrfField, check_csrf
from .uploads import save_uploads
from .views import back_to, job_view, render

router = APIRouter(include_in_schema=False)

RECORDS_PER_PAGE = 50
PAGES_SHOWN = 20  # page texts per attachment on a record page; the rest page by page


@router.get("/")
def search_page(request: Request, lib: Lib, q: str = "", fuzzy: bool = False,
                offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0) -> Response:
    results, error = None, None
    if q.strip():
        try:
            results = lib.search(q, limit=50, fuzzy=fuzzy).to_dict()
        except QuerySyntaxError as e:
            error = str(e)
    records = lib.records(limit=RECORDS_PER_PAGE, offset=offset) if not q.strip() else []
    return render(request, lib, "search.html", q=q, fuzzy=fuzzy, results=results,
                  error=error, records=records, offset=offset, per_page=RECORDS_PER_PAGE)


@router.post("/records")
async def add_record(request: Request, lib: Lib, service: Service, csrf: CsrfField = None,
                     title: Annotated[str, Form()] = "", body: Annotated[str, Form()] = ""
                     ) -> Response:
    check_csrf(request, csrf)
    uploads = await chosen_files(request, "add")
    with tempfile.TemporaryDirectory(prefix="textlens-upload-") as tmp:
        paths = await save_uploads(uploads, Path(tmp), request.app.state.max_upload_bytes)
        record = await run_in_threadpool(lib.add, paths, title=title.strip() or None,
                                         body=body)
    service.wake()
    return RedirectResponse(f"/records/{record.id}", status_code=303)


async def chosen_files(request: Request, verb: str) -> list[StarletteUpload]:
    """The files of a form's `files` field (a browser sends an empty part when none is
    chosen, which is no file), or a 400 saying what to do."""
    form = await request.form()
    uploads = [f for f in form.getlist("files") if isinstance(f, StarletteUpload) and f.filename]
    if not uploads:
        raise HTTPException(400, f"choose at least one image or PDF to {verb}")
    return uploads


@router.get("/records/{record_id}")
def record_page(request: Request, record_id: Id, lib: Lib, job: int | None = None) -> Response:
    shown = lib.show(record_id, text=True)
    engines = [e for e in registry.describe(lib.settings.plugins) if e["available"]]
    return render(request, lib, "record.html", record=shown["record"],
                  attachments=shown["attachments"], engines=engines,
                  settings=lib.settings, job=job_view(request, job, "ocr"),
                  max_pages=PAGES_SHOWN)


@router.post("/records/{record_id}/ocr")
def ocr_again(request: Request, record_id: Id, lib: Lib, service: Service, csrf: CsrfField = None,
              engine: Annotated[str, Form()] = "", languages: Annotated[str, Form()] = "",
              attachment: Annotated[int | None, Form()] = None) -> Response:
    check_csrf(request, csrf)
    record = lib.record(record_id)
    target = str(record_id)
    if attachment is not None:
        if attachment not in {a.id for a in record.attachments}:
            raise NotFoundError(f"record {record_id} has no attachment {attachment}")
        target = f"a{attachment}"
    job = start_ocr_again(lib, service, target, engine, languages)
    return RedirectResponse(f"/records/{record_id}?job={job.id}", status_code=303)


@router.post("/records/{record_id}/attachments")
async def attach(request: Request, record_id: Id, lib: Lib, service: Service,
                 csrf: CsrfField = None) -> Response:
    check_csrf(request, csrf)
    lib.record(record_id)
    uploads = await chosen_files(request, "attach")
    with tempfile.TemporaryDirectory(prefix="textlens-upload-") as tmp:
        paths = await save_uploads(uploads, Path(tmp), request.app.state.max_upload_bytes)
        await run_in_threadpool(lib.attach, record_id, paths)
    service.wake()
    return RedirectResponse(f"/records/{record_id}", status_code=303)


@router.post("/records/{record_id}/delete")
def delete_record(request: Request, record_id: Id, lib: Lib, csrf: CsrfField = None) -> Response:
    check_csrf(request, csrf)
    lib.remove(record_id)
    return RedirectResponse("/", status_code=303)


@router.get("/attachments/{attachment_id}")
def attachment_page(request: Request, attachment_id: Id, lib: Lib,
                    page: Annotated[int, Query(ge=1)] = 1, q: str = "",
                    fuzzy: bool = False) -> Response:
    attachment = lib.attachment(attachment_id)
    page_data = lib.ocr_page(attachment_id, page)
    if attachment.pages is not None and page > max(attachment.pages, 1):
        raise NotFoundError(f"{attachment.name} has {attachment.pages} pages, not {page}")
    boxes: list[dict[str, float]] = []
    if q.strip() and page_data and page_data["width"] and page_data["height"]:
        try:
            hit = lib.locate(attachment_id, page, q, fuzzy=fuzzy)
        except QuerySyntaxError:
            hit = None
        boxes = [_percent(box, page_data) for box in (hit.boxes if hit else [])]
    return render(request, lib, "attachment.html", attachment=attachment,
                  page=page, page_data=page_data, boxes=boxes, q=q, fuzzy=fuzzy,
                  record=lib.record(attachment.record_id), page_count=attachment.pages or 1)


def _percent(box: Any, page: dict[str, Any]) -> dict[str, float]:
    """A box in page pixels as percentages of the page: it then fits the image at any size."""
    left, top, right, bottom = box
    w, h = page["width"], page["height"]
    return {"left": round(100 * left / w, 3), "top": round(100 * top / h, 3),
            "width": round(100 * (right - left) / w, 3),
            "height": round(100 * (bottom - top) / h, 3)}


@router.post("/scanner/{action}")
def scanner_control(request: Request, action: str, service: Service, csrf: CsrfField = None,
                    next_: Annotated[str, Form(alias="next")] = "/") -> Response:
    check_csrf(request, csrf)
    if action == "pause":
        service.pause()
    elif action == "resume":
        service.resume()
    else:
        raise NotFoundError(f"no scanner action {action!r}; use pause or resume")
    return back_to(next_)


@router.get("/login")
def login_page(request: Request, next_: Annotated[str, Query(alias="next")] = "/",
               failed: bool = False) -> Response:
    if not request.app.state.token:
        return back_to(next_)
    return render(request, None, "login.html", next=next_, failed=failed, hide_scanner=True)


@router.post("/login")
def login(request: Request, csrf: CsrfField = None, token: Annotated[str, Form()] = "",
          next_: Annotated[str, Form(alias="next")] = "/") -> Response:
    check_csrf(request, csrf)
    expected = request.app.state.token
    if not expected:
        return back_to(next_)
    if not hmac.compare_digest(token.encode(), expected.encode()):
        return RedirectResponse(f"/login?failed=true&next={quote(next_)}", status_code=303)
    response = back_to(next_)
    # A session cookie (no max-age): it ends with the browser session or the server's run.
    response.set_cookie(SESSION_COOKIE, request.app.state.session, httponly=True,
                        samesite="lax", secure=request.url.scheme == "https")
    return response


@router.post("/logout")
def logout(request: Request, csrf: CsrfField = None) -> Response:
    check_csrf(request, csrf)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response
