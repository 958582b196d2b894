"""Bad files fail (or are skipped) one by one with a reason that says what is wrong."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from textlens import Library
from textlens.samples import render_text_image, write_empty_pdf, write_encrypted_pdf

Maker = Callable[[Path], Path]


def _truncated_jpeg(folder: Path) -> Path:
    buffer = io.BytesIO()
    render_text_image(["a perfectly good receipt"], font_size=40).save(buffer, "JPEG")
    data = buffer.getvalue()
    path = folder / "truncated.jpg"
    path.write_bytes(data[: len(data) // 2])
    return path


def _encrypted_pdf(folder: Path) -> Path:
    path = folder / "locked.pdf"
    write_encrypted_pdf(path)
    return path


def _empty_pdf(folder: Path) -> Path:
    path = folder / "nothing.pdf"
    write_empty_pdf(path)
    return path


def _three_page_tiff(folder: Path) -> Path:
    path = folder / "three.tiff"
    frames = [render_text_image([f"page {n}"], font_size=40).convert("L") for n in (1, 2, 3)]
    frames[0].save(path, save_all=True, append_images=frames[1:])
    return path


def _good_png(folder: Path, name: str = "good.png", text: str = "Marigold") -> Path:
    path = folder / name
    render_text_image([text], font_size=40).save(path)
    return path


def _add(library: Library, path: Path) -> int:
    return library.add([path]).attachments[0].id


def _page_rows(library: Library, attachment_id: int) -> list[tuple]:
    sha = library.attachment(attachment_id).sha256
    return [tuple(r) for r in library.conn.execute(
        "SELECT page, state, attempts, error FROM pages WHERE sha256=? ORDER BY page", (sha,))]


def _content_row(library: Library, attachment_id: int) -> tuple:
    sha = library.attachment(attachment_id).sha256
    return tuple(library.conn.execute(
        "SELECT state, reason, attempts FROM contents WHERE sha256=?", (sha,)).fetchone())


# --------------------------------------------------------------------------- skipped at add time


def test_zero_byte_file_is_skipped(library: Library, tmp_path: Path) -> None:
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    attachment_id = _add(library, path)
    report = library.scan()
    attachment = library.attachment(attachment_id)
    assert attachment.state == "skipped"
    assert "empty" in attachment.reason and "0 bytes" in attachment.reason
    assert report.attachments_skipped == 1
    assert (report.pages_done, report.pages_failed, report.attachments_failed) == (0, 0, 0)
    assert library.status()["attachments"]["skipped"] == 1


def test_text_file_named_png_is_skipped(library: Library, tmp_path: Path) -> None:
    path = tmp_path / "photo.png"
    path.write_text("I am not a picture\n")
    attachment_id = _add(library, path)
    library.scan()
    attachment = library.attachment(attachment_id)
    assert attachment.state == "skipped"
    assert "not a supported image" in attachment.reason
    assert "look like text" in attachment.reason
    assert library.ocr_text(attachment_id)["run"] is None


# --------------------------------------------------------------------------- failed when read


def test_truncated_jpeg_fails_and_the_rest_of_the_scan_goes_on(
    library: Library, tmp_path: Path
) -> None:
    bad = _add(library, _truncated_jpeg(tmp_path))
    good = _add(library, _good_png(tmp_path))

    report = library.scan()

    attachment = library.attachment(bad)
    assert attachment.state == "failed"
    assert "truncated" in attachment.reason and "corrupt" in attachment.reason
    assert attachment.reason.startswith("page 1: ")
    assert library.attachment(good).state == "done"
    assert "marigold" in library.ocr_text(good)["pages"][0]["text"].lower()
    assert (report.pages_done, report.pages_failed) == (1, 1)
    assert (report.attachments_done, report.attachments_failed) == (1, 1)
    assert report.failures == [{"name": "truncated.jpg", "reason": attachment.reason}]


def test_encrypted_pdf_fails_naming_the_password(library: Library, tmp_path: Path) -> None:
    attachment_id = _add(library, _encrypted_pdf(tmp_path))
    library.scan()
    attachment = library.attachment(attachment_id)
    assert attachment.state == "failed"
    assert "password" in attachment.reason
    assert attachment.pages is None  # never opened


def test_pdf_without_pages_fails_with_a_clear_reason(library: Library, tmp_path: Path) -> None:
    attachment_id = _add(library, _empty_pdf(tmp_path))
    library.scan()
    attachment = library.attachment(attachment_id)
    assert attachment.state == "failed"
    assert "no pages" in attachment.reason
    assert "Success" not in attachment.reason  # not PDFium's meaningless error code


def test_image_over_max_image_pixels_fails(library: Library, tmp_path: Path) -> None:
    library.set_setting("max_image_pixels", "1000")
    big = _add(library, _good_png(tmp_path))  # hundreds of thousands of pixels
    small_path = tmp_path / "small.png"
    Image.new("L", (40, 30), 255).save(small_path)  # 1,200 pixels: just over the limit
    small = _add(library, small_path)

    report = library.scan()

    for attachment_id in (big, small):
        attachment = library.attachment(attachment_id)
        assert attachment.state == "failed"
        assert "max_image_pixels" in attachment.reason
        assert "1,000 pixels" in attachment.reason
        assert "decompression bomb" in attachment.reason
    assert "1,200 pixels" in library.attachment(small).reason
    assert report.attachments_failed == 2


def test_tiff_over_max_pages_fails(library: Library, tmp_path: Path) -> None:
    library.set_setting("max_pages", "2")
    attachment_id = _add(library, _three_page_tiff(tmp_path))
    report = library.scan()
    attachment = library.attachment(attachment_id)
    assert attachment.state == "failed"
    assert "max_pages" in attachment.reason
    assert "3 pages" in attachment.reason and "limit of 2" in attachment.reason
    assert report.pages_done == 0
    assert _page_rows(library, attachment_id) == []  # no page was queued


def test_tiff_within_max_pages_is_done(library: Library, tmp_path: Path) -> None:
    library.set_setting("max_pages", "3")
    attachment_id = _add(library, _three_page_tiff(tmp_path))
    library.scan()
    assert library.attachment(attachment_id).state == "done"
    assert [p["page"] for p in library.ocr_text(attachment_id)["pages"]] == [1, 2, 3]


# --------------------------------------------------------------------------- no retry


@pytest.mark.parametrize(
    "make", [_truncated_jpeg, _encrypted_pdf, _empty_pdf], ids=["truncated", "encrypted", "empty"]
)
def test_bad_files_are_not_retried(library: Library, tmp_path: Path, make: Maker) -> None:
    library.set_setting("max_attempts", "3")
    attachment_id = _add(library, make(tmp_path))
    library.scan()
    content, pages = _content_row(library, attachment_id), _page_rows(library, attachment_id)
    assert content[0] == "failed"

    second = library.scan()

    assert (second.pages_done, second.pages_failed, second.attachments_failed) == (0, 0, 0)
    assert second.failures == []
    assert _content_row(library, attachment_id) == content
    assert _page_rows(library, attachment_id) == pages
    assert library.attachment(attachment_id).reason == content[1]


def test_limit_failure_is_redone_by_ocr_after_raising_the_limit(
    library: Library, tmp_path: Path
) -> None:
    library.set_setting("max_image_pixels", "1000")
    attachment_id = _add(library, _good_png(tmp_path))
    library.scan()
    assert library.attachment(attachment_id).state == "failed"
    library.set_setting("max_image_pixels", "200000000")
    assert library.scan().attachments_done == 0  # a plain scan leaves it alone
    assert library.attachment(attachment_id).state == "failed"

    report = library.ocr(f"a{attachment_id}")

    assert report.attachments_done == 1
    assert library.attachment(attachment_id).state == "done"
    assert library.attachment(attachment_id).reason is None
    assert "marigold" in library.ocr_text(attachment_id)["pages"][0]["text"].lower()
