"""``create_app``: the FastAPI application, its OCR service, its guard and its error mapping."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline

from ..errors import (
    BusyError,
    ConflictError,
    EngineError,
    LibraryNotFoundError,
    NotFoundError,
    QuerySyntaxError,
    SettingsError,
    TextlensError,
    UnsupportedFileError,
)
from . import api, api_ocr, api_settings, pages, pages_admin
from .ocr_service import OcrService
from .security import BodyLimit, Guard
from .serve import DEFAULT_RATE_LIMIT, MAX_UPLOAD_BYTES
from .views import error_response

# The one place where errors become HTTP statuses; the most specific class listed wins
# (LimitExceededError is a BadFileError; LanguageDataError an EngineError).
_STATUSES: list[tuple[type[TextlensError], int]] = [
    (NotFoundError, 404),
    (LibraryNotFoundError, 503),
    (SettingsError, 400),
    (QuerySyntaxError, 400),
    (ConflictError, 409),
    (BusyError, 409),
    (UnsupportedFileError, 415),
    (EngineError, 503),
]


def status_for(error: TextlensError) -> int:
    for cls, code in _STATUSES:
        if isinstance(error, cls):
            return code
    return 422  # BadFileError and anything else about the request's content


def create_app(library_path: Path | str, token: str | None = None, *,
               max_upload_bytes: int = MAX_UPLOAD_BYTES, rate_limit: int = DEFAULT_RATE_LIMIT,
               background: bool = True) -> FastAPI:
    """The web app (pages and REST API) over the library at ``library_path``.

    With ``token``, every request must carry ``Authorization: Bearer <token>`` or the session
    cookie of a browser that signed in with it. While the app runs, its OCR service scans in
    the background (``background``; when the library's ``ocr`` setting is on) and runs the
    jobs people start."""
    library_path = Path(library_path)
    service = OcrService(library_path, background=background)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service.start()
        try:
            yield
        finally:
            service.stop()

    # Swagger UI's files served by the app itself (fastapi-offline): /docs works offline.
    app = FastAPIOffline(title="textlens", summary="Offline OCR indexing and search",
                         version=_version(), lifespan=lifespan, redoc_url=None)
    app.state.library_path = library_path
    app.state.max_upload_bytes = max_upload_bytes
    app.state.ocr = service
    app.state.token = token
    app.state.session = secrets.token_urlsafe(32)  # a signed-in browser's cookie
    app.include_router(api.router)
    app.include_router(api_ocr.router)
    app.include_router(api_settings.router)
    app.include_router(pages.router)
    app.include_router(pages_admin.router)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")

    @app.exception_handler(TextlensError)
    async def _textlens_error(request: Request, error: TextlensError) -> Response:
        return error_response(request, status_for(error), str(error))

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, error: HTTPException) -> Response:
        return error_response(request, error.status_code, str(error.detail),
                                    error.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, error: RequestValidationError) -> Response:
        return error_response(request, 422, _describe(error))

    # Room for the multipart framing around the files themselves.
    app.add_middleware(BodyLimit, limit=max_upload_bytes + 64 * 1024)
    app.add_middleware(Guard, token=token, session=app.state.session,
                       max_upload_bytes=max_upload_bytes, rate_limit=rate_limit)
    return app


def _describe(error: RequestValidationError) -> str:
    """FastAPI's validation errors as one sentence a person can act on."""
    parts = []
    for item in error.errors():
        where = ".".join(str(p) for p in item.get("loc", ()) if p not in ("body", "query"))
        parts.append(f"{where}: {item.get('msg', 'invalid')}" if where else
                     str(item.get("msg", "invalid")))
    return "invalid request: " + "; ".join(parts)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("textlens")
    except PackageNotFoundError:
        return "0"
