"""Every supported file type is read into the right text, page by page, with the right method."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from textlens import Library
from textlens.samples import _exif_rotated_jpeg, render_text_image, write_pdf

WORDS = ["Harbour", "lantern", "seventeen", "violet"]
LINES = ["Harbour lantern", "seventeen violet"]


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower()))


def _assert_has_words(text: str, expected: list[str]) -> None:
    found = _words(text)
    missing = [w for w in expected if w.lower() not in found]
    assert not missing, f"missing {missing} in OCR text {text!r}"


def _add_and_scan(library: Library, path: Path) -> tuple[int, dict[str, Any]]:
    record = library.add([path])
    attachment_id = record.attachments[0].id
    library.scan()
    attachment = library.attachment(attachment_id)
    assert attachment.state == "done", (attachment.state, attachment.reason)
    return attachment_id, library.ocr_text(attachment_id)


# --------------------------------------------------------------------------- single images


@pytest.mark.parametrize(
    ("name", "mime", "save"),
    [
        ("page.png", "image/png", None),
        ("page.jpg", "image/jpeg", None),
        ("page.bmp", "image/bmp", None),
        ("page.gif", "image/gif", None),
        ("page.webp", "image/webp", {"format": "WEBP", "lossless": True}),
        ("page.ppm", "image/x-portable-anymap", None),
        ("page.pnm", "image/x-portable-anymap", None),
    ],
)
def test_single_image_types_are_ocrd(
    library: Library, text_image: Callable[..., Path], tmp_path: Path,
    name: str, mime: str, save: dict[str, Any] | None,
) -> None:
    if save is None:
        path = text_image(name, LINES, font_size=40)
    else:
        path = tmp_path / "files" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        render_text_image(LINES, font_size=40).save(path, **save)
    attachment_id, result = _add_and_scan(library, path)

    assert library.attachment(attachment_id).mime == mime
    assert library.attachment(attachment_id).pages == 1
    assert [p["page"] for p in result["pages"]] == [1]
    page = result["pages"][0]
    assert page["method"] == "ocr"
    assert page["words"] >= 4
    _assert_has_words(page["text"], WORDS)
    assert result["run"]["complete"] == 1
    assert result["run"]["engine"] == "tesseract"


def test_two_page_tiff_has_both_pages(library: Library, tmp_path: Path) -> None:
    path = tmp_path / "files" / "two.tiff"
    path.parent.mkdir(parents=True)
    first = render_text_image(["Harbour lantern"], font_size=40).convert("L")
    second = render_text_image(["seventeen violet"], font_size=40).convert("L")
    first.save(path, save_all=True, append_images=[second], compression="tiff_lzw")

    attachment_id, result = _add_and_scan(library, path)

    assert library.attachment(attachment_id).mime == "image/tiff"
    assert library.attachment(attachment_id).pages == 2
    assert [p["page"] for p in result["pages"]] == [1, 2]
    assert all(p["method"] == "ocr" for p in result["pages"])
    _assert_has_words(result["pages"][0]["text"], ["Harbour", "lantern"])
    _assert_has_words(result["pages"][1]["text"], ["seventeen", "violet"])
    # Each page holds its own text, not the other one's.
    assert "violet" not in _words(result["pages"][0]["text"])
    assert "harbour" not in _words(result["pages"][1]["text"])


def test_exif_rotated_jpeg_is_read_upright(library: Library, tmp_path: Path) -> None:
    path = tmp_path / "files" / "phone.jpg"
    path.parent.mkdir(parents=True)
    upright = render_text_image(LINES, font_size=40)
    assert upright.width > upright.height
    _exif_rotated_jpeg(upright, path)
    with Image.open(path) as stored:  # the pixels really lie on their side
        assert stored.width < stored.height
        assert stored.getexif()[0x0112] == 6

    attachment_id, result = _add_and_scan(library, path)

    page = result["pages"][0]
    assert (page["width"], page["height"]) == upright.size
    _assert_has_words(page["text"], WORDS)


# --------------------------------------------------------------------------- PDFs


def test_pdf_text_layer_is_read_without_ocr(library: Library, pdf_file) -> None:
    path = pdf_file("text.pdf",
                    ["Quarterly report on the harbour lanterns\nSeventeen violet lamps"])
    attachment_id, result = _add_and_scan(library, path)

    assert library.attachment(attachment_id).mime == "application/pdf"
    assert result["run"]["source"] == "text-layer"
    assert [p["method"] for p in result["pages"]] == ["text-layer"]
    # Exactly the text layer: no OCR noise.
    assert " ".join(result["pages"][0]["text"].split()) == (
        "Quarterly report on the harbour lanterns Seventeen violet lamps"
    )
    assert result["pages"][0]["confidence"] == 100.0
    # Rendered at the scan DPI (300): a US Letter page is 2550 x 3300 pixels.
    assert (result["pages"][0]["width"], result["pages"][0]["height"]) == (2550, 3300)


def test_scanned_pdf_is_ocrd(library: Library, pdf_file) -> None:
    library.set_setting("dpi", "150")  # plenty for 40 px text; halves the OCR time
    path = pdf_file("scan.pdf", [LINES])
    attachment_id, result = _add_and_scan(library, path)

    assert result["run"]["source"] == "engine"
    assert [p["method"] for p in result["pages"]] == ["ocr"]
    _assert_has_words(result["pages"][0]["text"], WORDS)


def test_mixed_pdf_has_a_method_per_page(library: Library, pdf_file) -> None:
    library.set_setting("dpi", "150")
    path = pdf_file("mixed.pdf", [
        "First page typed text about harbour lanterns",
        ["seventeen violet"],
        "Third page typed text about budgets",
    ])
    attachment_id, result = _add_and_scan(library, path)

    assert library.attachment(attachment_id).pages == 3
    assert [p["method"] for p in result["pages"]] == ["text-layer", "ocr", "text-layer"]
    assert " ".join(result["pages"][0]["text"].split()) == (
        "First page typed text about harbour lanterns")
    _assert_has_words(result["pages"][1]["text"], ["seventeen", "violet"])
    assert " ".join(result["pages"][2]["text"].split()) == "Third page typed text about budgets"
    assert result["run"]["source"] == "engine"  # not every page is a text layer


def test_short_text_layer_is_ocrd_instead(library: Library, tmp_path: Path) -> None:
    """A page with fewer than text_layer_min_chars characters is not trusted as a text layer."""
    library.set_setting("dpi", "100")
    path = tmp_path / "files" / "short.pdf"
    path.parent.mkdir(parents=True)
    write_pdf(path, ["p. 4"])
    attachment_id, result = _add_and_scan(library, path)
    assert [p["method"] for p in result["pages"]] == ["ocr"]


def test_blank_page_is_done_with_no_text(library: Library, tmp_path: Path) -> None:
    """A blank page (the back of a scanned sheet) has no words; that is a result, not an error."""
    path = tmp_path / "blank.png"
    Image.new("L", (800, 600), 255).save(path)
    attachment_id, result = _add_and_scan(library, path)
    page = result["pages"][0]
    assert (page["text"], page["words"], page["method"]) == ("", 0, "ocr")
    assert result["run"]["complete"] == 1


# --------------------------------------------------------------------------- unsupported


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("notes.txt", "just some notes, not an image\n"),
        ("fake.png", "this is text pretending to be a PNG\n"),
    ],
)
def test_unsupported_files_are_skipped(
    library: Library, tmp_path: Path, name: str, content: str
) -> None:
    path = tmp_path / name
    path.write_text(content)
    good = tmp_path / "good.png"
    render_text_image(["Harbour lantern"], font_size=40).save(good)
    attachment_id = library.add([path]).attachments[0].id
    good_id = library.add([good]).attachments[0].id

    attachment = library.attachment(attachment_id)
    assert attachment.state == "skipped"
    assert attachment.mime is None
    assert "not a supported image" in attachment.reason
    assert "text" in attachment.reason
    assert Path(name).suffix in attachment.reason

    report = library.scan()
    assert report.attachments_skipped == 1
    assert report.pages_done == 1  # only the good image
    assert library.attachment(attachment_id).state == "skipped"
    assert library.attachment(good_id).state == "done"
    assert library.ocr_text(attachment_id) == {"run": None, "pages": []}
    failures = library.status(failures=True)["failures"]
    assert [(f["attachment"], f["state"]) for f in failures] == [(attachment_id, "skipped")]
