"""The OCR pipeline end to end: dedup, changed links, run provenance, word boxes, re-OCR,
the `ocr` switch, scan limits and the status summary."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import tesserocr
from PIL import Image, ImageDraw, ImageFont

from textlens import Library
from textlens.errors import EngineError, TextlensError
from textlens.samples import render_text_image

STATES = {"pending", "running", "done", "failed", "skipped"}

Box = tuple[int, int, int, int]


def _runs(library: Library, sha256: str) -> list[tuple[int, int]]:
    return [tuple(r) for r in library.conn.execute(
        "SELECT id, complete FROM ocr_runs WHERE sha256=? ORDER BY id", (sha256,))]


def _found_records(library: Library, query: str) -> set[int]:
    return {hit.record_id for hit in library.search(query).results}


def _overlap(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


# --------------------------------------------------------------------------- dedup


def test_same_file_in_two_records_is_ocrd_once(
    library: Library, text_image: Callable[..., Path], tmp_path: Path
) -> None:
    original = text_image("receipt.png", ["Marigold nursery receipt"], font_size=40)
    copy = tmp_path / "elsewhere" / "copy-of-receipt.png"
    copy.parent.mkdir()
    shutil.copy(original, copy)
    first = library.add([original])
    second = library.add([copy])
    sha = first.attachments[0].sha256
    assert second.attachments[0].sha256 == sha

    report = library.scan()

    assert report.pages_done == 1
    assert len(_runs(library, sha)) == 1
    assert library.conn.execute(
        "SELECT COUNT(*) FROM ocr_pages p JOIN ocr_runs r ON r.id = p.run_id WHERE r.sha256=?",
        (sha,)).fetchone()[0] == 1
    for record in (first, second):
        attachment_id = record.attachments[0].id
        assert library.attachment(attachment_id).state == "done"
        assert "marigold" in library.ocr_text(attachment_id)["pages"][0]["text"].lower()
    assert _found_records(library, "marigold") == {first.id, second.id}
    # Adding the same bytes a third time needs no OCR at all.
    third = library.add([original])
    assert library.attachment(third.attachments[0].id).state == "done"
    assert library.scan().pages_done == 0
    assert len(_runs(library, sha)) == 1


def test_changed_linked_file_is_ocrd_again(library: Library, tmp_path: Path) -> None:
    path = tmp_path / "linked.png"
    render_text_image(["Marigold seeds"], font_size=40).save(path)
    record = library.add([path], link=True)
    attachment_id = record.attachments[0].id
    assert library.attachment(attachment_id).linked
    library.scan()
    assert _found_records(library, "marigold") == {record.id}
    old_sha = library.attachment(attachment_id).sha256

    render_text_image(["Zeppelin hangar", "Tuesday"], font_size=40).save(path)
    stat = path.stat()
    os.utime(path, (stat.st_atime, stat.st_mtime + 5))  # a change even on coarse clocks
    report = library.scan()

    attachment = library.attachment(attachment_id)
    assert attachment.sha256 != old_sha
    assert attachment.state == "done"
    assert report.pages_done == 1
    text = library.ocr_text(attachment_id)["pages"][0]["text"].lower()
    assert "zeppelin" in text and "marigold" not in text
    assert _found_records(library, "zeppelin") == {record.id}
    assert _found_records(library, "marigold") == set()
    # Unchanged since: the next scan has nothing to do.
    assert library.scan().pages_done == 0


# --------------------------------------------------------------------------- provenance


def test_run_records_engine_version_model_languages_and_params(
    library: Library, text_image: Callable[..., Path]
) -> None:
    path = text_image("a.png", ["Provenance"], font_size=40)
    attachment_id = library.add([path]).attachments[0].id
    library.scan()
    run = library.ocr_text(attachment_id)["run"]
    assert run["engine"] == "tesseract"
    assert run["engine_version"] == tesserocr.tesseract_version().split()[1]
    assert run["model"].startswith("eng best_int from ")  # model family and where it came from
    assert run["languages"] == "eng"
    assert run["params"] == {"dpi": 300, "passes": "adaptive"}
    assert run["source"] == "engine"
    assert run["complete"] == 1
    assert run["created"] > 0


def test_run_params_follow_the_dpi_setting(library: Library, pdf_file) -> None:
    library.set_setting("dpi", "120")
    attachment_id = library.add([pdf_file("scan.pdf", [["Sunflower"]])]).attachments[0].id
    library.scan()
    result = library.ocr_text(attachment_id)
    assert result["run"]["params"] == {"dpi": 120, "passes": "adaptive"}
    # The page was rendered at that DPI: US Letter at 120 DPI is 1020 x 1320 pixels.
    assert (result["pages"][0]["width"], result["pages"][0]["height"]) == (1020, 1320)


# --------------------------------------------------------------------------- word boxes


def test_word_boxes_land_on_the_drawn_words(library: Library, tmp_path: Path) -> None:
    font = ImageFont.load_default(size=40)
    image = Image.new("RGB", (1400, 700), "white")
    draw = ImageDraw.Draw(image)
    placed = {"orchid": (80, 80), "walnut": (900, 520), "pebble": (500, 300)}
    drawn: dict[str, Box] = {}
    for word, xy in placed.items():
        draw.text(xy, word, fill="black", font=font)
        drawn[word] = tuple(int(v) for v in draw.textbbox(xy, word, font=font))  # type: ignore[misc]
    path = tmp_path / "placed.png"
    image.save(path)
    record = library.add([path])
    library.scan()

    for word in placed:
        results = library.search(word)
        assert [hit.record_id for hit in results.results] == [record.id], word
        page = results.results[0].attachments[0].pages[0]
        assert page.page == 1
        assert len(page.boxes) == 1, (word, page.boxes)
        box = tuple(page.boxes[0])
        assert _overlap(box, drawn[word]), (word, box, drawn[word])
        # ... and not on any other word.
        for other, other_box in drawn.items():
            if other != word:
                assert not _overlap(box, other_box), (word, box, other)
        # Tight: the centre of the OCR box lies inside the drawn box.
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        x0, y0, x1, y1 = drawn[word]
        assert x0 <= cx <= x1 and y0 <= cy <= y1, (word, box, drawn[word])


# --------------------------------------------------------------------------- re-OCR


def test_ocr_redoes_a_done_record_and_replaces_its_run(
    library: Library, text_image: Callable[..., Path]
) -> None:
    record = library.add([text_image("a.png", ["Gooseberry jam"], font_size=40)])
    attachment_id = record.attachments[0].id
    sha = record.attachments[0].sha256
    library.scan()
    [(first_run, _)] = _runs(library, sha)

    report = library.ocr(record.id, engine="slow")

    assert report.pages_done == 1
    assert report.attachments_done == 1
    runs = _runs(library, sha)
    assert len(runs) == 1 and runs[0][1] == 1 and runs[0][0] > first_run
    result = library.ocr_text(attachment_id)
    assert result["run"]["engine"] == "slow"
    assert result["pages"][0]["text"].startswith("slowtext")
    assert _found_records(library, "slowtext") == {record.id}
    assert _found_records(library, "gooseberry") == set()

    report = library.ocr(f"a{attachment_id}", languages="eng")

    assert report.pages_done == 1
    runs_after = _runs(library, sha)
    assert len(runs_after) == 1 and runs_after[0][0] > runs[0][0] and runs_after[0][1] == 1
    assert library.ocr_text(attachment_id)["run"]["languages"] == "eng"
    assert library.attachment(attachment_id).state == "done"


def test_ocr_with_unknown_engine_fails_before_touching_anything(
    library: Library, text_image: Callable[..., Path]
) -> None:
    record = library.add([text_image("a.png", ["Quince"], font_size=40)])
    library.scan()
    before = _runs(library, record.attachments[0].sha256)
    with pytest.raises(EngineError, match="unknown OCR engine 'tesseractt'"):
        library.ocr(record.id, engine="tesseractt")
    assert _runs(library, record.attachments[0].sha256) == before
    assert library.attachment(record.attachments[0].id).state == "done"


def test_ocr_setting_off_stops_scan_but_not_ocr(
    library: Library, text_image: Callable[..., Path]
) -> None:
    library.set_setting("ocr", "false")
    record = library.add([text_image("a.png", ["Rhubarb crumble"], font_size=40)])
    with pytest.raises(TextlensError, match=r"ocr = false") as raised:
        library.scan()
    assert "textlens ocr" in str(raised.value)
    assert library.attachment(record.attachments[0].id).state == "pending"
    assert library.status()["ocr_enabled"] is False

    report = library.ocr(record.id)

    assert report.pages_done == 1
    assert library.attachment(record.attachments[0].id).state == "done"
    assert _found_records(library, "rhubarb") == {record.id}


def test_scan_limit_processes_one_file(library: Library, text_image: Callable[..., Path]) -> None:
    ids = [library.add([text_image(f"{n}.png", [f"file number {n}"], font_size=40)])
           .attachments[0].id for n in ("one", "two", "three")]

    report = library.scan(limit=1)

    assert report.pages_done == 1
    assert report.attachments_done == 1
    assert [library.attachment(i).state for i in ids] == ["done", "pending", "pending"]
    assert library.status()["attachments"]["pending"] == 2

    library.scan()
    assert [library.attachment(i).state for i in ids] == ["done", "done", "done"]


# --------------------------------------------------------------------------- status


def test_status_shape_and_failures(library: Library, text_image: Callable[..., Path],
                                   tmp_path: Path) -> None:
    good = library.add([text_image("good.png", ["Parsnip"], font_size=40)]).attachments[0].id
    notes = tmp_path / "notes.txt"
    notes.write_text("plain text\n")
    skipped = library.add([notes]).attachments[0].id
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4\nthis is not really a PDF\n")
    failed = library.add([broken]).attachments[0].id

    before = library.status()
    assert before["attachments"] == {"pending": 2, "running": 0, "done": 0, "failed": 0,
                                     "skipped": 1}
    assert "failures" not in before

    library.scan()
    status = library.status(failures=True)

    assert set(status) >= {"attachments", "pages", "failures", "records", "index_backlog",
                           "ocr_enabled"}
    for key in ("attachments", "pages"):
        assert set(status[key]) == set(STATES)
        assert all(isinstance(v, int) for v in status[key].values())
    assert status["attachments"] == {"pending": 0, "running": 0, "done": 1, "failed": 1,
                                     "skipped": 1}
    assert status["pages"] == {"pending": 0, "running": 0, "done": 1, "failed": 0, "skipped": 0}
    assert status["records"] == 3
    assert status["index_backlog"] == 0
    failures = status["failures"]
    assert [(f["attachment"], f["name"], f["state"]) for f in failures] == [
        (skipped, "notes.txt", "skipped"), (failed, "broken.pdf", "failed")]
    for f in failures:
        assert {"attachment", "name", "reason"} <= set(f)
        assert isinstance(f["reason"], str) and f["reason"]
    assert "PDF" in failures[1]["reason"]
    assert library.attachment(good).state == "done"
