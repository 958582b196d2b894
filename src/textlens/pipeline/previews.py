"""Page images for people to look at: one page of an image or PDF, scaled down, as JPEG.

Rendering reads untrusted files, so it runs in a worker process of its own (a decoder that
crashes or hangs costs that process, never the web server), and each result is cached on disk
by content hash: a record page full of thumbnails is cheap the second time.
"""

from __future__ import annotations

import atexit
import dataclasses
import io
import multiprocessing
import os
import threading
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from pebble import ProcessExpired, ProcessPool
from PIL import Image

from ..errors import BadFileError, NotFoundError
from ..settings import user_cache
from .documents import Limits, load_image, page_count

PREVIEW_DPI = 150  # PDF pages: plenty for a screen, a quarter of the pixels of the scan DPI
# The sizes drawn: a request is served the next size up, so the cache holds at most these
# per page whatever sizes are asked for.
SIZES = (120, 240, 480, 800, 1200, 1600, 2400, 4000)
RENDER_TIMEOUT = 60.0
JPEG_QUALITY = 85


def render_preview(path: str, mime: str, page: int, limits: Limits, max_side: int) -> bytes:
    """JPEG bytes of page ``page``, no side longer than ``max_side``, in the same frame as the
    page's word boxes (so boxes scale onto it)."""
    limits = dataclasses.replace(limits, dpi=min(limits.dpi, PREVIEW_DPI))
    if page > 1:  # before its first scan a file's page count is not known
        count = page_count(path, mime, limits)
        if page > count:
            raise NotFoundError(f"the file has {count} page{'s' if count > 1 else ''}, "
                                f"not {page}")
    image = load_image(path, mime, page, limits)
    image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.convert("RGB" if image.mode not in ("L", "RGB") else image.mode).save(
        out, "JPEG", quality=JPEG_QUALITY, optimize=True)
    return out.getvalue()


class PreviewRenderer:
    """Renders previews in one worker process, caching them under ``cache_dir``."""

    def __init__(self, cache_dir: Path) -> None:
        self.cache_dir = cache_dir
        self._pool: ProcessPool | None = None
        self._lock = threading.Lock()

    def preview(self, path: str, sha256: str, mime: str, page: int, limits: Limits,
                max_side: int) -> bytes:
        max_side = next((size for size in SIZES if size >= max_side), SIZES[-1])
        # Everything the drawing depends on is in the name (the bytes, by their hash).
        dpi = min(limits.dpi, PREVIEW_DPI)
        cached = self.cache_dir / sha256[:2] / \
            f"{sha256}-{page}-{max_side}-{dpi}-{limits.max_image_pixels}.jpg"
        try:
            return cached.read_bytes()
        except OSError:
            pass
        future = self._get_pool().schedule(render_preview,
                                           (path, mime, page, limits, max_side),
                                           timeout=RENDER_TIMEOUT)
        try:
            data: bytes = future.result()
        except FutureTimeout as e:
            raise BadFileError(f"drawing page {page} took over {RENDER_TIMEOUT:g} s") from e
        except (ProcessExpired, BrokenProcessPool) as e:
            self.close()  # a fresh worker for the next page
            raise BadFileError(f"drawing page {page} crashed its worker: the file is "
                               "damaged") from e
        try:  # a cache that cannot be written only costs speed
            cached.parent.mkdir(parents=True, exist_ok=True)
            tmp = cached.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, cached)
        except OSError:
            pass
        return data

    def _get_pool(self) -> ProcessPool:
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPool(max_workers=1,
                                         context=multiprocessing.get_context("forkserver"))
            return self._pool

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.stop()
                self._pool.join()
                self._pool = None


_shared: PreviewRenderer | None = None
_shared_lock = threading.Lock()


def shared_renderer() -> PreviewRenderer:
    """This process's renderer (its worker starts on first use and stops at exit)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = PreviewRenderer(user_cache() / "previews")
            atexit.register(_shared.close)
        return _shared
