"""The accuracy passes: orientation, sparse-text pass on weak pages, small text, garbage."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import tesserocr
from PIL import Image

from textlens import Library
from textlens.engines import passes
from textlens.engines.tesseract import TesseractEngine
from textlens.samples import render_text_image
from textlens.types import PageResult, Word

PARAGRAPH = [
    "The quick brown fox jumps over the lazy dog.",
    "Herbarium specimens collected near Madison, Wisconsin.",
    "Lichen packets were sorted by catalog number in 1951.",
    "Every label was photographed and transcribed twice.",
]


def _word(text: str, box: tuple[int, int, int, int] = (0, 0, 10, 10),
          conf: float = 90.0) -> Word:
    return Word(text, box, conf)


def _result(words: list[Word], conf: float, size: tuple[int, int] = (100, 100)) -> PageResult:
    return PageResult(" ".join(w.text for w in words), words, size[0], size[1], conf)


# --------------------------------------------------------------------------- pure rules


@pytest.mark.parametrize("token", ["|||", "—~=", "..", "~~~~", "#$%&x", "|~=a|"])
def test_symbol_runs_are_garbage(token: str) -> None:
    assert passes.is_garbage(token)


@pytest.mark.parametrize("token", ["&", "-", "$", "WIS-L-0012033", "U.C.", "609,589", "(1951)",
                                   "Mex.", "café", "(L.)", "U.S.A.", "(s.l.)"])
def test_words_and_single_symbols_are_kept(token: str) -> None:
    assert not passes.is_garbage(token)


def test_garbage_leaves_words_and_text() -> None:
    result = _result([_word("Cladonia"), _word("|||"), _word("rangiferina"), _word("~~")], 85)
    result = PageResult("Cladonia ||| rangiferina\n~~\n\n\n\nsurvey", result.words, 100, 100, 85)
    clean = passes.without_garbage(result)
    assert [w.text for w in clean.words] == ["Cladonia", "rangiferina"]
    assert clean.text == "Cladonia rangiferina\n\nsurvey"


def test_weak_means_unsure_or_nearly_empty() -> None:
    words = [_word(t) for t in ("one", "two", "three")]
    assert not passes.is_weak(_result(words, 92))
    assert passes.is_weak(_result(words, passes.WEAK_CONFIDENCE - 1))
    assert passes.is_weak(_result(words[:2], 95))


def test_merge_keeps_the_shown_pass_and_adds_only_new_words() -> None:
    shown = _result([_word("Powers", (10, 10, 50, 20)), _word("Collr")], 70)
    other = _result([_word("powers"), _word("Qro", (60, 10, 80, 20)), _word("Qro")], 40)
    merged = passes.merge(shown, other)
    assert merged.text == shown.text
    assert [w.text for w in merged.words] == ["Powers", "Collr", "Qro", "Qro"]
    assert merged.words[2].box == (60, 10, 80, 20)
    assert merged.extra_text == "Qro"


def test_best_of_shows_the_more_confident_pass() -> None:
    low, high = _result([_word("a")], 40), _result([_word("b")], 75)
    assert passes.best_of(low, high) == (high, low)
    assert passes.best_of(high, low) == (high, low)
    assert passes.best_of(low, _result([], 99)) == (low, _result([], 99))  # empty never shown


def test_small_text_is_enlarged_within_the_pixel_cap() -> None:
    small = _result([_word(t, (0, 0, 30, 10)) for t in ("a", "b", "c")], 50, (1000, 1000))
    assert passes.upscale_factor(small, 1000, 1000, 40_000_000) == passes.MAX_UPSCALE
    # 2.5 MP allowed on a 1 MP page: at most sqrt(2.5) times as wide.
    assert passes.upscale_factor(small, 1000, 1000, 2_500_000) == pytest.approx(2.5 ** 0.5)
    assert passes.upscale_factor(small, 1000, 1000, 1_200_000) == 1.0  # not worth it
    tall = _result([_word(t, (0, 0, 30, 40)) for t in ("a", "b", "c")], 50, (1000, 1000))
    assert passes.upscale_factor(tall, 1000, 1000, 40_000_000) == 1.0


@pytest.mark.parametrize("degrees", [0, 90, 180, 270])
def test_boxes_read_on_a_turned_page_come_back_to_the_page_as_it_was(degrees: int) -> None:
    page = Image.new("L", (300, 200), 255)
    page.paste(0, (40, 30, 90, 50))  # a black "word"
    turned = page.rotate(degrees, expand=True)
    box = Image.eval(turned, lambda v: 255 - v).getbbox()
    assert box is not None
    words = passes.turn_back([_word("w", box)], degrees, page.width, page.height)
    assert words[0].box == (40, 30, 90, 50)


def test_boxes_read_on_an_enlarged_image_come_back_to_page_pixels() -> None:
    words = passes.scale_words([_word("x", (20, 40, 60, 80))], 2.0)
    assert words[0].box == (10, 20, 30, 40)


# --------------------------------------------------------------------------- the recipe


class _ScriptedTesseract(TesseractEngine):
    """Tesseract's decisions with scripted passes, to check which passes run and what is kept."""

    def __init__(self, reads: dict[int, PageResult], upright: int | None = None) -> None:
        super().__init__()
        self.reads, self.upright, self.calls = reads, upright, []  # type: ignore[var-annotated]

    def _read(self, image: Image.Image, languages: list[str], psm: int,
              options: Mapping[str, Any]) -> PageResult:
        self.calls.append((psm, image.mode, image.size))
        key = psm if not (self.upright and psm == tesserocr.PSM.AUTO and len(self.calls) > 1) \
            else -1
        return self.reads[key]

    def _upright(self, image: Image.Image, languages: list[str],
                 options: Mapping[str, Any]) -> tuple[int, Image.Image] | None:
        self.calls.append(("osd",))
        return (self.upright, image.rotate(self.upright, expand=True)) if self.upright else None


