"""Getting one language file into the cache: download (or read), unpack, check, move in.

Nothing reaches its place in the cache before it has been checked. The work happens in a
temporary folder beside that place and the result is moved in with ``os.replace``, so a
crash, a truncated download or a damaged file leaves the cache as it was.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

# The largest language file accepted, packed or unpacked. tessdata_best's biggest files are
# under 100 MB; the cap only has to stop a wrong URL or a gzip bomb from filling the disk.
MAX_BYTES = 400 * 2**20
# httpx's timeout bounds each wait, so a server sending a byte now and then would never time
# out. A download is also given up when, over a stretch of `langdata_timeout` seconds, it
# brings under MIN_RATE bytes a second, or when it takes longer than total_limit(timeout):
# either way the file waits and a later scan tries again.
MIN_RATE = 10_000  # bytes a second: 80 kbit/s; slower than that, a folder of your own is better
_TOTAL_TIMEOUTS = 20  # the whole download may take this many timeouts, and at least:
_TOTAL_MINIMUM = 600.0  # seconds (tessdata_best's biggest files at ~170 kB/s)
STALE_AFTER = 3600.0  # seconds: a temporary folder this old was left by a crash
_MAX_ENTRIES = 1000  # Tesseract's kMaxNumTessdataEntries: a larger count is not traineddata
# Loading a file Tesseract finds broken can crash it, so the load test runs in its own process.
_LOAD_TEST = """
import sys
try:
    import tesserocr
except ImportError:
    sys.exit(3)
try:
    tesserocr.PyTessBaseAPI(path=sys.argv[1], lang=sys.argv[2]).End()
except RuntimeError as e:
    sys.exit(f"{e}")
