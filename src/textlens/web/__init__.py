"""The web app: a thin FastAPI adapter over ``textlens.Library`` (no SQL, no OCR logic here)."""

from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    # Imported on first use: the CLI reads serve.py's defaults without loading the web stack.
    if name == "create_app":
        from .app import create_app

        return create_app
    raise AttributeError(name)
