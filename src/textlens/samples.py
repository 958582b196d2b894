"""Generated fixtures: text images, small PDFs and the demo library.

Everything here is rendered on the fly so tests and the demo need no binary files
checked into the repository. PDFs are written by hand (a few hundred bytes of
well-formed PDF 1.4) because that keeps the output deterministic and lets the same
code produce an encrypted variant, which pdfium itself cannot write.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

__all__ = [
    "make_demo_files",
    "render_text_image",
    "write_empty_pdf",
    "write_encrypted_pdf",
    "write_pdf",
]

LETTER = (612, 792)
"""US Letter page size in PDF points."""

ENCRYPTED_PDF_PASSWORD = "textlens"
"""User password of the PDF written by :func:`write_encrypted_pdf`."""


# --------------------------------------------------------------------------- images


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    # Pillow >= 10.1 bundles a scalable FreeType font, so no system fonts are needed.
    return ImageFont.load_default(size=size)


def _wrap(
    lines: Sequence[str], font: ImageFont.FreeTypeFont | ImageFont.ImageFont, max_width: int
) -> list[str]:
    """Greedily word-wrap each line so it fits into ``max_width`` pixels."""
    out: list[str] = []
    for line in lines:
        words = line.split(" ")
        current = ""
        for word in words:
            candidate = f"{current} {word}" if current else word
            if current and font.getlength(candidate) > max_width:
                out.append(current)
                current = word
            else:
                current = candidate
        out.append(current)
    return out


def render_text_image(
    lines: list[str],
    *,
    font_size: int = 32,
    width: int | None = None,
    padding: int = 40,
) -> Image.Image:
    """Render lines as black text on a white RGB image (word-wrapped if ``width`` is set)."""
    font = _font(font_size)
    if width is not None:
        lines = _wrap(lines, font, max(1, width - 2 * padding))
    # 1.5x line spacing keeps ascenders/descenders of adjacent lines apart for OCR.
    line_height = round(font_size * 1.5)
    if width is None:
        widest = max((font.getlength(line) for line in lines), default=0)
        width = int(widest) + 2 * padding
    height = line_height * max(1, len(lines)) + 2 * padding
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(lines):
        draw.text((padding, padding + i * line_height), line, fill="black", font=font)
    return image


# --------------------------------------------------------------------------- PDF writer


@dataclass
class _PdfObject:
    body: bytes
    stream: bytes | None = None


class _PdfBuilder:
    """Collects numbered objects and serialises them with a correct xref table."""

    def __init__(self) -> None:
        self._objects: list[_PdfObject | None] = []

    def reserve(self) -> int:
        """Allocate an object number to be filled in later (for forward references)."""
        self._objects.append(None)
        return len(self._objects)

    def set(self, num: int, body: bytes | str, stream: bytes | None = None) -> int:
        """Store object ``num``: a full object, or stream dict entries (no ``<< >>``) + data."""
        data = body.encode("latin-1") if isinstance(body, str) else body
        self._objects[num - 1] = _PdfObject(data, stream)
        return num

    def add(self, body: bytes | str, stream: bytes | None = None) -> int:
        """Append a new object and return its number."""
        return self.set(self.reserve(), body, stream)

    def serialize(self, root: int, *, encryption: _Rc4Encryption | None = None) -> bytes:
        """Return the complete file: header, objects, xref table and trailer."""
        out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
        offsets: list[int] = []
        for num, obj in enumerate(self._objects, start=1):
            if obj is None:
                raise ValueError(f"PDF object {num} was reserved but never set")
            offsets.append(len(out))
            out += f"{num} 0 obj\n".encode()
            if obj.stream is None:
                out += obj.body
            else:
                data = obj.stream
                if encryption is not None and num != encryption.object_number:
                    data = encryption.encrypt(num, data)
                # /Length is written here, once the (possibly encrypted) data is final.
                out += b"<< " + obj.body + f" /Length {len(data)} >>".encode()
                out += b"\nstream\n" + data + b"\nendstream"
            out += b"\nendobj\n"
        xref = len(out)
        out += f"xref\n0 {len(offsets) + 1}\n0000000000 65535 f \n".encode()
        for offset in offsets:
            out += f"{offset:010d} 00000 n \n".encode()
        trailer = f"/Size {len(offsets) + 1} /Root {root} 0 R"
        if encryption is not None:
            trailer += f" /Encrypt {encryption.object_number} 0 R /ID [{encryption.id_hex}]"
        out += f"trailer\n<< {trailer} >>\nstartxref\n{xref}\n%%EOF\n".encode()
        return bytes(out)


def _pdf_string(text: str) -> str:
    """Escape text as a PDF literal string in WinAnsi (cp1252) encoding."""
    raw = text.encode("cp1252", errors="replace").decode("latin-1")
    return "(" + raw.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ")"


def _text_content(text: str, page_size: tuple[float, float], font_size: float = 12) -> bytes:
    """Content stream drawing ``text`` top-down in Helvetica, one PDF line per text line."""
    margin = 72
    leading = font_size * 1.4
    ops = [
        "BT",
        f"/F1 {font_size:g} Tf",
        f"{leading:g} TL",
        f"{margin} {page_size[1] - margin - font_size:g} Td",
    ]
    for line in text.split("\n"):
        # Tj then T* (next line by the leading), so empty lines still take space.
        ops.append(f"{_pdf_string(line)} Tj T*")
    ops.append("ET")
    return "\n".join(ops).encode("latin-1")


def _fit(
    image_size: tuple[int, int], page_size: tuple[float, float]
) -> tuple[float, float, float, float]:
    """Largest centred (x, y, w, h) placement of the image on the page keeping its aspect."""
    scale = min(page_size[0] / image_size[0], page_size[1] / image_size[1])
    w, h = image_size[0] * scale, image_size[1] * scale
    return (page_size[0] - w) / 2, (page_size[1] - h) / 2, w, h


def _build_pdf(
    builder: _PdfBuilder,
    pages: Sequence[str | Image.Image],
    page_size: tuple[float, float],
) -> int:
    """Add catalog, page tree and pages to ``builder``; return the catalog object number."""
    pages_num = builder.reserve()
    font_num: int | None = None
    kids: list[int] = []
    media_box = f"[0 0 {page_size[0]:g} {page_size[1]:g}]"
    for page in pages:
        if isinstance(page, str):
            if font_num is None:
                font_num = builder.add(
                    "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica"
                    " /Encoding /WinAnsiEncoding >>"
                )
            resources = f"<< /Font << /F1 {font_num} 0 R >> >>"
            content = _text_content(page, page_size)
        else:
            rgb = page.convert("RGB")
            jpeg = io.BytesIO()
            rgb.save(jpeg, "JPEG", quality=90)
            image_num = builder.add(
                f"/Type /XObject /Subtype /Image /Width {rgb.width} /Height {rgb.height}"
                " /ColorSpace /DeviceRGB /BitsPerComponent 8 /Filter /DCTDecode",
                jpeg.getvalue(),
            )
            resources = f"<< /XObject << /Im1 {image_num} 0 R >> >>"
            x, y, w, h = _fit(rgb.size, page_size)
            content = f"q {w:.3f} 0 0 {h:.3f} {x:.3f} {y:.3f} cm /Im1 Do Q".encode()
        content_num = builder.add("", content)
        kids.append(
            builder.add(
                f"<< /Type /Page /Parent {pages_num} 0 R /MediaBox {media_box}"
                f" /Resources {resources} /Contents {content_num} 0 R >>"
            )
        )
    kid_refs = " ".join(f"{k} 0 R" for k in kids)
    builder.set(pages_num, f"<< /Type /Pages /Kids [{kid_refs}] /Count {len(kids)} >>")
    return builder.add(f"<< /Type /Catalog /Pages {pages_num} 0 R >>")


def write_pdf(
    path: str | Path,
    pages: Sequence[str | Image.Image],
    *,
    page_size: tuple[float, float] = LETTER,
) -> None:
    """Write a PDF whose pages are text-layer pages (str) or image-only scans (PIL images)."""
    builder = _PdfBuilder()
    root = _build_pdf(builder, pages, page_size)
    Path(path).write_bytes(builder.serialize(root))


def write_empty_pdf(path: str | Path) -> None:
    """Write a valid PDF with an empty page tree (zero pages).

    PDFium refuses to load zero-page documents: ``pypdfium2.PdfDocument`` raises
    ``PdfiumError`` (with a meaningless error code), so readers must handle that.
    """
    write_pdf(path, [])


# --------------------------------------------------------------------------- encryption

# Standard security handler padding string (PDF 1.7 spec, 7.6.3.3, Algorithm 2).
_PAD = bytes.fromhex("28bf4e5e4e758a4164004e56fffa01082e2e00b6d0683e802f0ca9fe6453697a")


def _rc4(key: bytes, data: bytes) -> bytes:
    """Plain RC4; only used to build a tiny fixture, never for real secrecy."""
    s = list(range(256))
    j = 0
    for i in range(256):
        j = (j + s[i] + key[i % len(key)]) % 256
        s[i], s[j] = s[j], s[i]
    out = bytearray()
    i = j = 0
    for byte in data:
        i = (i + 1) % 256
        j = (j + s[i]) % 256
        s[i], s[j] = s[j], s[i]
        out.append(byte ^ s[(s[i] + s[j]) % 256])
    return bytes(out)


def _padded(password: str) -> bytes:
    return (password.encode("latin-1") + _PAD)[:32]


class _Rc4Encryption:
    """RC4 40-bit, revision 2 standard security handler (PDF 1.1 style)."""

    def __init__(self, user_password: str, owner_password: str, object_number: int) -> None:
        self.object_number = object_number
        # A fixed document ID keeps the fixture byte-for-byte reproducible.
        file_id = hashlib.md5(b"textlens encrypted fixture").digest()
        self.id_hex = f"<{file_id.hex()}> <{file_id.hex()}>"
        # Every permission bit that matters is granted; the password is what's tested.
        self.permissions = -4
        owner_key = hashlib.md5(_padded(owner_password)).digest()[:5]
        self.owner_entry = _rc4(owner_key, _padded(user_password))
        self.key = hashlib.md5(
            _padded(user_password)
            + self.owner_entry
            + self.permissions.to_bytes(4, "little", signed=True)
            + file_id
        ).digest()[:5]
        self.user_entry = _rc4(self.key, _PAD)

    def dictionary(self) -> str:
        """The /Encrypt dictionary (itself never encrypted)."""
        return (
            "<< /Filter /Standard /V 1 /R 2 /Length 40"
            f" /O <{self.owner_entry.hex()}> /U <{self.user_entry.hex()}>"
            f" /P {self.permissions} >>"
        )

    def encrypt(self, num: int, data: bytes) -> bytes:
        """Encrypt stream data of object ``num`` (generation 0) with its object key."""
        object_key = hashlib.md5(
            self.key + num.to_bytes(3, "little") + (0).to_bytes(2, "little")
        ).digest()[: len(self.key) + 5]
        return _rc4(object_key, data)


def write_encrypted_pdf(
    path: str | Path,
    *,
    password: str = ENCRYPTED_PDF_PASSWORD,
    text: str = "Confidential payroll summary\nOpen with the password.",
) -> None:
    """Write a one-page PDF that cannot be opened without the user ``password``."""
    if not password:
        raise ValueError("an empty user password would let any reader open the file")
    builder = _PdfBuilder()
    # Only stream data needs encrypting: no object in this file contains a string.
    root = _build_pdf(builder, [text], LETTER)
    encrypt_num = builder.reserve()
    encryption = _Rc4Encryption(password, password + "-owner", encrypt_num)
    builder.set(encrypt_num, encryption.dictionary())
    Path(path).write_bytes(builder.serialize(root, encryption=encryption))


# --------------------------------------------------------------------------- demo set

_RECEIPT = [
    "CORNER MARKET CO-OP",
    "1402 Williamson Street, Madison WI",
    "Invoice 2024-0917   Register 3",
    "",
    "Organic apples 2 lb        5.98",
    "Sourdough bread            6.50",
    "Wisconsin cheddar          8.25",
    "Oat milk                   4.49",
    "",
    "Subtotal                  25.22",
    "Sales tax 5.5%             1.39",
    "TOTAL                     26.61",
    "Paid by card ending 4471",
    "Thank you for shopping local!",
]

_LETTER = [
    "Lakeside Appliance Repair",
    "Madison, Wisconsin",
    "",
    "Dear Ms. Johansson,",
    "",
    "Thank you for contacting us about your dishwasher. The unit is still covered by "
    "the manufacturer warranty until March 2026, so the replacement pump and labor "
    "will be free of charge.",
    "",
    "Our technician will visit on Thursday morning between nine and eleven. Please keep "
    "the original receipt and warranty card at hand.",
    "",
    "Sincerely,",
    "Daniel Okafor, Service Manager",
]

_NOTES_PAGE_1 = [
    "Garden Club Meeting Notes",
    "October 12, Monona Terrace",
    "",
    "Attendance: fourteen members and two guests.",
    "The treasurer reported that seed sales raised 412 dollars.",
    "Volunteers are needed to mulch the pollinator garden before frost.",
]

_NOTES_PAGE_2 = [
    "Action items",
    "",
    "Order tulip bulbs from the nursery on Fish Hatchery Road.",
    "Ask the library about hosting the winter lecture series.",
    "Next meeting: November 9 at the Goodman Community Center.",
]

_SPECIMEN = [
    "UNIVERSITY OF WISCONSIN HERBARIUM (WIS)",
    "Lichens of Wisconsin",
    "",
    "Cladonia rangiferina (L.) Weber ex F.H. Wigg.",
    "Grey reindeer lichen, on sandy soil in jack pine barrens.",
    "Sauk County: Devil's Lake State Park, east bluff.",
    "Coll. M. Lindqvist 2281, 14 May 1987",
    "Det. R. Brandt 1993",
    "",
    "WIS-L-0012033",
]

_SCREENSHOT_TITLE = "Settings - Backup and Sync"
_SCREENSHOT_BODY = [
    "Automatic backup is turned on",
    "Last backup: today at 08:42",
    "Storage used: 12.4 GB of 50 GB",
    "",
    "Sync photos over cellular data: Off",
    "Keep deleted files for 30 days",
    "",
    "Warning: your subscription renews on 1 December.",
]

_POSTER = [
    "DANE COUNTY FARMERS MARKET",
    "Saturdays 6:15 am to 1:45 pm",
    "Capitol Square, Madison",
    "",
    "Fresh produce, honey, flowers and cheese curds",
    "Live music by the Capitol Fiddlers",
]

_PDF_PAGE_1 = "\n".join(
    [
        "Quarterly Field Report - Lichen Survey",
        "",
        "Between April and June the survey team revisited 38 plots in the Baraboo Hills.",
        "Cladonia rangiferina and Cladonia cristatella were recorded on 21 plots,",
        "and Usnea species were found on older oaks along the north slope.",
        "",
        "Air quality indicators remained stable compared with last year.",
    ]
)

_PDF_PAGE_2_IMAGE = [
    "Appendix A - scanned field sheet",
    "",
    "Plot 17: Parfrey's Glen, sandstone ledge",
    "Observer: M. Lindqvist",
    "Species: Lasallia papulosa, Cladonia furcata",
    "Notes: heavy moss cover, no recent disturbance",
]

_PDF_PAGE_3 = "\n".join(
    [
        "Budget and next steps",
        "",
        "Travel and fuel: 1,240 dollars. Herbarium supplies: 310 dollars.",
        "The invoice from the microscope vendor is still outstanding.",
        "Next season we will add six plots near Madison and repeat plot 17.",
    ]
)

_README = """\
textlens demo library
=====================

