"""Uploaded files, saved to a temporary folder under their own (sanitised) names, bounded."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from fastapi import HTTPException
from starlette.datastructures import UploadFile

_CHUNK = 1024 * 1024


MAX_NAME_BYTES = 200  # file systems allow 255; room for the library's own suffixes


def safe_name(name: str | None, index: int) -> str:
    """A file name with no folder part, nothing a file system could take as a path, and not
    too long for one (shortened before its extension)."""
    base = re.sub(r"[\x00-\x1f/\\]", "_", Path(name or "").name).strip(" .")
    if len(base.encode()) > MAX_NAME_BYTES:
        suffix = Path(base).suffix if len(Path(base).suffix) <= 10 else ""
        stem = base[: len(base) - len(suffix)]
        while len((stem + suffix).encode()) > MAX_NAME_BYTES:
            stem = stem[:-1]
        base = stem + suffix
    return base or f"upload-{index}"


async def save_uploads(files: Sequence[UploadFile], folder: Path, limit: int) -> list[Path]:
    """Write each upload into ``folder`` (names made unique); 413 once ``limit`` bytes pass."""
    saved: list[Path] = []
    total = 0
    for i, upload in enumerate(files, start=1):
        sub = folder / str(i)  # two uploads may share a name; each keeps it (it titles records)
        sub.mkdir()
        target = sub / safe_name(upload.filename, i)
        with open(target, "wb") as out:
            while chunk := await upload.read(_CHUNK):
                total += len(chunk)
                if total > limit:
                    raise HTTPException(413, f"upload larger than {limit} bytes")
                out.write(chunk)
        saved.append(target)
    return saved