def test_a_page_read_well_gets_one_grey_pass() -> None:
    good = _result([_word(t) for t in ("one", "two", "three", "|||")], 93)
    engine = _ScriptedTesseract({tesserocr.PSM.AUTO: good})
    result = engine.recognize(Image.new("RGB", (200, 100), "white"), ["eng"], {})
    assert engine.calls == [(tesserocr.PSM.AUTO, "L", (200, 100))]
    assert [w.text for w in result.words] == ["one", "two", "three"]  # garbage dropped
    assert result.extra_text == ""


def test_a_weak_page_gets_a_sparse_pass_and_keeps_both() -> None:
    weak = _result([_word("Berkeley", (0, 0, 80, 30), 60), _word("EMEC", (0, 40, 50, 70), 50),
                    _word("zz", (0, 80, 20, 110), 30)], 55)
    sparse = _result([_word("EMEC"), _word("Zitacuaro"), _word("Mich")], 70)
    engine = _ScriptedTesseract({tesserocr.PSM.AUTO: weak, tesserocr.PSM.SPARSE_TEXT: sparse})
    result = engine.recognize(Image.new("RGB", (200, 100), "white"), ["eng"], {})
    assert engine.calls == [(tesserocr.PSM.AUTO, "L", (200, 100)), ("osd",),
                            (tesserocr.PSM.SPARSE_TEXT, "RGB", (200, 100))]
    assert result.text == sparse.text  # the more confident pass is what a person reads
    assert set(result.extra_text.split()) == {"Berkeley", "zz"}
    assert {w.text for w in result.words} == {"EMEC", "Zitacuaro", "Mich", "Berkeley", "zz"}


def test_a_weak_page_with_small_text_is_enlarged_for_the_sparse_pass() -> None:
    tiny = _result([_word(t, (0, 0, 20, 8), 60) for t in ("a", "b", "c")], 50)
    sparse = _result([_word("d", (30, 60, 90, 90))], 40)
    engine = _ScriptedTesseract({tesserocr.PSM.AUTO: tiny, tesserocr.PSM.SPARSE_TEXT: sparse})
    result = engine.recognize(Image.new("RGB", (200, 100), "white"), ["eng"], {})
    assert engine.calls[-1] == (tesserocr.PSM.SPARSE_TEXT, "RGB", (600, 300))
    assert result.words[-1].box == (10, 20, 30, 30)  # back in the page's pixels