This folder was generated by `textlens demo`. It holds a handful of images and a
PDF with distinctive text so you can try searches such as:

    textlens search invoice
    textlens search Cladonia
    textlens search warranty

This README itself is a plain text file; textlens skips it because it only indexes
images and PDFs.
"""


def _exif_rotated_jpeg(image: Image.Image, path: Path) -> None:
    """Save ``image`` as a JPEG whose pixels lie on their side, with EXIF Orientation=6.

    Orientation 6 means "rotate 90 degrees clockwise to display", so the stored pixels
    are the upright image turned 90 degrees counter-clockwise, like a phone camera
    held in portrait produces.
    """
    stored = image.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation
    stored.save(path, "JPEG", quality=90, exif=exif.tobytes())


def _screenshot() -> Image.Image:
    """A fake application window: grey title bar, light sidebar, text panel."""
    body = render_text_image(_SCREENSHOT_BODY, font_size=26, width=900, padding=30)
    width, height = body.width + 220, body.height + 90
    image = Image.new("RGB", (width, height), (236, 239, 243))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, width, 70), fill=(210, 215, 222))
    draw.text((30, 20), _SCREENSHOT_TITLE, fill=(20, 20, 20), font=_font(28))
    for i, label in enumerate(["General", "Backup", "Privacy", "About"]):
        draw.text((24, 110 + i * 48), label, fill=(60, 60, 60), font=_font(22))
    image.paste(body, (200, 80))
    return image


def make_demo_files(dest: Path) -> list[Path]:
    """Write the demo library (images, a PDF and a README) into ``dest``; return the paths."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []

    receipt = dest / "receipt-corner-market.png"
    render_text_image(_RECEIPT, font_size=28).save(receipt)
    paths.append(receipt)

    letter = dest / "warranty-letter.jpg"
    _exif_rotated_jpeg(render_text_image(_LETTER, font_size=28, width=1100), letter)
    paths.append(letter)

    notes = dest / "garden-club-notes.tiff"
    frames = [
        render_text_image(page, font_size=30, width=1200).convert("L")
        for page in (_NOTES_PAGE_1, _NOTES_PAGE_2)
    ]
    frames[0].save(notes, save_all=True, append_images=frames[1:], compression="tiff_lzw")
    paths.append(notes)

    specimen = dest / "specimen-label-WIS-L-0012033.png"
    label = render_text_image(_SPECIMEN, font_size=30)
    # A thin border makes it look like a mounted herbarium label without hurting OCR.
    ImageDraw.Draw(label).rectangle(
        (8, 8, label.width - 9, label.height - 9), outline="black", width=3
    )
    label.save(specimen)
    paths.append(specimen)

    screenshot = dest / "screenshot-backup-settings.png"
    _screenshot().save(screenshot)
    paths.append(screenshot)

    report = dest / "lichen-field-report.pdf"
    scan = render_text_image(_PDF_PAGE_2_IMAGE, font_size=34, width=1275, padding=90)
    write_pdf(report, [_PDF_PAGE_1, scan, _PDF_PAGE_3])
    paths.append(report)

    poster = dest / "farmers-market-poster.webp"
    render_text_image(_POSTER, font_size=36).save(poster, "WEBP", quality=90)
    paths.append(poster)

    readme = dest / "README.txt"
    readme.write_text(_README, encoding="utf-8")
    paths.append(readme)

    return paths


if __name__ == "__main__":  # `python -m textlens.samples DEST` writes the demo files
    import sys

    for written in make_demo_files(Path(sys.argv[1] if len(sys.argv) > 1 else "samples")):
        print(written)
