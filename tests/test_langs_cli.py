"""`textlens langs`, `langs get`, `langs clear-cache [--refetch]`, and waiting files in `scan`
and `status`, through Typer's CliRunner, against a language-data server on loopback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from tests.langserver import LangServer, put
from tests.plugins.engines import ALL as TEST_ENGINES
from textlens import Library
from textlens.cli.main import app
from textlens.errors import SettingsError
from textlens.samples import render_text_image
from textlens.store import transaction, work

runner = CliRunner()
JSDELIVR = "https://cdn.jsdelivr.net/npm/@tesseract.js-data/{lang}/4.0.0_best_int"


@pytest.fixture
def lib(tmp_path: Path, server: LangServer) -> Path:
    """A library that gets its language data from the loopback server."""
    path = tmp_path / "lib"
    run("init", lib=path)
    run("config", "set", "langdata", server.url, lib=path)
    run("config", "set", "langdata_timeout", "0.5", lib=path)
    return path


def run(*args: str, lib: Path, code: int = 0) -> Result:
    result = runner.invoke(app, ["--library", str(lib), *args])
    assert result.exit_code == code, (result.output, result.exception)
    return result


def run_json(*args: str, lib: Path, code: int = 0) -> Any:
    return json.loads(run(*args, "--json", lib=lib, code=code).stdout)


def test_langs_lists_installed_data_and_the_default_source(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    run("init", lib=lib)
    data = run_json("langs", lib=lib)
    assert set(data) == {"model", "source", "source_set", "installed_first", "cache", "in_use",
                         "missing", "languages"}
    assert (data["model"], data["source"], data["source_set"], data["installed_first"]) == (
        "best_int", JSDELIVR, False, True)
    assert data["cache"] == str(tmp_path / "cache" / "langdata")
    assert (data["in_use"], data["missing"]) == (["eng"], [])
    eng = [r for r in data["languages"] if r["language"] == "eng" and r["used"]]
    assert len(eng) == 1 and eng[0]["origin"] in ("pip", "system")
    assert set(eng[0]) == {"language", "origin", "where", "path", "model", "fetched", "used"}
    text = run("langs", lib=lib).stdout
    assert "best_int" in text and "this library uses: eng" in text


def test_langs_get_fetches_then_finds_it_ready(lib: Path, server: LangServer) -> None:
    put(server.folder, "xyz")
    (fetched,) = run_json("langs", "get", "xyz", lib=lib)["languages"]
    assert (fetched["language"], fetched["status"], fetched["origin"]) == ("xyz", "fetched",
                                                                          "cache")
    assert fetched["error"] is None and Path(fetched["path"]).is_file()
    again = run("langs", "get", "xyz", lib=lib).stdout
    assert "xyz: ready (cache" in again
    rows = run_json("langs", lib=lib)["languages"]
    assert [(r["origin"], r["where"], r["used"]) for r in rows if r["language"] == "xyz"] == [
        ("cache", f"{server.url}/xyz.traineddata.gz", True)]


def test_langs_get_reports_each_language_and_fails_for_a_missing_one(
        lib: Path, server: LangServer) -> None:
    put(server.folder, "xyz")
    result = run("langs", "get", "xyz+nope", lib=lib, code=6)
    assert "xyz: fetched" in result.stdout
    assert "nope: failed" in result.stdout
    flat = " ".join(result.stdout.split())
    assert f"{server.url}/nope.traineddata.gz: not found (HTTP 404)" in flat
    assert "textlens langs get nope" in flat


def test_clear_cache_then_refetch_what_the_library_uses(lib: Path, server: LangServer,
                                                        tmp_path: Path) -> None:
    for lang in ("eng", "xyz", "abc"):
        put(server.folder, lang)
    run("config", "set", "languages", "eng+xyz", lib=lib)
    image = tmp_path / "a.png"
    render_text_image(["Hello"]).save(image)
    with Library.open(lib) as opened:  # one file OCR'd with its own languages
        sha = opened.add([image]).attachments[0].sha256
        with transaction(opened.conn):
            work.request_reocr(opened.conn, sha, None, "abc")
    run("langs", "get", "eng", "xyz", lib=lib)

    cleared = run_json("langs", "clear-cache", lib=lib)
    assert cleared["files"] == 4 and cleared["bytes"] > 0  # two languages and their sidecars
    assert not any(r["origin"] == "cache" for r in run_json("langs", lib=lib)["languages"])

    refetched = run_json("langs", "clear-cache", "--refetch", lib=lib)
    assert refetched["files"] == 0
    assert [(r["language"], r["status"]) for r in refetched["refetched"]] == [
        ("eng", "fetched"), ("xyz", "fetched"), ("abc", "fetched")]

    server.stop()  # offline: the cache serves
    data = run_json("langs", lib=lib)
    assert data["missing"] == []
    assert sorted(r["language"] for r in data["languages"] if r["origin"] == "cache") == [
        "abc", "eng", "xyz"]


def test_fetch_reports_progress(lib: Path, server: LangServer) -> None:
    size = put(server.folder, "xyz").stat().st_size
    calls: list[tuple[str, int, int | None]] = []
    with Library.open(lib) as opened:
        opened.fetch_languages(["xyz"], on_progress=lambda *a: calls.append(a))
    assert calls and calls[-1] == ("xyz", size, size)


def test_scan_and_status_show_files_waiting_for_a_language(
        lib: Path, server: LangServer, tmp_path: Path) -> None:
    put(server.folder, "eng")
    run("config", "set", "plugins", TEST_ENGINES, lib=lib)
    run("config", "set", "engine", "lang", lib=lib)
    run("config", "set", "workers", "1", lib=lib)
    image = tmp_path / "a.png"
    render_text_image(["Hello"]).save(image)
    run("add", str(image), lib=lib)

    report = run_json("scan", "--languages", "eng+xyz", lib=lib)  # this scan only

    assert (report["attachments_done"], report["attachments_waiting"]) == (0, 1)
    assert report["waiting"][0]["name"] == "a.png"
    assert "no language data for xyz" in report["waiting"][0]["reason"]
    text = " ".join(run("status", "--failures", lib=lib).stdout.split())
    assert "1 file waiting" in text
    assert "a.png waiting: no language data for xyz (model best_int): not in the cache" in text
    assert f"{server.url}/xyz.traineddata.gz: not found (HTTP 404)" in text
    shown = " ".join(run("scan", "--languages", "xyz", lib=lib).stdout.split())
    assert "1 waiting" in shown and "waiting a.png: no language data for xyz" in shown

    report = run_json("scan", lib=lib)  # the library's own languages: eng, which is there
    assert (report["attachments_done"], report["attachments_waiting"]) == (1, 0)
    # Asked for by name, a file that could not be OCR'd is an error a script can see.
    ocr = run("ocr", "a1", "--languages", "xyz", lib=lib, code=6)
    assert "waiting a.png: no language data for xyz" in " ".join(ocr.stdout.split())


def test_model_setting_takes_only_known_values(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    run("init", lib=lib)
    result = runner.invoke(app, ["--library", str(lib), "config", "set", "model", "turbo"])
    assert "must be one of best_int, fast, best" in str(result.exception)
    run("config", "set", "model", "fast", lib=lib)
    data = run_json("langs", lib=lib)
    assert data["source"] == "https://raw.githubusercontent.com/tesseract-ocr/tessdata_fast/main"
    assert data["missing"] == ["eng"]  # installed data counts as best_int only


def test_a_language_code_that_cannot_be_is_refused_at_once(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    run("init", lib=lib)
    render_text_image(["Hello"]).save(tmp_path / "a.png")
    run("add", str(tmp_path / "a.png"), lib=lib)
    result = runner.invoke(app, ["--library", str(lib), "config", "set", "languages",
                                 "eng+../x"])
    assert isinstance(result.exception, SettingsError)
    assert "'../x' is not a language code" in str(result.exception)
    assert "Fix the `languages` setting" in str(result.exception)
    for command in ("scan", "ocr a1"):  # no scan that would only wait for ever
        result = runner.invoke(app, ["--library", str(lib), *command.split(),
                                     "--languages", "eng/fra"])
        assert isinstance(result.exception, SettingsError), result.output
    with Library.open(lib) as opened:
        assert opened.settings.languages == "eng"
        with pytest.raises(SettingsError, match="'a b' is not a language code"):
            opened.ocr("a1", languages="eng+a b")
