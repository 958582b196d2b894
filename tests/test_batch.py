"""Batch OCR by processing status, and OCR coverage per status."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from typer.testing import CliRunner

from textlens import ConflictError, Library
from textlens.cli.main import app


def _specimen(library: Library, image: Path | None, number: str, status: str | None,
              collection: str = "WIS-L") -> int:
    record = library.add([image] if image else [], title=number)
    library.set_specimen(record.id, catalog_number=number, processing_status=status,
                         collection=collection)
    return record.id


def test_batch_ocrs_only_records_in_that_status_up_to_the_limit(
    library: Library, text_image: Callable[..., Path]
) -> None:
    library.set_setting("ocr", "false")  # a batch is asked for: it runs all the same
    ids = [_specimen(library, text_image(f"u{i}.png", [f"Unprocessed{i}"]), f"U{i}",
                     "unprocessed") for i in range(3)]
    staged = _specimen(library, text_image("s.png", ["Staged"]), "S1", "stage 1")
    bare = _specimen(library, None, "N1", None)

    result = library.batch("unprocessed", limit=2)

    assert {k: result[k] for k in ("records", "attachments", "pages", "failed")} == {
        "records": 2, "attachments": 2, "pages": 2, "failed": 0}
    states = [library.record(i).attachments[0].state for i in ids]
    assert states == ["done", "done", "pending"]  # oldest first, no more than the limit
    assert library.record(staged).attachments[0].state == "pending"
    assert library.batch("unprocessed", limit=5)["records"] == 1  # only what still lacks OCR
    assert library.batch("unprocessed", limit=5)["records"] == 0
    assert library.batch("none", limit=5)["records"] == 0  # N1 has no image to OCR
    assert library.record(bare).processing_status is None


def test_status_by_processing_status_counts_coverage(
    library: Library, text_image: Callable[..., Path]
) -> None:
    _specimen(library, text_image("d.png", ["Done"]), "A1", "unprocessed")
    library.batch("unprocessed", limit=1)
    _specimen(library, text_image("p.png", ["Pending"]), "A2", "unprocessed")
    partly = _specimen(library, text_image("x.png", ["Xylo"]), "A3", "reviewed")
    library.add([text_image("y.png", ["Yarrow"])], title="more")  # another record
    record = library.record(partly)
    library.batch("reviewed", limit=1)
    extra = library.add([text_image("z.png", ["Zinnia"])], title="z")
    # A second image on A3, not OCR'd yet: A3 now has OCR for some of its images only.
    library.conn.execute("UPDATE attachments SET record_id=? WHERE record_id=?",
                         (record.id, extra.id))
    _specimen(library, None, "A4", None, collection="NY")

    rows = {r["status"]: r for r in library.status_by_processing_status()}
    assert rows["unprocessed"] == {"status": "unprocessed", "records": 2, "with_images": 2,
                                   "all_ocr": 1, "some_ocr": 0, "no_ocr": 1}
    assert rows["reviewed"] == {"status": "reviewed", "records": 1, "with_images": 1,
                                "all_ocr": 0, "some_ocr": 1, "no_ocr": 0}
    assert rows["none"]["records"] == 3  # A4, and the two records that are no specimens
    only_ny = library.status_by_processing_status("NY")
    assert only_ny == [{"status": "none", "records": 1, "with_images": 0, "all_ocr": 0,
                        "some_ocr": 0, "no_ocr": 0}]


def test_batch_and_by_status_from_the_command_line(
    library: Library, text_image: Callable[..., Path]
) -> None:
    _specimen(library, text_image("c.png", ["Cladonia"]), "WIS-L-1", "unprocessed")
    runner = CliRunner()
    base = ["--library", str(library.path)]
    result = runner.invoke(app, [*base, "batch", "--status", "unprocessed", "--limit", "10",
                                 "--json"])
    assert result.exit_code == 0, result.output
    assert {k: json.loads(result.stdout)[k] for k in ("records", "attachments", "pages",
                                                      "failed")} == {
        "records": 1, "attachments": 1, "pages": 1, "failed": 0}
    shown = runner.invoke(app, [*base, "status", "--by-status"])
    assert "unprocessed" in shown.stdout and "records by processing status" in shown.stdout
    empty = runner.invoke(app, [*base, "batch", "--status", "closed"])
    assert empty.exit_code == 0 and "no records in status 'closed' need OCR" in empty.stdout
    bad = runner.invoke(app, [*base, "batch", "--status", "x", "--limit", "0"])
    assert bad.exit_code == 2  # Typer's own check of --limit


def test_add_makes_a_specimen_and_refuses_a_taken_catalog_number(
    library: Library, text_image: Callable[..., Path]
) -> None:
    runner = CliRunner()
    base = ["--library", str(library.path)]
    image = text_image("l.png", ["Lichen"])
    result = runner.invoke(app, [*base, "add", str(image), "--catalog-number", "TENN-L-1",
                                 "--status", "unprocessed", "--collection", "TENN", "--json"])
    assert result.exit_code == 0, result.output
    (record,) = library.specimens("TENN-L-1", "TENN")
    assert record.processing_status == "unprocessed"
    again = runner.invoke(app, [*base, "add", str(image), "--catalog-number", "TENN-L-1",
                                "--collection", "TENN"])
    assert isinstance(again.exception, ConflictError)  # the CLI's error guard: exit code 2
    assert "already record 1" in str(again.exception)
    assert len(library.records()) == 1


def test_records_whose_images_keep_failing_do_not_block_the_batch(
    library: Library, text_image: Callable[..., Path], tmp_path: Path
) -> None:
    broken = tmp_path / "broken.png"
    broken.write_bytes(text_image("whole.png", ["Whole"]).read_bytes()[:200])  # truncated
    bad = _specimen(library, broken, "E0", "queue")
    assert library.batch("queue", limit=1)["failed"] == 1
    good = _specimen(library, text_image("g.png", ["Good"]), "E1", "queue")
    assert library.batch("queue", limit=1)["records"] == 1
    assert library.record(good).attachments[0].state == "done"
    assert library.record(bad).attachments[0].state == "failed"
    assert library.batch("queue", limit=1)["failed"] == 1  # then it is tried again
