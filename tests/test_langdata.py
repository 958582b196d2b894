"""Language data: finding, fetching (from a real HTTP server on loopback), checking and caching
``<lang>.traineddata``, and the one folder Tesseract is given."""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import pytest
import tesserocr

from tests.langserver import LangServer, eng_data, put
from textlens.engines import langdata, langfetch
from textlens.engines.langdata import Config
from textlens.engines.tesseract import TesseractEngine
from textlens.errors import LanguageDataError
from textlens.settings import Settings


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache" / "langdata"


def url_config(server: LangServer, cache: Path, layout: str = "", **kwargs: object) -> Config:
    return Config(langdata=server.url + layout, timeout=0.5, cache=cache,
                  **kwargs)  # type: ignore[arg-type]


def leftovers(cache: Path) -> list[str]:
    """Everything in the cache but finished files and their sidecars."""
    return [str(p.relative_to(cache)) for p in cache.rglob("*")
            if p.is_file() and not p.name.endswith((".traineddata", ".json"))
            or p.is_dir() and p.name.startswith(".")]


# --------------------------------------------------------------------------- fetching


def test_fetches_a_gz_once_checks_it_and_records_where_it_came_from(
        server: LangServer, cache: Path) -> None:
    put(server.folder, "xyz")
    config = url_config(server, cache)

    found = langdata.get("xyz", config)

    assert found.origin == "cache"
    assert found.path == config.cache_folder / "xyz.traineddata"
    assert found.path.read_bytes() == eng_data()
    meta = json.loads(found.path.with_suffix(".json").read_text())
    assert meta["url"] == f"{server.url}/xyz.traineddata.gz"
    assert meta["model"] == "best_int"
    assert meta["sha256"] == hashlib.sha256(eng_data()).hexdigest()
    assert meta["fetched"].startswith("20")
    assert leftovers(cache) == []
    # Reused: a second call asks the server nothing.
    server.requests.clear()
    assert langdata.get("xyz", config).path == found.path
    assert server.requests == []


def test_cached_language_is_used_offline(server: LangServer, cache: Path) -> None:
    put(server.folder, "xyz")
    config = url_config(server, cache)
    langdata.get("xyz", config)
    server.stop()

    found = langdata.language_set(["xyz"], config)

    assert (found.folder / "xyz.traineddata").read_bytes() == eng_data()
    with tesserocr.PyTessBaseAPI(path=str(found.folder), lang="xyz") as api:
        assert api.GetInitLanguagesAsString() == "xyz"


def test_plain_traineddata_is_fetched_when_there_is_no_gz(server: LangServer,
                                                         cache: Path) -> None:
    put(server.folder, "xyz", packed=False)
    found = langdata.get("xyz", url_config(server, cache))
    assert found.path.read_bytes() == eng_data()
    assert server.requests == ["/xyz.traineddata.gz", "/xyz.traineddata"]


def test_lang_placeholder_layout(server: LangServer, cache: Path) -> None:
    # tesseract.js's CDN layout: one folder per language.
    put(server.folder / "xyz" / "4.0.0_best_int", "xyz")
    config = url_config(server, cache, "/{lang}/4.0.0_best_int")
    found = langdata.get("xyz", config)
    assert found.path.read_bytes() == eng_data()
    assert server.requests == ["/xyz/4.0.0_best_int/xyz.traineddata.gz"]


def test_missing_language_names_it_every_url_and_what_to_do(server: LangServer,
                                                            cache: Path) -> None:
    with pytest.raises(LanguageDataError) as excinfo:
        langdata.get("xyz", url_config(server, cache))
    message = str(excinfo.value)
    assert "no language data for xyz" in message
    assert f"{server.url}/xyz.traineddata.gz: not found (HTTP 404)" in message
    assert f"{server.url}/xyz.traineddata: not found (HTTP 404)" in message
    assert "textlens langs get xyz" in message
    assert "langdata" in message


def test_truncated_gz_is_rejected_and_leaves_nothing_in_the_cache(
        server: LangServer, cache: Path) -> None:
    put(server.folder, "xyz", cut=0.6)
    config = url_config(server, cache)
    with pytest.raises(LanguageDataError) as excinfo:
        langdata.get("xyz", config)
    assert "gzip file is damaged or incomplete" in str(excinfo.value)
    assert not (config.cache_folder / "xyz.traineddata").exists()
    assert leftovers(cache) == []


