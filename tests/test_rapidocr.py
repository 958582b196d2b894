"""The RapidOCR engine: words and boxes on a rendered page, languages it refuses, how lines
become words, and a scan through the CLI that records the engine and finds the words."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from importlib.metadata import version
from pathlib import Path

import pytest
from PIL import Image, ImageFont
from typer.testing import CliRunner

from textlens import Library, PageResult
from textlens.cli.main import app
from textlens.errors import EngineError
from textlens.samples import render_text_image
from textlens.types import Box

pytest.importorskip("rapidocr_onnxruntime")  # only a guard: CI installs textlens[rapidocr]

from textlens.engines import rapidocr  # noqa: E402 - needs the guard above

LINES = ["Quarterly harvest report 2024", "Lichen survey near Madison", "Specimen jar holds moss"]
FONT_SIZE = 36
PADDING = 40  # render_text_image's default


def drawn_words(lines: list[str], font_size: int) -> list[tuple[str, Box]]:
    """Each word render_text_image draws, with the box of its ink."""
    font = ImageFont.load_default(size=font_size)
    words = []
    for i, line in enumerate(lines):
        top = PADDING + i * round(font_size * 1.5)
        for match in re.finditer(r"\S+", line):
            left = PADDING + font.getlength(line[: match.start()])
            x0, y0, x1, y1 = font.getbbox(match.group())
            words.append((match.group(), (round(left + x0), top + y0, round(left + x1), top + y1)))
    return words


def centre(box: Box) -> tuple[float, float]:
    return (box[0] + box[2]) / 2, (box[1] + box[3]) / 2


def inside(point: tuple[float, float], box: Box) -> bool:
    return box[0] <= point[0] <= box[2] and box[1] <= point[1] <= box[3]


@pytest.fixture(scope="module")
def engine() -> Iterator[rapidocr.RapidOcrEngine]:
    eng = rapidocr.RapidOcrEngine()
    yield eng
    eng.close()


@pytest.fixture(scope="module")
def page(engine: rapidocr.RapidOcrEngine) -> tuple[Image.Image, PageResult]:
    image = render_text_image(LINES, font_size=FONT_SIZE)
    return image, engine.recognize(image, ["eng"], {"dpi": 300, "page_timeout": 300.0})


# --------------------------------------------------------------------------- recognition


def test_text_comes_back_line_by_line_in_reading_order(
    page: tuple[Image.Image, PageResult],
) -> None:
    image, result = page
    assert result.text.splitlines() == LINES
    assert (result.width, result.height) == image.size
    assert result.method == "ocr"


def test_word_boxes_land_on_the_drawn_words(page: tuple[Image.Image, PageResult]) -> None:
    _, result = page
    expected = drawn_words(LINES, FONT_SIZE)
    assert [w.text for w in result.words] == [text for text, _ in expected]
    for word, (text, ink) in zip(result.words, expected, strict=True):
        # Each box covers the middle of its word's ink and no other word's.
        assert inside(centre(ink), word.box), (text, word.box, ink)
        assert inside(centre(word.box), ink), (text, word.box, ink)
        assert abs(word.box[0] - ink[0]) <= 12 and abs(word.box[2] - ink[2]) <= 12, text


def test_confidences_are_percentages(page: tuple[Image.Image, PageResult]) -> None:
    _, result = page
    assert all(0 <= w.confidence <= 100 for w in result.words)
    assert 90 <= result.confidence <= 100  # clean rendered text


def test_blank_page_gives_no_words(engine: rapidocr.RapidOcrEngine) -> None:
    result = engine.recognize(Image.new("L", (400, 300), 255), ["eng"], {})
    assert (result.text, result.words, result.confidence) == ("", [], 0.0)


def test_onnx_runtime_uses_one_thread_per_worker(engine: rapidocr.RapidOcrEngine) -> None:
    ocr = engine._load()
    for session in (ocr.text_det.infer, ocr.text_cls.infer, ocr.text_rec.session):
        options = session.session.get_session_options()
        assert (options.intra_op_num_threads, options.inter_op_num_threads) == (1, 1)
    assert engine._load() is ocr  # loaded once, reused


def test_version_and_model_name_what_runs(engine: rapidocr.RapidOcrEngine) -> None:
    assert engine.version() == version("rapidocr_onnxruntime")
    model = engine.model(["eng"])
    assert model == rapidocr.model_names()
    assert "PP-OCRv4_det" in model and "PP-OCRv4_rec" in model


# --------------------------------------------------------------------------- languages


@pytest.mark.parametrize("languages", [["eng"], ["chi_sim"], ["lat", "deu"], ["eng", "fra"]])
def test_chinese_english_and_latin_script_languages_are_accepted(
    engine: rapidocr.RapidOcrEngine, languages: list[str]
) -> None:
    assert engine.model(languages) == rapidocr.model_names()


@pytest.mark.parametrize("languages", [["ara"], ["eng", "rus"], ["jpn"]])
def test_other_scripts_are_refused_without_retrying(
    engine: rapidocr.RapidOcrEngine, languages: list[str]
) -> None:
    for call in (lambda: engine.model(languages),
                 lambda: engine.recognize(Image.new("L", (50, 50), 255), languages, {})):
        with pytest.raises(EngineError, match="cannot read .*Use Tesseract") as caught:
            call()
        assert caught.value.retryable is False
        assert languages[-1] in str(caught.value)


def test_unsupported_language_fails_the_file_once_in_a_scan(
    library: Library, text_image: Callable[..., Path]
) -> None:
    library.set_setting("engine", "rapidocr")
    library.set_setting("languages", "ara")
    attachment_id = library.add([text_image("a.png", ["not arabic"])]).attachments[0].id

    report = library.scan()

    assert report.attachments_failed == 1
    attachment = library.attachment(attachment_id)
    assert attachment.state == "failed"
    assert "the rapidocr engine cannot read ara" in (attachment.reason or "")
    again = library.scan()  # not retried: nothing left to do
    assert (again.pages_failed, again.attachments_failed, again.pages_done) == (0, 0, 0)


# --------------------------------------------------------------------------- lines into words


def quad(x0: float, y0: float, x1: float, y1: float) -> list[list[float]]:
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]


def test_character_boxes_group_into_words_at_spaces_and_wide_gaps() -> None:
    chars = list("ab cdef")
    lefts = [10, 20, 30, 40, 50, 90, 100]  # a 30-pixel gap between d and e: a dropped space
    row = [quad(10, 5, 110, 25), "ab cdef", 0.9, [quad(x, 5, x + 10, 25) for x in lefts],
           chars, [0.9, 0.8, 0.99, 1.0, 1.0, 0.5, 0.7]]

    words = rapidocr._line_words(row)

    assert [(w.text, w.box) for w in words] == [
        ("ab", (10, 5, 30, 25)), ("cd", (40, 5, 60, 25)), ("ef", (90, 5, 110, 25))]
    assert [w.confidence for w in words] == [85.0, 100.0, 60.0]


def test_lines_without_character_boxes_are_shared_out_by_character_width() -> None:
    # What an older rapidocr_onnxruntime gives: the line's corners, text and score only.
    words = rapidocr._line_words([quad(100, 10, 400, 40), "Will mmm", 0.875])

    assert [w.text for w in words] == ["Will", "mmm"]
    assert all(w.confidence == 87.5 for w in words)
    will, mmm = (w.box for w in words)
    assert will[0] == 100 and mmm[2] == 400 and will[2] < mmm[0]
    assert all((b[1], b[3]) == (10, 40) for b in (will, mmm))
    # "mmm" is drawn wider than "Will" in a proportional font, though it has fewer letters.
    assert mmm[2] - mmm[0] > will[2] - will[0]


def test_character_info_that_does_not_match_the_text_is_not_trusted() -> None:
    row = [quad(0, 0, 100, 20), "ab cd", 0.5, [quad(0, 0, 10, 20)], ["a"], [0.5]]
    assert [w.text for w in rapidocr._line_words(row)] == ["ab", "cd"]


def test_pieces_of_one_visual_line_are_read_as_one_row_left_to_right() -> None:
    right = rapidocr._line_words([quad(300, 12, 400, 40), "right", 0.9])
    left = rapidocr._line_words([quad(10, 10, 200, 38), "left", 0.9])
    below = rapidocr._line_words([quad(10, 60, 200, 90), "below", 0.9])

    rows = rapidocr._reading_order([below, right, left])

    assert [[w.text for w in row] for row in rows] == [["left", "right"], ["below"]]


def test_letters_read_twice_by_overlapping_pieces_are_kept_once() -> None:
    # RapidOCR detected "Cladonia rangiferina" as "Cladonia" and "a rangiferina".
    first = rapidocr._line_words([quad(42, 49, 203, 82), "Cladonia", 0.99])
    second = rapidocr._line_words([quad(188, 50, 404, 84), "a rangiferina", 0.99])

    [row] = rapidocr._reading_order([second, first])

    assert [w.text for w in row] == ["Cladonia", "rangiferina"]


def test_words_of_a_vertical_line_are_all_kept() -> None:
    # A page turned by 90 degrees: the line runs down the page, its words one below the other.
    words = rapidocr._line_words([quad(10, 0, 40, 300), "alpha beta gamma", 0.9])
    assert [w.box[1] < w.box[3] <= 300 and w.box[0] == 10 for w in words] == [True] * 3

    [row] = rapidocr._reading_order([words])

    assert [w.text for w in row] == ["alpha", "beta", "gamma"]


# --------------------------------------------------------------------------- end to end


def test_scan_with_rapidocr_records_the_engine_and_search_finds_the_words(
    tmp_path: Path, text_image: Callable[..., Path]
) -> None:
    runner = CliRunner()

    def cli(*args: str) -> dict:
        result = runner.invoke(app, ["--library", str(tmp_path / "lib"), *args, "--json"])
        assert result.exit_code == 0, (result.output, result.exception)
        return json.loads(result.stdout)

    picture = text_image("label.png", ["Cladonia rangiferina", "collected near Madison"],
                         font_size=40)
    [record] = cli("add", str(picture))["records"]
    scan = cli("--set", "engine=rapidocr", "--set", "workers=1", "scan")
    assert (scan["pages_done"], scan["pages_failed"]) == (1, 0)

    for query in ("cladonia", "rangiferina", '"collected near madison"'):
        found = cli("search", query)
        assert [h["record"]["id"] for h in found["results"]] == [record["id"]], query
        assert found["results"][0]["attachments"][0]["pages"][0]["boxes"], query
    [attachment] = cli("show", f"a{record['attachments'][0]['id']}")["attachments"]
    run = attachment["ocr"]["run"]
    assert (run["engine"], run["engine_version"], run["model"], run["languages"]) == (
        "rapidocr", version("rapidocr_onnxruntime"), rapidocr.model_names(), "eng")
    assert attachment["ocr"]["pages"][0]["text"] == "Cladonia rangiferina\ncollected near Madison"
