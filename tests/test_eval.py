"""`textlens eval`: scores OCR against ground truth per folder and overall."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from textlens.cli.main import app
from textlens.samples import render_text_image, write_pdf

LINES = ["The quick brown fox jumps", "over the lazy dog 1234"]


def _corpus(root: Path) -> Path:
    scans = root / "scans"
    scans.mkdir(parents=True)
    render_text_image(LINES, font_size=40).save(scans / "fox.png")
    (scans / "fox.gt.txt").write_text("\n".join(LINES), encoding="utf-8")
    # Ground truth that says something else entirely: recall 0 for this one.
    render_text_image(["Completely different words"], font_size=40).save(scans / "other.png")
    (scans / "other.gt.txt").write_text("zebra giraffe elephant", encoding="utf-8")
    pdfs = root / "pdfs"
    pdfs.mkdir()
    write_pdf(pdfs / "letter.pdf", ["Dear reader\nthis page has a text layer"])
    (pdfs / "letter.gt.txt").write_text("Dear reader this page has a text layer", encoding="utf-8")
    render_text_image(["not scored"]).save(pdfs / "latin1.png")
    (pdfs / "latin1.gt.txt").write_bytes("caf\xe9 cr\xe8me".encode("latin-1"))
    (pdfs / "lonely.gt.txt").write_text("no document beside me", encoding="utf-8")
    return root


def test_eval_reports_each_folder_and_overall(tmp_path: Path) -> None:
    corpus = _corpus(tmp_path / "corpus")
    result = CliRunner().invoke(
        app, ["--library", str(tmp_path / "lib"), "eval", str(corpus), "--json",
              "--workers", "2"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert set(report["sets"]) == {"scans", "pdfs"}
    keys = {"n", "cer", "wer", "recall", "pages_per_second"}
    for figures in [*report["sets"].values(), report["overall"]]:
        assert keys <= set(figures)
    scans, pdfs = report["sets"]["scans"], report["sets"]["pdfs"]
    assert scans["n"] == 2 and pdfs["n"] == 1 and report["overall"]["n"] == 3
    by_file = {d["file"]: d for d in report["documents"]}
    assert by_file["fox.png"]["recall"] == 1.0
    assert by_file["fox.png"]["cer"] < 0.05
    assert by_file["other.png"]["recall"] == 0.0
    assert by_file["letter.pdf"]["cer"] == 0.0  # read from the text layer
    assert scans["recall"] == 0.5  # averaged over documents
    assert report["overall"]["recall"] == round((1.0 + 0.0 + 1.0) / 3, 4)
    assert scans["pages_per_second"] > 0
    assert [u["file"] for u in report["unusable"]] == ["pdfs/latin1.gt.txt"]
    assert "UTF-8" in report["unusable"][0]["reason"]


def test_eval_of_a_folder_without_ground_truth_is_a_clear_error(tmp_path: Path) -> None:
    from textlens import NotFoundError

    (tmp_path / "empty").mkdir()
    result = CliRunner().invoke(app, ["--library", str(tmp_path / "lib"), "eval",
                                      str(tmp_path / "empty")])
    assert isinstance(result.exception, NotFoundError)
    assert ".gt.txt" in str(result.exception)
