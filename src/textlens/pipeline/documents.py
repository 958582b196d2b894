"""Opening documents: how a file splits into pages, and each page as an image or as text.

Runs inside worker processes, so a file that crashes a decoder takes down a worker, not the scan.
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps

from ..errors import BadFileError, LimitExceededError
from ..types import PageResult, Word

PDF = "application/pdf"
MULTI_PAGE_IMAGES = {"image/tiff"}
# Images carry no trustworthy resolution (phone photos, screenshots); the engine is told this.
IMAGE_DPI = 300  # animated GIF/WebP frames are not pages of a document


@dataclass(frozen=True)
class Limits:
    """Safety limits and rendering choices, copied from settings into each job."""

    dpi: int = 300
    max_image_pixels: int = 200_000_000
    max_pages: int = 5000
    max_file_mb: int = 2048
    text_layer_min_chars: int = 10
    page_timeout: float = 300.0  # given to engines as options["page_timeout"]


def plan(path: str, mime: str, limits: Limits) -> list[str]:
    """The method for each page of a document: ``"ocr"`` or ``"text-layer"``."""
    _check_size(path, limits)
    if mime == PDF:
        return _plan_pdf(path, limits)
    with _open_image(path, limits) as im:
        frames = getattr(im, "n_frames", 1) if mime in MULTI_PAGE_IMAGES else 1
    _check_pages(frames, limits)
    return ["ocr"] * frames


def page_count(path: str, mime: str, limits: Limits) -> int:
    """How many pages a document has, without reading them."""
    if mime == PDF:
        pdf = _open_pdf(path)
        try:
            return len(pdf)
        finally:
            pdf.close()
    with _open_image(path, limits) as im:
        return getattr(im, "n_frames", 1) if mime in MULTI_PAGE_IMAGES else 1


def load_image(path: str, mime: str, page: int, limits: Limits) -> Image.Image:
    """Page ``page`` (1-based) as an upright RGB or L image, ready for an engine."""
    if mime == PDF:
        return _render_pdf_page(path, page, limits)
    with _open_image(path, limits) as im:
        try:
            if page > 1:
                im.seek(page - 1)
            im.load()
            upright = ImageOps.exif_transpose(im) if page == 1 else im.copy()
        except EOFError as e:
            raise BadFileError(f"the file has no page {page}; it may be truncated") from e
        except (OSError, SyntaxError, ValueError) as e:
            raise BadFileError(
                f"cannot decode the image ({e}); the file is truncated or corrupt — "
                "replace it with a good copy"
            ) from e
    return _normalise_mode(upright)


def read_text_layer(path: str, page: int, limits: Limits) -> PageResult:
    """A PDF page's own text, with word boxes in pixels of the page rendered at the scan DPI."""

    pdf = _open_pdf(path)
    try:
        pdf_page = pdf[page - 1]
        width_pt, height_pt = pdf_page.get_size()
        scale = _render_scale(width_pt, height_pt, limits)
        textpage = pdf_page.get_textpage()
        count = textpage.count_chars()
        text = textpage.get_text_range(0, count) if count else ""
        words: list[Word] = []
        current: list[str] = []
        box = [math.inf, math.inf, -math.inf, -math.inf]

        def flush() -> None:
            if current:
                words.append(
                    Word("".join(current), (
                        int(box[0] * scale), int((height_pt - box[3]) * scale),
                        math.ceil(box[2] * scale), math.ceil((height_pt - box[1]) * scale),
                    ), 100.0)
                )
            current.clear()
            box[:] = [math.inf, math.inf, -math.inf, -math.inf]

        for index, char in enumerate(text[:count]):
            if char.isspace() or char == "\x00":
                flush()
                continue
            left, bottom, right, top = textpage.get_charbox(index)
            current.append(char)
            box[:] = [min(box[0], left), min(box[1], bottom), max(box[2], right), max(box[3], top)]
        flush()
        return PageResult(
            text=text.replace("\r\n", "\n").replace("\x00", ""),
            words=words,
            width=round(width_pt * scale),
            height=round(height_pt * scale),
            confidence=100.0,
            method="text-layer",
        )
    finally:
        pdf.close()


def _check_size(path: str, limits: Limits) -> None:
    size = os.path.getsize(path)
    if size > limits.max_file_mb * 1024 * 1024:
        raise LimitExceededError(
            f"the file is {size / 2**20:.0f} MB, over the max_file_mb limit of "
            f"{limits.max_file_mb} MB; raise it with `textlens config set max_file_mb N`, "
            "then `textlens ocr` this file"
        )


