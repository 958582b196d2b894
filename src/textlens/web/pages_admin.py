"""The pages that run the library: the OCR toolbox for collections, and settings."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response

from ..engines import registry
from ..errors import TextlensError
from ..settings import SETTINGS_BY_NAME, coerce
from ..workflows.ocr_import import DEFAULT_PATTERN, DEFAULT_SOURCE
from .api import Lib, Service
from .api_ocr import import_ocr_upload, start_batch
from .api_settings import SECRET_SETTINGS, settings_view, start_clear_cache
from .security import CsrfField, check_csrf
from .views import job_view, render

router = APIRouter(include_in_schema=False)

# The settings the settings page edits; the rest stay in `textlens config`.
PAGE_SETTINGS = ("ocr", "engine", "languages", "model", "langdata", "workers", "remote_url",
                 "remote_token")


@router.get("/toolbox")
def toolbox(request: Request, lib: Lib, collection: str = "", job: int | None = None) -> Response:
    return _toolbox(request, lib, collection, job_view(request, job, "batch"))


def _toolbox(request: Request, lib: Lib, collection: str, job: dict[str, Any] | None,
             report: dict[str, Any] | None = None, import_error: str | None = None,
             form: dict[str, Any] | None = None, status_code: int = 200) -> Response:
    counts = lib.status_by_processing_status(collection.strip() or None)
    return render(request, lib, "toolbox.html", counts=counts, collection=collection,
                  job=job, report=report, import_error=import_error, form=form or {},
                  default_pattern=DEFAULT_PATTERN, default_source=DEFAULT_SOURCE,
                  status_code=status_code)


@router.post("/toolbox/batch")
def batch(request: Request, service: Service, csrf: CsrfField = None,
          status: Annotated[str, Form()] = "", limit: Annotated[int, Form()] = 100,
          collection: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, csrf)
    if not status.strip():
        raise TextlensError("choose a processing status for the batch")
    if not 1 <= limit <= 100_000:
        raise TextlensError("the number of records must be between 1 and 100000")
    job = start_batch(service, status.strip(), limit, collection)
    query = {"job": job.id} | ({"collection": collection} if collection else {})
    target = f"/toolbox?{urlencode(query)}"
    return RedirectResponse(target, status_code=303)


@router.post("/toolbox/import-ocr")
async def import_ocr(request: Request, lib: Lib, csrf: CsrfField = None,
                     file: Annotated[UploadFile | None, File()] = None,
                     pattern: Annotated[str, Form()] = "", source: Annotated[str, Form()] = "",
                     collection: Annotated[str, Form()] = "",
                     dry_run: Annotated[bool, Form()] = False) -> Response:
    check_csrf(request, csrf)
    form = {"pattern": pattern, "source": source, "collection": collection,
            "dry_run": dry_run}
    if file is None or not file.filename:
        return _toolbox(request, lib, collection, None, import_error="choose a zip of .txt "
                        "files to import", form=form, status_code=422)
    try:
        report = await import_ocr_upload(request, lib, file, pattern, source, collection,
                                         dry_run)
    except TextlensError as e:  # shown next to the form, which keeps what was typed
        return _toolbox(request, lib, collection, None, import_error=str(e), form=form,
                        status_code=422)
    report["upload"] = file.filename
    return _toolbox(request, lib, collection, None, report=report, form=form)


@router.get("/settings")
def settings_page(request: Request, lib: Lib, job: int | None = None,
                  saved: bool = False) -> Response:
    return _settings(request, lib, job_view(request, job, "langdata"), saved=saved)


def _settings(request: Request, lib: Lib, job: dict[str, Any] | None, *, saved: bool = False,
              error: str | None = None, typed: dict[str, Any] | None = None,
              status_code: int = 200) -> Response:
    view = settings_view(lib)
    fields = {name: {**view["settings"][name], "name": name} for name in PAGE_SETTINGS}
    for name, value in (typed or {}).items():  # after an error, the form keeps what was typed
        if name not in SECRET_SETTINGS:
            fields[name]["value"] = value
    return render(request, lib, "settings.html", fields=fields, overridden=view["overridden"],
                  langs=lib.language_data(), engines=registry.describe(lib.settings.plugins),
                  job=job, saved=saved, error=error, library=view["library"],
                  status_code=status_code)


@router.post("/settings")
async def save_settings(request: Request, lib: Lib, service: Service) -> Response:
    form = await request.form()
    check_csrf(request, str(form.get("csrf_token") or ""))
    values: dict[str, Any] = {"ocr": form.get("ocr") == "on"}  # an unticked box is not sent
    for name in PAGE_SETTINGS:
        raw = form.get(name)
        if name == "ocr" or raw is None:
            continue
        value = str(raw).strip()
        if name in SECRET_SETTINGS and not value:
            continue  # left empty: keep the token that is set
        if SETTINGS_BY_NAME[name].type is not str and not value:
            continue
        values[name] = value
    try:
        # Only what was changed: a default left alone stays a default (not pinned in the file).
        changed = {name: value for name, value in values.items()
                   if coerce(SETTINGS_BY_NAME[name], value) != lib.settings.get(name)}
        lib.set_settings(changed)
    except TextlensError as e:
        return _settings(request, lib, None, error=str(e), typed=values, status_code=400)
    service.wake()
    return RedirectResponse("/settings?saved=true", status_code=303)


@router.post("/settings/clear-cache")
def clear_cache(request: Request, service: Service, csrf: CsrfField = None) -> Response:
    check_csrf(request, csrf)
    job = start_clear_cache(service, refetch=True)
    return RedirectResponse(f"/settings?job={job.id}", status_code=303)
