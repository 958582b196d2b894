"""Sync: `export-ocr` writes OCR runs as JSON Lines, `import-ocr-bundle` loads them into another
library, where files with the same content are done (and searchable) without OCR."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.conftest import new_test_library
from textlens import Library
from textlens.cli.main import app

runner = CliRunner()


@pytest.fixture
def other(tmp_path: Path) -> Iterator[Library]:
    """A second library, set up like the `library` fixture."""
    lib = new_test_library(tmp_path / "b")
    yield lib
    lib.close()


@pytest.fixture
def scanned(library: Library, text_image: Callable[..., Path]) -> tuple[Path, str]:
    """Library A with one image OCR'd: (the image, its sha256)."""
    image = text_image("label.png", ["Marigold nursery receipt"], font_size=40)
    record = library.add([image])
    assert library.scan().pages_done == 1
    return image, record.attachments[0].sha256


def _boxes(lib: Library, word: str) -> list[list[int]]:
    results = lib.search(word)
    assert results.total == 1, results
    return [list(b) for b in results.results[0].attachments[0].pages[0].boxes]


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def exported(library: Library, scanned: tuple[Path, str], tmp_path: Path) -> Path:
    """Library A's OCR, exported to a bundle file."""
    bundle = tmp_path / "ocr.jsonl"
    library.export_ocr(bundle)
    return bundle


def test_export_writes_one_line_per_run_with_words_and_boxes(
    library: Library, scanned: tuple[Path, str], tmp_path: Path
) -> None:
    _, sha = scanned
    bundle = tmp_path / "ocr.jsonl"
    report = library.export_ocr(bundle)
    assert report["runs"] == 1 and report["pages"] == 1
    (run,) = _lines(bundle)
    assert run["format"] == "textlens-ocr/1"
    assert run["sha256"] == sha and run["source"] == "engine" and run["engine"]
    (page,) = run["pages"]
    assert "Marigold" in page["text"]
    word = next(w for w in page["words"] if w["text"] == "Marigold")
    assert len(word["box"]) == 4 and word["box"][0] < word["box"][2]
    assert not list(tmp_path.glob(".ocr.jsonl.*"))  # no temp file left behind


def test_import_makes_same_content_done_without_ocr_and_searchable(
    library: Library, other: Library, scanned: tuple[Path, str], exported: Path
) -> None:
    image, sha = scanned
    bundle = exported
    record = other.add([image])

    report = other.import_ocr_bundle(bundle)

    assert report == {"runs": 1, "applied": 1, "kept_for_later": 0, "skipped_identical": 0,
                      "problems": []}
    assert other.attachment(record.attachments[0].id).sha256 == sha
    assert other.status()["attachments"]["done"] == 1
    assert other.scan().pages_done == 0
    assert _boxes(other, "marigold") == _boxes(library, "marigold")
    assert "Marigold" in json.dumps(other.ocr_text(record.attachments[0].id))


def test_import_before_the_file_is_added_keeps_the_run_for_later(
    library: Library, other: Library, scanned: tuple[Path, str], exported: Path
) -> None:
    image, _ = scanned
    bundle = exported

    report = other.import_ocr_bundle(bundle)
    assert (report["applied"], report["kept_for_later"]) == (0, 1)

    other.add([image])
    assert other.status()["attachments"]["done"] == 1
    assert not other.has_work()
    assert other.scan().pages_done == 0
    assert _boxes(other, "nursery") == _boxes(library, "nursery")


def test_reimport_skips_identical_runs(
    library: Library, other: Library, scanned: tuple[Path, str], exported: Path
) -> None:
    image, sha = scanned
    bundle = exported
    other.add([image])
    other.import_ocr_bundle(bundle)

    again = other.import_ocr_bundle(bundle)

    assert (again["applied"], again["skipped_identical"]) == (0, 1)
    assert other.conn.execute("SELECT COUNT(*) FROM ocr_runs WHERE sha256=?",
                              (sha,)).fetchone()[0] == 1
    # Exporting B gives back the same run, so a round trip is stable.
    back = exported.with_name("back.jsonl")
    other.export_ocr(back)
    assert _lines(back) == _lines(bundle)


def test_bad_lines_are_reported_and_the_rest_still_load(
    library: Library, other: Library, scanned: tuple[Path, str], tmp_path: Path
) -> None:
    image, _ = scanned
    good = tmp_path / "ocr.jsonl"
    library.export_ocr(good)
    run = _lines(good)[0]
    wrong_format = {**run, "format": "other/9"}
    missing = {k: v for k, v in run.items() if k != "pages"}
    bad_box = json.loads(json.dumps(run))
    bad_box["pages"][0]["words"][0]["box"] = [10, 10, 5]
    bundle = tmp_path / "mixed.jsonl"
    bundle.write_text("\n".join([
        "not json at all", json.dumps(wrong_format), json.dumps(missing), "",
        json.dumps(bad_box), json.dumps(run), "[1, 2]"]) + "\n")
    other.add([image])

    report = other.import_ocr_bundle(bundle)

    assert (report["runs"], report["applied"]) == (1, 1)
    problems = {p["line"]: p["reason"] for p in report["problems"]}
    assert sorted(problems) == [1, 2, 3, 5, 7]
    assert "not JSON" in problems[1]
    assert "format" in problems[2]
    assert "pages" in problems[3]
    assert "box" in problems[5]
    assert other.scan().pages_done == 0


def test_since_filters_runs_by_creation_time(
    library: Library, scanned: tuple[Path, str], tmp_path: Path
) -> None:
    bundle = tmp_path / "ocr.jsonl"
    assert library.export_ocr(bundle, since=time.time() + 60)["runs"] == 0
    assert bundle.read_text() == ""
    assert library.export_ocr(bundle, since=time.time() - 3600)["runs"] == 1


def test_cli_export_and_import_json(
    library: Library, other: Library, scanned: tuple[Path, str], tmp_path: Path
) -> None:
    image, _ = scanned
    bundle = tmp_path / "ocr.jsonl"
    result = runner.invoke(app, ["-L", str(library.path), "export-ocr", str(bundle), "--json"])
    assert result.exit_code == 0, (result.output, result.exception)
    assert json.loads(result.stdout)["runs"] == 1

    stdout = runner.invoke(app, ["-L", str(library.path), "export-ocr", "-"])
    assert stdout.exit_code == 0
    assert [json.loads(line) for line in stdout.stdout.splitlines()] == _lines(bundle)

    later = runner.invoke(app, ["-L", str(library.path), "export-ocr", str(tmp_path / "x"),
                                "--since", str(time.time() + 60), "--json"])
    assert json.loads(later.stdout)["runs"] == 0

    other.add([image])
    result = runner.invoke(app, ["-L", str(other.path), "import-ocr-bundle", str(bundle),
                                 "--json"])
    assert result.exit_code == 0, (result.output, result.exception)
    assert json.loads(result.stdout) == {"runs": 1, "applied": 1, "kept_for_later": 0,
                                         "skipped_identical": 0, "problems": []}
    text = runner.invoke(app, ["-L", str(other.path), "import-ocr-bundle", str(bundle)])
    assert text.exit_code == 0 and "1 already here" in text.stdout

    missing = runner.invoke(app, ["-L", str(other.path), "import-ocr-bundle",
                                  str(tmp_path / "nope.jsonl")])
    assert missing.exit_code != 0