def test_truncated_plain_file_is_rejected(server: LangServer, cache: Path) -> None:
    put(server.folder, "xyz", packed=False, cut=0.6)
    config = url_config(server, cache)
    with pytest.raises(LanguageDataError) as excinfo:
        langdata.get("xyz", config)
    assert "xyz.traineddata: not Tesseract language data" in str(excinfo.value)
    assert "incomplete" in str(excinfo.value)
    assert not (config.cache_folder / "xyz.traineddata").exists()
    assert leftovers(cache) == []


def test_file_that_tesseract_cannot_load_is_rejected(server: LangServer, cache: Path) -> None:
    # A whole table of contents over garbage: only loading it shows it is no language data.
    good = eng_data()
    count = int.from_bytes(good[:4], "little")
    (server.folder / "xyz.traineddata").write_bytes(
        good[: 4 + 8 * count] + bytes(len(good) - 4 - 8 * count))
    with pytest.raises(LanguageDataError) as excinfo:
        langdata.get("xyz", url_config(server, cache))
    assert "Tesseract cannot load it" in str(excinfo.value)
    assert leftovers(cache) == []


def test_slow_server_hits_the_timeout(server: LangServer, cache: Path) -> None:
    put(server.folder, "xyz")
    server.delay = 3.0
    started = time.monotonic()
    with pytest.raises(LanguageDataError) as excinfo:
        langdata.get("xyz", url_config(server, cache))
    assert time.monotonic() - started < 2.5
    message = str(excinfo.value)
    assert "no answer within 0.5 s" in message
    assert "xyz.traineddata:" not in message  # no second wait for the plain file
    assert leftovers(cache) == []


def test_a_silent_server_is_waited_for_once_per_call(server: LangServer, cache: Path) -> None:
    server.delay = 3.0
    started = time.monotonic()
    with pytest.raises(LanguageDataError) as excinfo:
        langdata.language_set(["xyz", "abc"], url_config(server, cache))
    assert time.monotonic() - started < 1.5
    assert f"{server.url} did not answer just now" in str(excinfo.value)
    assert "textlens langs get xyz abc" in str(excinfo.value)


def test_unreachable_server_says_so(server: LangServer, cache: Path) -> None:
    server.stop()
    with pytest.raises(LanguageDataError) as excinfo:
        langdata.get("xyz", url_config(server, cache))
    assert "could not download it" in str(excinfo.value)
    assert "offline?" in str(excinfo.value)