def test_a_rotated_page_is_read_upright_and_says_so() -> None:
    garbled = _result([_word("x", conf=20)], 30)
    upright = _result([_word(t) for t in ("one", "two", "three")], 94, (100, 200))
    engine = _ScriptedTesseract({tesserocr.PSM.AUTO: garbled, -1: upright}, upright=90)
    result = engine.recognize(Image.new("RGB", (200, 100), "white"), ["eng"], {})
    assert engine.calls == [(tesserocr.PSM.AUTO, "L", (200, 100)), ("osd",),
                            (tesserocr.PSM.AUTO, "L", (100, 200))]
    assert result.rotation == 90 and result.text == "one two three"


def test_single_pass_setting_and_explicit_psm_read_once() -> None:
    weak = _result([_word("x", conf=20)], 30)
    for options in ({"passes": "single"}, {"psm": tesserocr.PSM.SINGLE_BLOCK}):
        engine = _ScriptedTesseract({tesserocr.PSM.AUTO: weak, tesserocr.PSM.SINGLE_BLOCK: weak})
        engine.recognize(Image.new("RGB", (20, 10), "white"), ["eng"], options)
        assert len(engine.calls) == 1


# --------------------------------------------------------------------------- real Tesseract


@pytest.mark.parametrize("turn", [90, 180, 270])
def test_real_rotated_pages_are_read(turn: int) -> None:
    page = render_text_image(PARAGRAPH * 3, font_size=28).rotate(turn, expand=True)
    result = TesseractEngine().recognize(page, ["eng"], {"dpi": 300})
    assert "Herbarium specimens collected" in result.text
    # Tesseract's own layout pass often reads lines on their side as they lie; upside down
    # it cannot, and orientation detection turns the page.
    assert result.rotation in ((0, (360 - turn) % 360) if turn != 180 else (180,))
    assert (result.width, result.height) == page.size  # boxes stay in the file's own frame


def test_single_pass_leaves_an_upside_down_page_unread() -> None:
    page = render_text_image(PARAGRAPH * 3, font_size=28).rotate(180)
    result = TesseractEngine().recognize(page, ["eng"], {"dpi": 300, "passes": "single"})
    assert "Herbarium specimens collected" not in result.text and result.rotation == 0


def test_real_scan_records_rotation_and_marks_words_where_they_are_in_the_file(
    library: Library, tmp_path: Path
) -> None:
    upright = render_text_image(PARAGRAPH * 3, font_size=28)
    path = tmp_path / "upside-down.png"
    upright.rotate(180).save(path)
    attachment_id = library.add([path]).attachments[0].id
    library.scan()
    page = library.ocr_text(attachment_id)["pages"][0]
    assert page["rotation"] == 180 and (page["width"], page["height"]) == upright.size
    box = library.search("photographed").results[0].attachments[0].pages[0].boxes[0]
    # Cut the box out of the file as stored (upside down), turn it, and it reads as the word.
    x0, y0, x1, y1 = box
    crop = Image.open(path).convert("L").crop((x0 - 4, y0 - 4, x1 + 4, y1 + 4)).rotate(180)
    word = TesseractEngine().recognize(crop, ["eng"], {"psm": tesserocr.PSM.SINGLE_WORD})
    assert word.text.strip(".,") == "photographed"


def test_search_finds_words_only_the_second_pass_read(
    library: Library, text_image: Callable[..., Path]
) -> None:
    library.set_setting("engine", "twopass")
    attachment_id = library.add([text_image("p.png", ["anything"])]).attachments[0].id
    library.scan()
    page = library.ocr_text(attachment_id)["pages"][0]
    assert "Zitacuaro" not in page["text"] and page["extra_text"] == "Zitacuaro"
    hits = library.search("zitacuaro").results
    assert hits and hits[0].attachments[0].pages[0].boxes == [(5, 50, 95, 70)]
