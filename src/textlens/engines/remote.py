"""The ``remote`` engine: hand each page to another textlens server's ``POST /api/ocr``.

A laptop sets ``engine = "remote"`` and ``remote_url = "http://homeserver:8000"`` (plus
``remote_token`` when that server was started with ``--token``), and its pages are OCR'd by
the server with the server's own engine; the languages go with each request. Each page image
is sent as PNG; the answer's first page becomes the ``PageResult`` (its boxes are in the pixels
of the image sent, so in this page's pixels).

Errors follow the engine contract (see ``base.Engine``): a refused connection, a timeout, HTTP
429 or 5xx are retryable (the page stays queued and is tried again with backoff); a wrong
token (401/403) or a request the server rejects (400/413/415/422) fails the page at once.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from PIL import Image

from .. import __version__
from ..errors import EngineError
from ..types import PageResult, Word
from .base import Engine

HOW_TO_SET = ("set it with `textlens config set remote_url http://HOST:8000` (the address of "
              "another textlens server started with `textlens serve`)")
# Seconds kept free under page_timeout, so a request times out before the worker is stopped.
MIN_TIMEOUT = 0.1
PNG_MODES = {"1", "L", "LA", "P", "RGB", "RGBA", "I", "I;16"}


def page_request_timeout(remote_timeout: float, page_timeout: float | None) -> float:
    """Per-request timeout: ``remote_timeout``, but below the page time limit with a margin."""
    timeout = remote_timeout
    if page_timeout:
        margin = min(5.0, page_timeout * 0.2)
        timeout = min(timeout, page_timeout - margin)
    return max(MIN_TIMEOUT, timeout)


def display_url(url: str) -> str:
    """The URL without any user:password part, for messages and the recorded model."""
    parts = urlsplit(url)
    if parts.username or parts.password:
        host = parts.hostname or ""
        netloc = f"{host}:{parts.port}" if parts.port else host
        parts = parts._replace(netloc=netloc)
    return urlunsplit(parts)


class RemoteEngine(Engine):
    """OCR through another textlens server (settings ``remote_url``, ``remote_token``,
    ``remote_timeout``)."""

    name = "remote"

    def __init__(self) -> None:
        self._client: httpx.Client | None = None

    @classmethod
    def check(cls) -> tuple[bool, str]:
        # The library's settings are not known here; the URL is checked by prepare().
        return True, ("ready: sends pages to the textlens server in the remote_url setting "
                      "(`textlens config set remote_url http://HOST:8000`)")

    @classmethod
    def prepare(cls, languages: list[str], settings: Any) -> dict[str, Any]:
        url = str(settings.remote_url or "").strip().rstrip("/")
        if not url:
            raise EngineError(f"the remote engine has no server: remote_url is empty; "
                              f"{HOW_TO_SET}", retryable=False)
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise EngineError(f"remote_url {display_url(url)!r} is not an http(s) URL; "
                              f"{HOW_TO_SET}", retryable=False)
        return {"remote_url": url, "remote_token": str(settings.remote_token or ""),
                "remote_timeout": float(settings.remote_timeout),
                "model": display_url(url)}

    def version(self) -> str:
        return __version__  # this textlens; the server's engine is its own business

    def model(self, languages: list[str]) -> str:
        return "remote"  # without prepare()'s options the URL is not known

    def recognize(
        self, image: Image.Image, languages: list[str], options: Mapping[str, Any]
    ) -> PageResult:
        url = str(options.get("remote_url") or "").rstrip("/")
        if not url:
            raise EngineError(f"the remote engine has no server: remote_url is empty; "
                              f"{HOW_TO_SET}", retryable=False)
        endpoint = f"{url}/api/ocr"
        shown = display_url(endpoint)
        timeout = page_request_timeout(float(options.get("remote_timeout") or 60.0),
                                       options.get("page_timeout"))
        headers = {}
        if options.get("remote_token"):
            headers["Authorization"] = f"Bearer {options['remote_token']}"
        data = {"languages": "+".join(languages)} if languages else {}
        files = {"file": ("page.png", _png(image), "image/png")}
        try:
            response = self._http().post(endpoint, data=data, files=files, headers=headers,
                                         timeout=timeout)
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as e:
            raise EngineError(f"remote_url {display_url(url)!r} cannot be used ({e}); "
                              f"{HOW_TO_SET}", retryable=False) from e
        except httpx.TimeoutException as e:
            raise EngineError(
                f"the textlens server at {shown} did not answer within {timeout:g} s; the "
                "page stays queued and is retried. Check that the server is up and not "
                "overloaded, or raise remote_timeout (and page_timeout)") from e
        except httpx.TransportError as e:
            raise EngineError(
                f"the textlens server at {shown} did not answer ({type(e).__name__}: {e}); "
                "the page stays queued and is retried. Check that `textlens serve` runs "
                "there and that remote_url is right") from e
        return _page_result(response, shown)

    def _http(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(follow_redirects=False)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def _png(image: Image.Image) -> bytes:
    if image.mode not in PNG_MODES:
        image = image.convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def _server_error(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("error"):
        return str(body["error"])
    if isinstance(body, dict) and body.get("detail"):
        return str(body["detail"])
    return response.text.strip()[:300] or response.reason_phrase


def _page_result(response: httpx.Response, shown: str) -> PageResult:
    status = response.status_code
    if status == 429 or status >= 500:
        raise EngineError(
            f"the textlens server at {shown} is busy or failing (HTTP {status}: "
            f"{_server_error(response)}); the page stays queued and is retried")
    if status in (401, 403):
        raise EngineError(
            f"the textlens server at {shown} refused the access token (HTTP {status}); check "
            "remote_token (`textlens config set remote_token TOKEN`, the server's --token)",
            retryable=False)
    if status >= 400:
        hint = "; is remote_url the address of a textlens server?" if status in (404, 405) \
            else ""
        raise EngineError(f"the textlens server at {shown} rejected the page (HTTP {status}: "
                          f"{_server_error(response)}){hint}", retryable=False)
    try:
        body = response.json()
        page = body["pages"][0]
        words = [Word(str(w["text"]), (int(w["box"][0]), int(w["box"][1]),
                                       int(w["box"][2]), int(w["box"][3])),
                      float(w["confidence"])) for w in page.get("words", [])]
        return PageResult(
            text=str(page.get("text", "")), words=words, width=int(page["width"]),
            height=int(page["height"]), confidence=float(page.get("confidence", -1.0)),
            rotation=int(page.get("rotation", 0)), method="ocr",
            extra_text=str(page.get("extra_text", "")))
    except (ValueError, KeyError, IndexError, TypeError) as e:
        raise EngineError(
            f"the answer of {shown} is not a textlens OCR result ({type(e).__name__}: {e}); "
            "is remote_url the address of a textlens server of a matching version?") from e
