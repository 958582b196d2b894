"""Who may use the server, and how much.

- The access token: API clients send ``Authorization: Bearer <token>``; a browser signs in
  once with the token at ``/login`` and then carries a session cookie.
- Without a token the server only answers requests addressed to a loopback name, so a web page
  that rebinds its own domain to 127.0.0.1 (DNS rebinding) cannot reach the library.
- Writes (POST, PUT, PATCH, DELETE) that a browser marks as coming from another site are
  refused, and every HTML form also carries a CSRF token matched against a cookie.
- Requests per client per minute are bounded, and so are upload sizes.
"""

from __future__ import annotations

import hmac
import math
import secrets
import time
from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import Form, HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from limits import RateLimitItemPerMinute
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .serve import DEFAULT_RATE_LIMIT, is_loopback

SESSION_COOKIE = "textlens_session"
CSRF_COOKIE = "textlens_csrf"
CSRF_FIELD = "csrf_token"
OPEN_PATHS = ("/login", "/static/")  # reachable before signing in
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
LOGIN_RATE = RateLimitItemPerMinute(10)


def is_page(path: str) -> bool:
    """Whether ``path`` is a page for people (answered in HTML), not the API or its schema."""
    return not path.startswith("/api/") and path != "/openapi.json"


def csrf_token(request: Request) -> str:
    """The CSRF token for this browser (from its cookie, or new; Guard sets the cookie)."""
    return str(request.state.csrf)


def check_csrf(request: Request, submitted: str | None) -> None:
    """403 unless a form's CSRF field matches the browser's CSRF cookie."""
    cookie = request.cookies.get(CSRF_COOKIE, "")
    if not cookie or not submitted or not hmac.compare_digest(cookie.encode(),
                                                              submitted.encode()):
        raise HTTPException(403, "the form is out of date or came from another site; reload "
                                 "the page and submit it again")


CsrfField = Annotated[str | None, Form(alias=CSRF_FIELD)]


class Guard(BaseHTTPMiddleware):
    """Checks every request before any of it is read; see the module docstring."""

    def __init__(self, app: object, *, token: str | None, session: str, max_upload_bytes: int,
                 rate_limit: int = DEFAULT_RATE_LIMIT) -> None:
        """``session``: the value of a signed-in browser's cookie (random per server start, so
        restarting the server signs every browser out)."""
        super().__init__(app)  # type: ignore[arg-type]
        self.token = token
        self.bearer = f"Bearer {token}".encode() if token else None
        self.session = session.encode()
        self.max_upload_bytes = max_upload_bytes
        self.rate = RateLimitItemPerMinute(rate_limit) if rate_limit > 0 else None
        self.limiter = MovingWindowRateLimiter(MemoryStorage())

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        path = request.url.path
        refusal = (self._check_host(request) or self._check_rate(request, path)
                   or self._check_access(request, path) or self._check_origin(request)
                   or self._check_embedding(request) or self._check_size(request))
        if refusal is not None:
            return _with_headers(refusal)
        fresh_csrf = request.cookies.get(CSRF_COOKIE) is None
        request.state.csrf = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(32)
        response = await call_next(request)
        if fresh_csrf and response.headers.get("content-type", "").startswith("text/html"):
            response.set_cookie(CSRF_COOKIE, request.state.csrf, httponly=True,
                                samesite="strict", secure=request.url.scheme == "https")
        return _with_headers(response)

    def _check_host(self, request: Request) -> Response | None:
        if self.token:
            return None  # a rebinding page cannot know the token
        host = urlsplit(f"//{request.headers.get('host', '')}").hostname or ""
        if is_loopback(host):
            return None
        return _error(421, f"this server only answers requests to localhost or 127.0.0.1 (the "
                           f"request was for {host!r}); to serve other machines, start it with "
                           "an access token: `textlens serve --host 0.0.0.0 --token TOKEN`")

    def _check_rate(self, request: Request, path: str) -> Response | None:
        if self.rate is None or path.startswith("/static/"):
            return None
        client = request.client.host if request.client else "unknown"
        rate, keys = self.rate, [client]
        if path == "/login" and request.method == "POST":
            rate, keys = LOGIN_RATE, [client, "login"]  # guessing the token must stay slow
        if self.limiter.hit(rate, *keys):
            return None
        reset = self.limiter.get_window_stats(rate, *keys).reset_time
        wait = max(1, math.ceil(reset - time.time()))
        return _error(429, f"too many requests from {client} (over {rate.amount} a "
                           f"minute); wait {wait} s", {"Retry-After": str(wait)})

    def _check_access(self, request: Request, path: str) -> Response | None:
        if self.bearer is None or path.startswith(OPEN_PATHS):
            return None
        given = request.headers.get("authorization", "").encode()
        if hmac.compare_digest(given, self.bearer):
            return None
        cookie = request.cookies.get(SESSION_COOKIE, "").encode()
        if hmac.compare_digest(cookie, self.session):
            return None
        # A wrong token counts as a sign-in attempt, so guessing stays slow. (A stale cookie,
        # after a restart, does not: the random session value cannot be guessed anyway.)
        if given:
            client = request.client.host if request.client else "unknown"
            if not self.limiter.hit(LOGIN_RATE, client, "login"):
                return _error(429, "too many wrong access tokens; wait a minute",
                              {"Retry-After": "60"})
        if request.method == "GET" and is_page(path):
            target = path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
        return _error(401, "missing or wrong access token; send Authorization: Bearer <token> "
                           "(the token given to `textlens serve`), or sign in at /login",
                      {"WWW-Authenticate": "Bearer"})

    def _check_origin(self, request: Request) -> Response | None:
        if request.method not in UNSAFE_METHODS:
            return None
        # Browsers say where a request comes from; scripts and other servers say nothing.
        site = request.headers.get("sec-fetch-site")
        origin = request.headers.get("origin")
        # Host only, not scheme: behind a TLS proxy the browser says https, uvicorn sees http.
        own = request.headers.get("host", "").lower()
        if site in ("cross-site", "same-site") or (
                origin is not None and urlsplit(origin).netloc.lower() != own):
            return _error(403, "cross-site request refused: changes can only be made from "
                               "textlens's own pages or by API clients")
        return None

    def _check_embedding(self, request: Request) -> Response | None:
        """Another site may link to a page, not load its parts (images, API answers) into its
        own: that would let it probe the library and keep the server busy."""
        if request.headers.get("sec-fetch-site") == "cross-site" and \
                request.headers.get("sec-fetch-mode") != "navigate":
            return _error(403, "cross-site request refused: textlens's pages and API answers "
                               "are not for other sites to load")
        return None

    def _check_size(self, request: Request) -> Response | None:
        length = request.headers.get("content-length", "")
        # Room for the multipart framing around the files themselves.
        if length.isdigit() and int(length) > self.max_upload_bytes + 64 * 1024:
            return _error(413, f"request larger than the upload limit "
                               f"({self.max_upload_bytes} bytes)")
        return None


class BodyLimit:
    """Stops reading a request body past ``limit`` bytes (413), also when it is sent in chunks
    without a Content-Length (which Guard checks first)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise HTTPException(413, f"request larger than the upload limit "
                                         f"({self.limit} bytes)")
            return message

        await self.app(scope, counted, send)


def _with_headers(response: Response) -> Response:
    response.headers.setdefault("Cross-Origin-Resource-Policy", "same-origin")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)
