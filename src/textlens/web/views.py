"""What every HTML page shares: the templates, the scanner bar, jobs, redirects and errors."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from ..library import Library
from .security import CSRF_FIELD, csrf_token, is_page

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


def _when(timestamp: float | str | None) -> str:
    if timestamp in (None, ""):
        return ""
    if isinstance(timestamp, str):
        return timestamp.replace("T", " ")[:16]
    return datetime.datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = int(seconds)
    if seconds < 90:
        return f"{seconds} s"
    if seconds < 5400:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"


templates.env.filters["when"] = _when
templates.env.filters["duration"] = _duration


def render(request: Request, lib: Library | None, template: str, status_code: int = 200,
           **context: Any) -> Response:
    """A page with the scanner bar; ``lib`` gives the library's OCR counts for it."""
    service = request.app.state.ocr
    scanner = service.state()
    if lib is not None:
        scanner["library"] = service.library_counts(lib)
    return templates.TemplateResponse(request, template, {
        "scanner": scanner, "csrf_field": CSRF_FIELD, "csrf": csrf_token(request),
        "signed_in": bool(request.app.state.token), **context,
    }, status_code=status_code)


def error_response(request: Request, status: int, message: str,
                   headers: Mapping[str, str] | None = None) -> Response:
    """The error as JSON for the API, as a page for a person."""
    if is_page(request.url.path) and hasattr(request.state, "csrf"):
        response = render(request, None, "error.html", status_code=status, status=status,
                          message=message)
        response.headers.update(headers or {})
        return response
    return JSONResponse({"error": message}, status_code=status,
                        headers=dict(headers) if headers else None)


def back_to(target: str | None, default: str = "/") -> RedirectResponse:
    """303 to ``target`` when it is a path on this site, else to ``default``."""
    parts = urlsplit(target or "")
    safe = target and target.startswith("/") and not target.startswith("//") \
        and not parts.scheme and not parts.netloc and "\\" not in target
    return RedirectResponse(target if safe else default, status_code=303)  # type: ignore[arg-type]


def job_view(request: Request, job_id: int | None, kind: str) -> dict[str, Any] | None:
    """A job of ``kind`` for a page's progress box, or None: unknown ids, and ids of another
    kind (a bookmarked URL after a restart, when ids start again) are ignored."""
    job = request.app.state.ocr.job(job_id) if job_id is not None else None
    return job.to_dict() if job is not None and job.kind == kind else None