def test_download_size_is_bounded(server: LangServer, cache: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    put(server.folder, "xyz")
    monkeypatch.setattr(langfetch, "MAX_BYTES", 100_000)
    with pytest.raises(LanguageDataError) as excinfo:
        langdata.get("xyz", url_config(server, cache))
    assert "limit for language data" in str(excinfo.value)
    assert leftovers(cache) == []


@pytest.mark.parametrize("code", ["../eng", "e n g", ""])
def test_a_code_that_is_no_language_code_is_refused(code: str, cache: Path) -> None:
    with pytest.raises(LanguageDataError) as excinfo:
        langdata.get(code, Config(langdata="http://127.0.0.1:9", cache=cache))
    assert "is not a language code" in str(excinfo.value)


# --------------------------------------------------------------------------- sources and models


def test_local_folder_with_gz_and_plain_files(tmp_path: Path, cache: Path) -> None:
    folder = tmp_path / "mine"
    packed = put(folder, "xyz")
    plain = put(folder, "abc", packed=False)
    config = Config(langdata=str(folder), cache=cache)

    xyz = langdata.get("xyz", config)
    abc = langdata.get("abc", config)

    assert (xyz.origin, xyz.file) == ("folder", packed)  # unpacked into the cache
    assert xyz.path.parent == config.cache_folder
    assert (abc.origin, abc.path) == ("folder", plain)  # used where it is
    # A .gz that changes is unpacked again.
    assert langdata.find("xyz", config) == xyz
    os.utime(packed, (1, 1))
    assert langdata.find("xyz", config) is None
    assert langdata.get("xyz", config).path == xyz.path


def test_default_source_follows_the_model() -> None:
    assert Config().source == "https://cdn.jsdelivr.net/npm/@tesseract.js-data/{lang}/4.0.0_best_int"
    assert Config(model="fast").source == (
        "https://raw.githubusercontent.com/tesseract-ocr/tessdata_fast/main")
    assert Config(model="best").source == (
        "https://raw.githubusercontent.com/tesseract-ocr/tessdata_best/main")
    assert Config().uses_installed
    assert not Config(model="fast").uses_installed
    assert not Config(langdata="/somewhere").uses_installed


def test_installed_data_counts_as_best_int_only(cache: Path) -> None:
    found = langdata.find("eng", Config(cache=cache))
    assert found is not None and found.origin in ("pip", "system")
    # tessdata_fast is not installed here: nothing is found, and nothing is fetched by find().
    assert langdata.find("eng", Config(model="fast", cache=cache)) is None


def test_models_and_sources_never_share_cache_files(server: LangServer, cache: Path) -> None:
    put(server.folder, "xyz")
    paths = {langdata.get("xyz", url_config(server, cache, model=model)).path
             for model in ("best_int", "fast")}
    put(server.folder / "other", "xyz")
    paths.add(langdata.get("xyz", url_config(server, cache, "/other")).path)
    assert len(paths) == 3


def test_settings_validate_the_model() -> None:
    assert Settings.load(None, {"model": "fast"}).model == "fast"
    with pytest.raises(Exception, match="must be one of best_int, fast, best"):
        Settings.load(None, {"model": "turbo"})


# --------------------------------------------------------------------------- one folder


def test_one_folder_holds_every_language_and_osd(server: LangServer, cache: Path) -> None:
    put(server.folder, "xyz")
    put(server.folder, "abc")
    config = url_config(server, cache)

    found = langdata.language_set(["abc", "xyz"], config)

    names = sorted(p.name for p in found.folder.iterdir())
    assert names == ["abc.traineddata", "osd.traineddata", "xyz.traineddata"]
    assert found.folder.parent == cache / "sets"
    assert found.describe() == f"abc+xyz best_int from {server.url}"
    with tesserocr.PyTessBaseAPI(path=str(found.folder), lang="abc+xyz") as api:
        assert api.GetInitLanguagesAsString() == "abc+xyz"
    with tesserocr.PyTessBaseAPI(path=str(found.folder), lang="osd"):
        pass
    # The same set again is the same folder; a damaged one is made again.
    assert langdata.language_set(["abc", "xyz"], config).folder == found.folder
    (found.folder / "abc.traineddata").unlink()
    assert (langdata.language_set(["abc", "xyz"], config).folder / "abc.traineddata").is_file()


def test_installed_languages_need_no_new_folder(cache: Path) -> None:
    found = langdata.language_set(["eng"], Config(cache=cache))
    assert (found.folder / "eng.traineddata").is_file()
    assert found.describe().startswith("eng best_int from ")
    assert not (cache / "sets").exists() or (found.folder / "osd.traineddata").exists()


def test_missing_languages_are_named_together(server: LangServer, cache: Path) -> None:
    put(server.folder, "xyz")
    with pytest.raises(LanguageDataError) as excinfo:
        langdata.language_set(["xyz", "abc", "qqq"], url_config(server, cache))
    message = str(excinfo.value)
    assert "no language data for abc" in message and "no language data for qqq" in message
    assert "textlens langs get abc qqq" in message


def test_tesseract_prepare_gives_the_folder_and_the_model(server: LangServer,
                                                          cache: Path) -> None:
    put(server.folder, "xyz")
    settings = Settings.load(None, {"langdata": server.url, "langdata_timeout": "0.5"})
    options = TesseractEngine.prepare(["xyz"], settings)
    assert (Path(options["tessdata"]) / "xyz.traineddata").is_file()
    assert options["model"] == f"xyz best_int from {server.url}"


# --------------------------------------------------------------------------- listing and clearing


def test_inventory_marks_what_is_used(server: LangServer, cache: Path) -> None:
    put(server.folder, "xyz")
    config = url_config(server, cache)
    langdata.get("xyz", config)
    rows = langdata.inventory(config)
    cached = [r for r in rows if r["origin"] == "cache"]
    assert [(r["language"], r["where"], r["used"]) for r in cached] == [
        ("xyz", f"{server.url}/xyz.traineddata.gz", True)]
    # With langdata set, installed data is not what these settings use.
    assert not any(r["used"] for r in rows if r["origin"] in ("pip", "system"))
    default = langdata.inventory(Config(cache=cache))
    assert any(r["used"] for r in default if r["language"] == "eng")


def test_clear_cache_removes_files_and_sets(server: LangServer, cache: Path) -> None:
    put(server.folder, "xyz")
    config = url_config(server, cache)
    langdata.language_set(["xyz"], config)
    result = langdata.clear_cache(config)
    assert result["files"] == 2  # the data and its sidecar; set links are not files
    assert result["bytes"] > len(eng_data())
    assert not cache.exists()
    assert langdata.find("xyz", config) is None
