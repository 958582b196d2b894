"""The `textlens` command line: Typer's CliRunner for output and JSON shapes, the real console
script (in a subprocess) for error messages and exit codes, which `run_guarded` produces."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from textlens import SETTINGS, Library, NotFoundError
from textlens.cli.main import app
from textlens.samples import render_text_image, write_pdf

SCRIPT = Path(sys.executable).parent / "textlens"
runner = CliRunner()


def cli(*args: str, env: dict[str, str | None] | None = None) -> Result:
    """Run the app in-process; a TextlensError ends up in ``result.exception``."""
    return runner.invoke(app, list(args), env=env)


def ok(*args: str, env: dict[str, str | None] | None = None) -> Result:
    result = cli(*args, env=env)
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def ok_json(*args: str, env: dict[str, str | None] | None = None) -> Any:
    return json.loads(ok(*args, "--json", env=env).stdout)


def script(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the installed console script, as a user would."""
    return subprocess.run(
        [str(SCRIPT), *args], capture_output=True, text=True, timeout=60,
        env={**os.environ, **(env or {})},
    )


def image(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    render_text_image(lines, font_size=36).save(path)
    return path


@dataclass
class Scanned:
    lib: Path
    records: dict[str, Any]  # `add --json` output by name
    scan: dict[str, Any]  # `scan --json` output


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scanned]:
    """A library made, filled and scanned through the CLI (shared: tests only read it)."""
    root = tmp_path_factory.mktemp("cli")
    lib = root / "lib"
    files = root / "files"
    with pytest.MonkeyPatch.context() as mp:
        for name in list(os.environ):
            if name.startswith("TEXTLENS_"):
                mp.delenv(name)
        mp.setenv("XDG_DATA_HOME", str(root / "xdg"))
        base = ("--library", str(lib))
        ok(*base, "init")
        ok(*base, "config", "set", "workers", "2")
        records = {}
        photo = image(files / "heron.png", ["Great blue heron nesting", "near the marsh"])
        records["heron"] = ok_json(*base, "add", str(photo), "--title", "Heron photo")
        pdf = files / "minutes.pdf"
        write_pdf(pdf, ["Board minutes page one", "Budget approved", "Adjourned at nine"])
        records["minutes"] = ok_json(*base, "add", str(pdf))
        notes = files / "notes.txt"
        notes.write_text("plain text is not OCR'd\n")
        records["notes"] = ok_json(*base, "add", str(notes), "--body", "kingfisher notes")
        scan = ok_json(*base, "scan")
        yield Scanned(lib, records, scan)


def test_init_creates_the_library_folder(tmp_path: Path) -> None:
    lib = tmp_path / "new"
    result = ok("--library", str(lib), "init")
    assert "library ready" in result.stdout
    assert (lib / "library.db").is_file()
    assert (lib / "textlens.toml").is_file()
    assert (lib / "files").is_dir()
    # Running it again keeps the existing library.
    ok("--library", str(lib), "init")


