"""Running the app: who may bind where, then uvicorn."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from ..errors import SettingsError

# Defaults of `textlens serve`, here so the CLI can show them without importing the web stack.
DEFAULT_RATE_LIMIT = 1200  # requests per client per minute; a page with 50 thumbnails is 52
MAX_UPLOAD_BYTES = 200 * 1024 * 1024


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address to bind, or a Host header's name without the port)
    names this machine."""
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):  # always loopback (RFC 6761)
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # any other name might resolve anywhere


def check_binding(host: str, token: str | None) -> None:
    """Refuse to serve beyond this machine without an access token."""
    if not token and not is_loopback(host):
        raise SettingsError(
            f"binding {host} makes the library reachable from other machines; give an access "
            "token with --token TOKEN or TEXTLENS_TOKEN (clients then send "
            "`Authorization: Bearer TOKEN`), or bind 127.0.0.1"
        )


def serve_app(library_path: Path, host: str, port: int, token: str | None, *,
              rate_limit: int, max_upload_mb: int) -> None:
    import uvicorn

    from .app import create_app

    app = create_app(library_path, token, rate_limit=rate_limit,
                     max_upload_bytes=max_upload_mb * 1024 * 1024)
    uvicorn.run(app, host=host, port=port, log_level="info")
