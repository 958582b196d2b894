"""``create_app``: the FastAPI application, its access token check and its error mapping."""

from __future__ import annotations

import hmac
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint

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
from . import api
from .uploads import MAX_UPLOAD_BYTES

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
               max_upload_bytes: int = MAX_UPLOAD_BYTES) -> FastAPI:
    """The web app over the library at ``library_path``. With ``token``, every request must
    carry ``Authorization: Bearer <token>``."""
    app = FastAPI(title="textlens", summary="Offline OCR indexing and search",
                  version=_version())
    app.state.library_path = Path(library_path)
    app.state.max_upload_bytes = max_upload_bytes
    app.include_router(api.router)

    @app.exception_handler(TextlensError)
    async def _textlens_error(request: Request, error: TextlensError) -> JSONResponse:
        return JSONResponse({"error": str(error)}, status_code=status_for(error))

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, error: HTTPException) -> JSONResponse:
        return JSONResponse({"error": str(error.detail)}, status_code=error.status_code,
                            headers=error.headers)

    app.add_middleware(_Guard, token=token, max_upload_bytes=max_upload_bytes)
    return app


class _Guard(BaseHTTPMiddleware):
    """Refuse a request without the token, or one that says it is larger than uploads may be,
    before any of it is read."""

    def __init__(self, app: object, token: str | None, max_upload_bytes: int) -> None:
        super().__init__(app)  # type: ignore[arg-type]
        self.expected = f"Bearer {token}".encode() if token else None
        self.max_upload_bytes = max_upload_bytes

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        if self.expected is not None:
            given = request.headers.get("authorization", "").encode()
            if not hmac.compare_digest(given, self.expected):
                return JSONResponse(
                    {"error": "missing or wrong access token; send Authorization: Bearer "
                              "<token> (the token given to `textlens serve`)"},
                    status_code=401, headers={"WWW-Authenticate": "Bearer"})
        length = request.headers.get("content-length", "")
        # Room for the multipart framing around the files themselves.
        if length.isdigit() and int(length) > self.max_upload_bytes + 64 * 1024:
            return JSONResponse({"error": f"request larger than the upload limit "
                                          f"({self.max_upload_bytes} bytes)"}, status_code=413)
        return await call_next(request)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("textlens")
    except PackageNotFoundError:
        return "0"
