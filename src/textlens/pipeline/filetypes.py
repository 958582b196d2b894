"""Which files textlens can OCR, decided by their bytes rather than their names."""

from __future__ import annotations

from pathlib import Path

# (magic prefix, offset, mime); checked in order.
_SIGNATURES: list[tuple[bytes, int, str]] = [
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"II*\x00", 0, "image/tiff"),
    (b"MM\x00*", 0, "image/tiff"),
    (b"BM", 0, "image/bmp"),
    (b"GIF87a", 0, "image/gif"),
    (b"GIF89a", 0, "image/gif"),
    (b"WEBP", 8, "image/webp"),
]
SUPPORTED = {
    "image/png", "image/jpeg", "image/tiff", "image/bmp", "image/gif", "image/webp",
    "image/x-portable-anymap", "application/pdf",
}


def detect(path: Path) -> tuple[str | None, str | None]:
    """Return ``(mime, skip_reason)``: a supported mime type, or why the file is skipped."""
    with open(path, "rb") as f:
        head = f.read(1024)
    if not head:
        return None, "empty file (0 bytes); nothing to OCR"
    for magic, offset, mime in _SIGNATURES:
        if head[offset : offset + len(magic)] == magic:
            if mime == "image/webp" and not head.startswith(b"RIFF"):
                continue
            return mime, None
    if head[:1] == b"P" and head[1:2] in b"123456" and head[2:3] in b" \t\r\n":
        return "image/x-portable-anymap", None
    if b"%PDF-" in head:  # PDF allows junk before the header
        return "application/pdf", None
    suffix = path.suffix.lower() or "(no extension)"
    kind = "text" if _looks_like_text(head) else "data"
    return None, (
        f"not a supported image or PDF: the file's bytes look like {kind}, whatever its name "
        f"({suffix}) says. Supported: PNG, JPEG, TIFF, BMP, GIF, WebP, PNM, PDF."
    )


def _looks_like_text(head: bytes) -> bool:
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