def test_add_json_shape(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    a = image(tmp_path / "in" / "one.png", ["one"])
    b = image(tmp_path / "in" / "two.png", ["two"])
    data = ok_json("--library", str(lib), "add", str(a), str(b), "--title", "Two pictures")
    assert set(data) == {"records", "errors"} and data["errors"] == []
    [record] = data["records"]
    assert set(record) >= {"id", "title", "attachments"}
    assert record["title"] == "Two pictures"
    assert isinstance(record["id"], int)
    assert [a["name"] for a in record["attachments"]] == ["one.png", "two.png"]
    for attachment in record["attachments"]:
        assert set(attachment) >= {"id", "name"}
        assert isinstance(attachment["id"], int)
    # Copied into the library (add creates the library if needed).
    assert len([p for p in (lib / "files").rglob("*") if p.is_file()]) == 2


def test_add_default_title_is_the_file_name(tmp_path: Path) -> None:
    a = image(tmp_path / "in" / "receipt-march.png", ["x"])
    data = ok_json("--library", str(tmp_path / "lib"), "add", str(a))
    assert data["records"][0]["title"] == "receipt-march"


def test_add_each_makes_one_record_per_file_recursively(tmp_path: Path) -> None:
    folder = tmp_path / "inbox"
    image(folder / "a.png", ["a"])
    image(folder / "sub" / "b.png", ["b"])
    image(folder / "sub" / "deeper" / "c.png", ["c"])
    image(folder / ".hidden" / "d.png", ["d"])
    image(folder / ".e.png", ["e"])
    data = ok_json("--library", str(tmp_path / "lib"), "add", "--each", str(folder))
    records = data["records"]
    assert sorted(r["title"] for r in records) == ["a.png", "sub/b.png", "sub/deeper/c.png"]
    assert all(len(r["attachments"]) == 1 for r in records)
    assert len({r["id"] for r in records}) == 3


def test_add_link_references_the_file_in_place(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    photo = image(tmp_path / "in" / "linked.png", ["linked"])
    data = ok_json("--library", str(lib), "add", "--link", str(photo))
    attachment_id = data["records"][0]["attachments"][0]["id"]
    shown = ok_json("--library", str(lib), "show", f"a{attachment_id}")
    [attachment] = shown["attachments"]
    assert attachment["linked"] is True
    assert attachment["path"] == str(photo.resolve())
    assert not [p for p in (lib / "files").rglob("*") if p.is_file()]


def test_add_missing_file_is_an_error(tmp_path: Path) -> None:
    result = script("--library", str(tmp_path / "lib"), "add", str(tmp_path / "nope.png"))
    assert result.returncode == 4
    assert "nope.png is not a file" in result.stderr
    assert "Traceback" not in result.stderr


def test_scan_json_report(scanned: Scanned) -> None:
    report = scanned.scan
    assert set(report) >= {"pages_done", "pages_failed", "attachments_done", "attachments_failed",
                           "attachments_skipped", "seconds", "pages_per_second", "failures"}
    assert report["pages_done"] == 4  # one image and a three-page PDF
    assert report["attachments_done"] == 2
    assert report["attachments_failed"] == 0
    assert report["attachments_skipped"] == 1  # notes.txt
    assert report["failures"] == []


def test_scan_with_nothing_to_do(scanned: Scanned) -> None:
    report = ok_json("--library", str(scanned.lib), "scan")
    assert report["pages_done"] == 0


def test_status_json_shape(scanned: Scanned) -> None:
    status = ok_json("--library", str(scanned.lib), "status")
    states = {"pending", "running", "done", "failed", "skipped"}
    assert set(status["attachments"]) == states
    assert set(status["pages"]) == states
    assert status["attachments"] == {"pending": 0, "running": 0, "done": 2, "failed": 0,
                                     "skipped": 1}
    assert status["pages"]["done"] == 4
    assert status["records"] == 3
    notes_attachment = scanned.records["notes"]["records"][0]["attachments"][0]["id"]
    [failure] = status["failures"]
    assert set(failure) >= {"attachment", "name", "reason"}
    assert failure["attachment"] == notes_attachment
    assert failure["name"] == "notes.txt"
    assert failure["reason"]


def test_status_text(scanned: Scanned) -> None:
    result = ok("--library", str(scanned.lib), "status", "--failures")
    assert "3 records" in result.stdout
    assert "notes.txt" in result.stdout


def test_search_json_shape(scanned: Scanned) -> None:
    data = ok_json("--library", str(scanned.lib), "search", "heron")
    assert data["query"] == "heron"
    assert data["total"] == 1
    [hit] = data["results"]
    assert hit["record"] == {"id": scanned.records["heron"]["records"][0]["id"],
                             "title": "Heron photo"}
    assert hit["record_matched"] is True  # the title says "Heron" too
    [attachment] = hit["attachments"]
    assert attachment["name"] == "heron.png"
    [page] = attachment["pages"]
    assert page["page"] == 1
    assert "<b>heron</b>" in page["snippet"]
    assert len(page["boxes"]) == 1 and len(page["boxes"][0]) == 4


def test_search_reports_the_pdf_page(scanned: Scanned) -> None:
    data = ok_json("--library", str(scanned.lib), "search", "adjourned")
    assert [p["page"] for p in data["results"][0]["attachments"][0]["pages"]] == [3]


def test_search_fuzzy_and_limit(scanned: Scanned) -> None:
    base = ("--library", str(scanned.lib), "search")
    assert ok_json(*base, "marhs")["total"] == 0
    assert ok_json(*base, "marhs", "--fuzzy")["total"] == 1
    assert ok_json(*base, "kingfisher")["results"][0]["record_matched"] is True
    data = ok_json(*base, "heron OR budget OR kingfisher", "--limit", "2")
    assert data["total"] == 3
    assert len(data["results"]) == 2


def test_search_text_output(scanned: Scanned) -> None:
    result = ok("--library", str(scanned.lib), "search", "budget")
    assert "1 record(s) match" in result.stdout
    assert "minutes" in result.stdout
    assert "p.2" in result.stdout


@pytest.mark.parametrize(
    ("query", "message"),
    [('"unclosed', "unclosed quote"), ("heron OR", "'OR' needs a word"),
     ("-heron", "cannot only exclude"), ("h*", "too short a prefix"), ("", "no words")],
)
def test_malformed_query_is_a_readable_error(scanned: Scanned, query: str, message: str) -> None:
    result = script("--library", str(scanned.lib), "search", query)
    assert result.returncode == 2
    assert message in result.stderr
    assert result.stderr.startswith("error:")
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_query_may_start_with_an_exclusion(scanned: Scanned) -> None:
    base = ("--library", str(scanned.lib), "search")
    assert ok_json(*base, "-heron budget")["total"] == 1
    assert ok_json(*base, "-budget heron")["total"] == 1
    # A mistyped option is still an error, not a query.
    assert script(*base, "heron", "--fuzy").returncode == 2


def test_malformed_query_in_process_raises_the_error(scanned: Scanned) -> None:
    from textlens import QuerySyntaxError

    result = cli("--library", str(scanned.lib), "search", "heron OR")
    assert isinstance(result.exception, QuerySyntaxError)


def test_show_record_text(scanned: Scanned) -> None:
    record_id = scanned.records["minutes"]["records"][0]["id"]
    result = ok("--library", str(scanned.lib), "show", str(record_id), "--text")
    assert f"record {record_id}" in result.stdout
    assert "minutes.pdf" in result.stdout
    for text in ("Board minutes page one", "Budget approved", "Adjourned at nine"):
        assert text in result.stdout
    without = ok("--library", str(scanned.lib), "show", str(record_id))
    assert "page 3" in without.stdout
    assert "Budget approved" not in without.stdout


def test_show_attachment_json(scanned: Scanned) -> None:
    attachment_id = scanned.records["heron"]["records"][0]["attachments"][0]["id"]
    data = ok_json("--library", str(scanned.lib), "show", f"a{attachment_id}")
    assert "record" not in data
    [attachment] = data["attachments"]
    assert attachment["id"] == attachment_id
    assert attachment["name"] == "heron.png"
    assert attachment["state"] == "done"
    assert attachment["linked"] is False
    run = attachment["ocr"]["run"]
    assert run["engine"] == "tesseract"
    assert run["languages"] == "eng"
    [page] = attachment["ocr"]["pages"]
    assert page["page"] == 1
    assert "heron" in page["text"].lower()
    assert page["words"] >= 6


def test_show_unknown_ids(scanned: Scanned) -> None:
    result = script("--library", str(scanned.lib), "show", "999")
    assert result.returncode == 4
    assert "no record 999" in result.stderr
    assert "Traceback" not in result.stderr
    bad = script("--library", str(scanned.lib), "show", "x7")
    assert bad.returncode == 4
    assert "not an id" in bad.stderr


def test_ocr_one_record_again(scanned: Scanned) -> None:
    record_id = scanned.records["heron"]["records"][0]["id"]
    result = ok("--library", str(scanned.lib), "ocr", str(record_id))
    assert "1 pages OCR'd, 0 failed" in result.stdout
    # The text is the same, so search still finds it once.
    assert ok_json("--library", str(scanned.lib), "search", "nesting")["total"] == 1


def test_ocr_attachment_json(scanned: Scanned) -> None:
    attachment_id = scanned.records["minutes"]["records"][0]["attachments"][0]["id"]
    report = ok_json("--library", str(scanned.lib), "ocr", f"a{attachment_id}")
    assert report["pages_done"] == 3
    assert report["pages_failed"] == 0


def test_ocr_unknown_engine_is_an_error(scanned: Scanned) -> None:
    record_id = scanned.records["heron"]["records"][0]["id"]
    result = script("--library", str(scanned.lib), "ocr", str(record_id), "--engine", "nosuch")
    assert result.returncode == 2  # a usage error, like any bad setting or option
    assert "nosuch" in result.stderr
    assert "Traceback" not in result.stderr


def test_reindex_rebuilds_the_index(scanned: Scanned) -> None:
    result = ok("--library", str(scanned.lib), "reindex")
    # Three records (title+body documents) plus four OCR'd pages.
    assert "index rebuilt: 7 documents" in result.stdout
    assert ok_json("--library", str(scanned.lib), "search", "budget")["total"] == 1
    assert ok_json("--library", str(scanned.lib), "search", "heron")["total"] == 1


def test_remove_deletes_the_record(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    photo = image(tmp_path / "in" / "gone.png", ["gone"])
    record = ok_json("--library", str(lib), "add", str(photo), "--title", "Ostrich feather")
    record_id = record["records"][0]["id"]
    assert ok_json("--library", str(lib), "search", "ostrich")["total"] == 1
    result = ok("--library", str(lib), "remove", str(record_id))
    assert f"record {record_id} removed" in result.stdout
    assert ok_json("--library", str(lib), "search", "ostrich")["total"] == 0
    assert not [p for p in (lib / "files").rglob("*") if p.is_file()]
    again = cli("--library", str(lib), "remove", str(record_id))
    assert isinstance(again.exception, NotFoundError)


def test_remove_refuses_an_attachment_id(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    two = [str(image(tmp_path / "in" / f"{n}.png", [n])) for n in ("p", "q")]
    first = ok_json("--library", str(lib), "add", *two)["records"][0]
    second = ok_json("--library", str(lib), "add", str(image(tmp_path / "r.png", ["r"])))
    third = ok_json("--library", str(lib), "add", str(image(tmp_path / "s.png", ["s"])))
    # Attachment a3 belongs to record 2; record 3 exists too and must not be deleted.
    attachment = second["records"][0]["attachments"][0]["id"]
    assert attachment == third["records"][0]["id"] == 3
    result = script("--library", str(lib), "remove", f"a{attachment}")
    assert result.returncode == 4
    assert "takes a record id" in result.stderr
    with Library.open(lib) as opened:
        assert [r.id for r in opened.records()] == [first["id"], 2, 3]


def test_missing_library_is_a_clear_error(tmp_path: Path) -> None:
    result = script("--library", str(tmp_path / "nowhere"), "status")
    assert result.returncode == 3
    assert "no textlens library" in result.stderr
    assert "textlens init" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "nowhere").exists()


# --------------------------------------------------------------------------- config


def config_json(lib: Path, *before: str, env: dict[str, str | None] | None = None) -> Any:
    return ok_json("--library", str(lib), *before, "config", env=env)["settings"]


def test_config_json_lists_every_setting(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    ok("--library", str(lib), "init")
    settings = config_json(lib)
    assert set(settings) == {s.name for s in SETTINGS}
    for s in SETTINGS:
        entry = settings[s.name]
        assert set(entry) >= {"value", "source", "default", "help"}
        assert entry["value"] == s.default == entry["default"]
        assert entry["source"] == "default"
        assert entry["help"]


def test_config_sources_follow_precedence(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    ok("--library", str(lib), "init")
    ok("--library", str(lib), "config", "set", "dpi", "200")
    ok("--library", str(lib), "config", "set", "workers", "3")
    ok("--library", str(lib), "config", "set", "languages", "eng+fra")
    env = {"TEXTLENS_WORKERS": "5", "TEXTLENS_LANGUAGES": "deu"}
    settings = config_json(lib, "--set", "languages=eng", env=env)
    assert (settings["ocr"]["value"], settings["ocr"]["source"]) == (True, "default")
    assert (settings["dpi"]["value"], settings["dpi"]["source"]) == (200, "textlens.toml")
    assert (settings["workers"]["value"], settings["workers"]["source"]) == (
        5, "TEXTLENS_WORKERS")
    assert (settings["languages"]["value"], settings["languages"]["source"]) == (
        "eng", "command line")
    assert settings["dpi"]["default"] == 300


def test_config_text_output(tmp_path: Path) -> None:
    result = ok("--library", str(tmp_path / "lib"), "--set", "workers=4", "config")
    assert "workers = 4" in result.stdout
    assert "command line" in result.stdout


def test_config_set_writes_textlens_toml(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    ok("--library", str(lib), "init")
    result = ok("--library", str(lib), "config", "set", "languages", "eng")
    assert "languages = 'eng'" in result.stdout
    ok("--library", str(lib), "config", "set", "ocr", "off")
    ok("--library", str(lib), "config", "set", "page-timeout", "12.5")
    text = (lib / "textlens.toml").read_text()
    data = tomllib.loads(text)
    assert data == {"languages": "eng", "ocr": False, "page_timeout": 12.5}
    assert text.startswith("# textlens library settings")  # the comments are kept
    settings = config_json(lib)
    assert settings["languages"]["source"] == "textlens.toml"
    assert settings["ocr"]["value"] is False


def test_config_set_bad_value_is_a_clear_error(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    ok("--library", str(lib), "init")
    before = (lib / "textlens.toml").read_text()
    result = script("--library", str(lib), "config", "set", "workers", "abc")
    assert result.returncode == 2
    assert "'workers' must be a whole number, not 'abc'" in result.stderr
    assert "Traceback" not in result.stderr
    assert (lib / "textlens.toml").read_text() == before
    below = script("--library", str(lib), "config", "set", "--", "workers", "-1")
    assert below.returncode == 2
    assert "at least 0" in below.stderr


def test_unknown_setting_lists_the_known_ones(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    ok("--library", str(lib), "init")
    for args in (["config", "set", "wrokers", "2"], ["--set", "wrokers=2", "config"]):
        result = script("--library", str(lib), *args)
        assert result.returncode == 2
        assert "Unknown setting 'wrokers'" in result.stderr
        for s in SETTINGS:
            assert s.name in result.stderr
        assert "Traceback" not in result.stderr


def test_set_option_needs_name_and_value(tmp_path: Path) -> None:
    result = script("--library", str(tmp_path / "lib"), "--set", "workers", "config")
    assert result.returncode == 2
    assert "NAME=VALUE" in result.stderr


def test_scan_refuses_when_ocr_is_off(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    ok("--library", str(lib), "init")
    ok("--library", str(lib), "config", "set", "ocr", "false")
    result = script("--library", str(lib), "scan")
    assert result.returncode == 1
    assert "OCR is turned off" in result.stderr
    assert "Traceback" not in result.stderr


# --------------------------------------------------------------------------- which library


def test_textlens_library_env_selects_the_library(tmp_path: Path) -> None:
    lib = tmp_path / "from-env"
    env = {"TEXTLENS_LIBRARY": str(lib)}
    ok("init", env=env)
    assert (lib / "library.db").is_file()
    ok("add", str(image(tmp_path / "in" / "x.png", ["x"])), "--title", "Pelican", env=env)
    assert ok_json("search", "pelican", env=env)["total"] == 1
    with Library.open(lib) as opened:
        assert [r.title for r in opened.records()] == ["Pelican"]
    # --library wins over the environment variable.
    other = tmp_path / "other"
    ok("--library", str(other), "init", env=env)
    assert ok_json("--library", str(other), "search", "pelican", env=env)["total"] == 0


def test_default_library_is_in_the_user_data_dir(tmp_path: Path) -> None:
    xdg = Path(os.environ["XDG_DATA_HOME"])
    assert xdg.is_relative_to(tmp_path)  # set by conftest, never the real home
    ok("init")
    default = xdg / "textlens" / "library"
    assert (default / "library.db").is_file()
    ok("add", str(image(tmp_path / "in" / "x.png", ["x"])), "--title", "Cormorant")
    assert ok_json("search", "cormorant")["total"] == 1
    assert ok_json("config")["library"] == str(default)


def test_engines_json_lists_tesseract(tmp_path: Path) -> None:
    for args in ([], ["--library", str(tmp_path / "none")]):
        data = ok_json(*args, "engines")
        by_name = {e["name"]: e for e in data["engines"]}
        tesseract = by_name["tesseract"]
        assert tesseract["available"] is True
        assert tesseract["version"]
        assert set(tesseract) >= {"name", "origin", "version", "available", "detail"}
