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


@pytest.mark.parametrize("limit", ["rate", "total"])
def test_a_trickling_server_is_given_up(server: LangServer, cache: Path, limit: str,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    # One byte every 0.05 s: no single wait reaches the 0.5 s timeout, the file never ends.
    put(server.folder, "xyz")
    server.trickle = 0.05
    if limit == "total":  # fast enough, but over the whole-download limit (here 1 s)
        monkeypatch.setattr(langfetch, "MIN_RATE", 1)
        monkeypatch.setattr(langfetch, "_TOTAL_TIMEOUTS", 2)
        monkeypatch.setattr(langfetch, "_TOTAL_MINIMUM", 0.0)
    started = time.monotonic()
    with pytest.raises(LanguageDataError) as excinfo:
        langdata.get("xyz", url_config(server, cache))
    assert time.monotonic() - started < 2.5
    message = str(excinfo.value)
    assert "too slow" in message
    assert ("kB/s needed" if limit == "rate" else "not finished after 1 s") in message
    assert "Check the network, or set `langdata` to a folder" in message  # so it waits
    assert server.requests == ["/xyz.traineddata.gz"]
    assert leftovers(cache) == []


def test_a_silent_source_is_waited_for_once_across_calls_sharing_a_config(
        server: LangServer, cache: Path) -> None:
    server.delay = 5.0  # accepts, and does not answer in time
    config = url_config(server, cache)
    started = time.monotonic()
    for languages in (["xyz"], ["abc"], ["xyz", "abc"], ["qqq"]):
        with pytest.raises(LanguageDataError, match="no language data"):
            langdata.language_set(languages, config)
    assert time.monotonic() - started < 2 * config.timeout
    assert len(server.requests) == 1


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
    assert "Fix the `languages` setting" in str(excinfo.value)


def test_a_langdata_folder_that_does_not_exist_says_so(tmp_path: Path, cache: Path) -> None:
    config = Config(langdata=str(tmp_path / "nowhere"), cache=cache)
    with pytest.raises(LanguageDataError) as excinfo:
        langdata.language_set(["xyz", "abc"], config)
    message = str(excinfo.value)
    assert (f"The folder {tmp_path / 'nowhere'} does not exist; fix the `langdata` setting "
            "(`textlens config set langdata") in message
    assert "network" not in message and "No such language" not in message


def test_a_missing_language_says_the_source_has_no_such_language(tmp_path: Path,
                                                                 cache: Path) -> None:
    put(tmp_path / "mine", "abc")
    with pytest.raises(LanguageDataError) as excinfo:
        langdata.get("xyz", Config(langdata=str(tmp_path / "mine"), cache=cache))
    assert f"No such language at {tmp_path / 'mine'}: check the code" in str(excinfo.value)


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


def test_installed_data_is_the_fallback_of_a_configured_source(
        tmp_path: Path, cache: Path, server: LangServer) -> None:
    folder = tmp_path / "mine"
    put(folder, "xyz", packed=False)
    installed = langdata.find("eng", Config(cache=cache))
    assert installed is not None and installed.origin in ("pip", "system")

    found = langdata.language_set(["xyz", "eng"], Config(langdata=str(folder), cache=cache))

    origins = {f.lang: (f.origin, f.path) for f in found.found}
    assert origins["xyz"] == ("folder", folder / "xyz.traineddata")  # the source first
    assert origins["eng"] == (installed.origin, installed.path)
    assert (found.folder / "eng.traineddata").is_file()
    # A URL source is asked first; when it is offline, installed data is used too.
    server.stop()
    assert langdata.get("eng", url_config(server, cache)).path == installed.path
    # Installed data is best_int: never the fallback for another model.
    with pytest.raises(LanguageDataError, match="no language data for eng"):
        langdata.get("eng", Config(model="fast", langdata=str(folder), cache=cache))


def test_a_relative_langdata_folder_is_in_the_library_folder(
        tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    library_dir = tmp_path / "lib"
    put(library_dir / "mydata", "xyz", packed=False)
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")

    config = Config.from_settings(Settings.load(library_dir, {"langdata": "mydata"}))

    assert config.source == str(library_dir / "mydata")
    assert langdata.get("xyz", config).path == library_dir / "mydata" / "xyz.traineddata"
    # Settings of no library: the current folder.
    assert Config.from_settings(Settings.load(None, {"langdata": "mydata"})).source == str(
        tmp_path / "elsewhere" / "mydata")


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


def test_a_set_made_meanwhile_by_another_process_is_kept(
        server: LangServer, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    put(server.folder, "xyz")
    config = url_config(server, cache)
    folder = langdata.language_set(["xyz"], config).folder
    (folder / "marker").write_text("theirs")
    real = langdata._set_complete
    calls: list[Path] = []

    def late(target: Path, found: list[langdata.Found]) -> bool:
        calls.append(target)  # the first check misses it, as if it were made just after
        return len(calls) > 1 and real(target, found)

    monkeypatch.setattr(langdata, "_set_complete", late)
    assert langdata.language_set(["xyz"], config).folder == folder
    assert len(calls) >= 2 and (folder / "marker").read_text() == "theirs"
    assert not list(folder.parent.glob(".set-*"))  # its own copy is gone


def test_stale_temporary_folders_are_removed_on_fetch(server: LangServer, cache: Path) -> None:
    put(server.folder, "xyz")
    config = url_config(server, cache)
    old, new = config.cache_folder / ".xyz-crashed", config.cache_folder / ".xyz-working"
    for folder in (old, new):
        (folder / "sub").mkdir(parents=True)
    os.utime(old, (time.time() - 2 * 3600,) * 2)
    langdata.get("xyz", config)
    assert not old.exists() and new.exists()  # a young one may be another process's work


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
    # With langdata set, installed data is used only for what the source lacks (best_int).
    installed_used = {r["language"] for r in rows if r["origin"] in ("pip", "system")
                      and r["used"]}
    assert "eng" in installed_used and "xyz" not in installed_used
    fast = langdata.inventory(url_config(server, cache, model="fast"))
    assert not any(r["used"] for r in fast if r["origin"] in ("pip", "system"))
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


def test_clear_cache_that_cannot_be_moved_says_what_to_do(
        server: LangServer, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    put(server.folder, "xyz")
    langdata.get("xyz", url_config(server, cache))

    def refuse(*args: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(langdata.os, "replace", refuse)
    with pytest.raises(LanguageDataError) as excinfo:
        langdata.clear_cache(url_config(server, cache))
    assert f"could not clear the language data cache {cache}" in str(excinfo.value)
    assert "delete it by hand" in str(excinfo.value)


def test_clear_cache_counts_only_what_it_removed(
        server: LangServer, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    put(server.folder, "xyz")
    langdata.get("xyz", url_config(server, cache))
    unlink = os.unlink

    def keep_sidecars(path: str | os.PathLike[str], *args: object, **kwargs: object) -> None:
        if str(path).endswith(".json"):
            raise PermissionError(13, "Permission denied", str(path))
        unlink(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(langdata.os, "unlink", keep_sidecars)
    with pytest.raises(LanguageDataError) as excinfo:
        langdata.clear_cache(url_config(server, cache))
    message = str(excinfo.value)
    assert "only 1 of its files could be removed (1 could not: " in message
    assert "by hand" in message