"""

Progress = Callable[[int, int | None], None]  # (bytes so far, total bytes if known)


class NotThere(Exception):
    """The place does not have this file (HTTP 404, no such file): try the next one."""


class Unusable(Exception):
    """The place could not give a usable file; the message says why. ``network`` is set when
    the server could not be reached or timed out, so asking it again now is pointless."""

    def __init__(self, message: str, *, network: bool = False) -> None:
        super().__init__(message)
        self.network = network


def is_url(location: str) -> bool:
    return location.startswith(("http://", "https://"))


def total_limit(timeout: float) -> float:
    """The most seconds one download may take in all."""
    return max(_TOTAL_TIMEOUTS * timeout, _TOTAL_MINIMUM)


def remove_stale(folder: Path) -> None:
    """Remove temporary dot-folders in ``folder`` that a crashed process left over an hour
    ago (younger ones may be another process's work in progress)."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    now = time.time()
    for entry in entries:
        try:
            stale = (entry.name.startswith(".") and entry.is_dir(follow_symlinks=False)
                     and now - entry.stat(follow_symlinks=False).st_mtime > STALE_AFTER)
        except OSError:
            continue
        if stale:
            shutil.rmtree(entry.path, ignore_errors=True)


def fetch(location: str, lang: str, dest: Path, meta: dict[str, Any], *, timeout: float,
          on_progress: Progress | None = None) -> Path:
    """Put the file at ``location`` (a URL, or a local path) in ``dest`` as
    ``<lang>.traineddata``, unpacked and checked, with a ``<lang>.json`` sidecar holding
    ``meta`` plus its sha256, size and fetch time; return its path."""
    dest.mkdir(parents=True, exist_ok=True)
    remove_stale(dest)
    work = Path(tempfile.mkdtemp(prefix=f".{lang}-", dir=dest))
    try:
        if is_url(location):
            packed = work / "download"
            _download(location, packed, timeout, on_progress)
        else:
            packed = Path(location)
        data = work / f"{lang}.traineddata"
        _unpack(packed, data)
        problem = check_header(data)
        if problem:
            raise Unusable(f"not Tesseract language data ({problem})")
        _load_test(work, lang)
        final = dest / f"{lang}.traineddata"
        os.replace(data, final)
        record = {**meta, "language": lang, "sha256": _sha256(final),
                  "size": final.stat().st_size,
                  "fetched": datetime.now(UTC).isoformat(timespec="seconds")}
        sidecar = work / "meta.json"
        sidecar.write_text(json.dumps(record, indent=2), encoding="utf-8")
        os.replace(sidecar, dest / f"{lang}.json")  # last: a file without it is not cached
        return final
    finally:
        shutil.rmtree(work, ignore_errors=True)


def read_meta(data_file: Path) -> dict[str, Any] | None:
    """The sidecar of a cached file, or None if the file is not (fully) in the cache."""
    sidecar = data_file.with_suffix(".json")
    if not data_file.is_file():
        return None
    try:
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


def check_header(path: Path) -> str | None:
    """What is wrong with a traineddata file's table of contents, or None if it looks whole:
    an entry count, then one 64-bit offset per entry (-1 for absent parts), all in the file."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(4 + 8 * _MAX_ENTRIES)
    except OSError as e:
        return f"cannot read it: {e}"
    if len(head) < 4:
        return "the file is empty"
    (count,) = struct.unpack("<i", head[:4])
    table_end = 4 + 8 * count
    if not 0 < count <= _MAX_ENTRIES or len(head) < table_end:
        return "no table of contents at its start"
    offsets = [o for o in struct.unpack(f"<{count}q", head[4:table_end]) if o != -1]
    if not offsets or any(not table_end <= o < size for o in offsets):
        return "its table of contents points past its end: it is incomplete"
    return None


def _download(url: str, target: Path, timeout: float, on_progress: Progress | None) -> None:
    started = time.monotonic()
    try:
        # The timeout bounds each wait (connecting, each read); _Pace the whole download
        # (checked as each piece arrives, so at worst one timeout late).
        with httpx.stream("GET", url, timeout=timeout, follow_redirects=True) as response:
            if response.status_code in (404, 410):
                raise NotThere(f"not found (HTTP {response.status_code})")
            if response.status_code != 200:
                raise Unusable(f"the server answered HTTP {response.status_code}",
                               network=response.status_code >= 500)
            length = int(response.headers.get("content-length") or 0) or None
            if length and length > MAX_BYTES:
                raise Unusable(f"it is {length / 2**20:.0f} MB, over the "
                               f"{MAX_BYTES // 2**20} MB limit for language data")
            pace = _Pace(started, timeout)
            with open(target, "wb") as f:
                # Decoded bytes: a server that adds Content-Encoding: gzip is undone here,
                # and the file's own gzip (if any) is found by its magic number later.
                for chunk in response.iter_bytes():
                    f.write(chunk)
                    if f.tell() > MAX_BYTES:
                        raise Unusable(f"it is over the {MAX_BYTES // 2**20} MB limit for "
                                       "language data")
                    if on_progress:
                        on_progress(response.num_bytes_downloaded, length)
                    slow = pace.too_slow(response.num_bytes_downloaded)
                    if slow:
                        raise Unusable(slow, network=True)
    except httpx.TimeoutException as e:
        raise Unusable(f"no answer within {timeout:g} s (timed out; offline or slow?)",
                       network=True) from e
    except httpx.TransportError as e:
        raise Unusable(f"could not download it ({type(e).__name__}: {e}; offline?)",
                       network=True) from e
    except httpx.HTTPError as e:  # e.g. an invalid URL
        raise Unusable(f"could not download it ({e})") from e


class _Pace:
    """Whether a download goes too slowly: under MIN_RATE over the last stretch of
    ``timeout`` seconds, or over total_limit(timeout) in all."""

    def __init__(self, started: float, timeout: float) -> None:
        self.started, self.timeout = started, timeout
        self.mark, self.mark_bytes = started, 0  # the start of the current stretch

    def too_slow(self, done: int) -> str | None:
        now = time.monotonic()
        if now - self.started > total_limit(self.timeout):
            return (f"too slow: not finished after {total_limit(self.timeout):g} s "
                    f"({done / 1000:.0f} kB so far)")
        if now - self.mark < self.timeout:
            return None
        rate = (done - self.mark_bytes) / (now - self.mark)
        if rate < MIN_RATE:
            return (f"too slow: {rate / 1000:.1f} kB/s over the last {now - self.mark:.1f} s, "
                    f"under the {MIN_RATE // 1000} kB/s needed")
        self.mark, self.mark_bytes = now, done
        return None


def _unpack(source: Path, target: Path) -> None:
    """Copy ``source`` to ``target``, gunzipping it if it is gzip (checked to its end)."""
    with open(source, "rb") as f:
        packed = f.read(2) == b"\x1f\x8b"
    opener: Any = gzip.open if packed else open
    try:
        with opener(source, "rb") as fin, open(target, "wb") as fout:
            while chunk := fin.read(1 << 20):
                fout.write(chunk)
                if fout.tell() > MAX_BYTES:
                    raise Unusable(f"it unpacks to over {MAX_BYTES // 2**20} MB")
    except (EOFError, gzip.BadGzipFile, zlib.error) as e:
        raise Unusable(f"the gzip file is damaged or incomplete ({e})") from e


def _load_test(folder: Path, lang: str) -> None:
    """Tesseract must load the file (skipped when tesserocr is not installed)."""
    try:
        done = subprocess.run([sys.executable, "-c", _LOAD_TEST, str(folder), lang],
                              capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired as e:
        raise Unusable("Tesseract took over 2 minutes to load it") from e
    if done.returncode in (0, 3):
        return
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    why = lines[-1] if lines else f"exit code {done.returncode}"
    raise Unusable(f"Tesseract cannot load it ({why})")


def _sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()
