"""The web app: a thin FastAPI adapter over ``textlens.Library`` (no SQL, no OCR logic here)."""

from __future__ import annotations

from .app import create_app

__all__ = ["create_app"]