def _check_pages(count: int, limits: Limits) -> None:
    if count > limits.max_pages:
        raise LimitExceededError(
            f"the file has {count} pages, over the max_pages limit of {limits.max_pages}; "
            "raise it with `textlens config set max_pages N` if the file is genuine, then "
            "`textlens ocr` this file"
        )


def _open_image(path: str, limits: Limits) -> Image.Image:
    # Pillow refuses images over twice MAX_IMAGE_PIXELS on its own; we check the exact limit.
    Image.MAX_IMAGE_PIXELS = limits.max_image_pixels
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(path)
    except Image.DecompressionBombError as e:
        raise _too_many_pixels(None, limits) from e
    except (OSError, SyntaxError, ValueError) as e:
        raise BadFileError(f"cannot open the image ({e}); the file is corrupt or truncated") from e
    pixels = im.width * im.height
    if pixels > limits.max_image_pixels:
        im.close()
        raise _too_many_pixels(pixels, limits)
    return im


def _too_many_pixels(pixels: int | None, limits: Limits) -> LimitExceededError:
    size = f"{pixels:,} pixels" if pixels else "too many pixels"
    return LimitExceededError(
        f"the image has {size}, over the max_image_pixels limit of "
        f"{limits.max_image_pixels:,} pixels (a guard against decompression bombs); "
        "raise it with `textlens config set max_image_pixels N` if the file is genuine, "
        "then `textlens ocr` this file"
    )


def _normalise_mode(im: Image.Image) -> Image.Image:
    if im.mode in ("RGB", "L"):
        return im
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        # Transparent pixels must become paper, not ink: flatten onto white.
        rgba = im.convert("RGBA")
        background = Image.new("RGB", rgba.size, "white")
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if im.mode in ("1", "I", "I;16", "F"):
        return im.convert("L")
    return im.convert("RGB")


def _open_pdf(path: str):  # -> pdfium.PdfDocument
    import pypdfium2 as pdfium

    try:
        return pdfium.PdfDocument(path)
    except pdfium.PdfiumError as e:
        message = str(e)
        if "password" in message.lower():
            raise BadFileError(
                "the PDF is password-protected; save a copy without the password "
                "(e.g. `qpdf --decrypt --password=... in.pdf out.pdf`) and add that instead"
            ) from e
        if getattr(e, "err_code", None) == 0:  # PDFium loads no zero-page PDF, giving no reason
            raise BadFileError(
                "the PDF has no pages (its page tree is empty or unreadable); nothing to OCR"
            ) from e
        raise BadFileError(f"cannot open the PDF ({message}); the file is damaged") from e


def _plan_pdf(path: str, limits: Limits) -> list[str]:
    pdf = _open_pdf(path)
    try:
        count = len(pdf)
        if count == 0:
            raise BadFileError("the PDF has no pages")
        _check_pages(count, limits)
        methods = []
        for index in range(count):
            textpage = pdf[index].get_textpage()
            text = textpage.get_text_range() if textpage.count_chars() else ""
            real = sum(1 for c in text if not c.isspace())
            methods.append("text-layer" if real >= max(limits.text_layer_min_chars, 1) else "ocr")
        return methods
    finally:
        pdf.close()


def _render_scale(width_pt: float, height_pt: float, limits: Limits) -> float:
    """Pixels per PDF point: the scan DPI, lowered only if the page would exceed the pixel cap."""
    scale = limits.dpi / 72
    pixels = width_pt * scale * height_pt * scale
    if pixels > limits.max_image_pixels:
        scale *= math.sqrt(limits.max_image_pixels / pixels)
    return scale


def _render_pdf_page(path: str, page: int, limits: Limits) -> Image.Image:
    pdf = _open_pdf(path)
    try:
        if not 1 <= page <= len(pdf):
            raise BadFileError(f"the PDF has no page {page}")
        pdf_page = pdf[page - 1]
        width_pt, height_pt = pdf_page.get_size()
        scale = _render_scale(width_pt, height_pt, limits)
        # Grayscale: Tesseract binarises anyway, and it is a third of the bytes to move.
        bitmap = pdf_page.render(scale=scale, grayscale=True, may_draw_forms=True)
        return _normalise_mode(bitmap.to_pil())
    finally:
        pdf.close()

