"""Settings: defaults < textlens.toml < TEXTLENS_* environment < command-line overrides."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from textlens import SETTINGS, Library, SettingsError
from textlens.settings import (
    CONFIG_FILE,
    Settings,
    coerce,
    default_file_text,
    lookup,
    read_file,
    write_setting,
)


def write_toml(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / CONFIG_FILE).write_text(text, encoding="utf-8")
    return folder


def test_defaults_without_a_library() -> None:
    settings = Settings.load(None, environ={})
    for s in SETTINGS:
        assert settings.get(s.name) == s.default
        assert getattr(settings, s.name) == s.default
        assert settings.sources[s.name] == "default"
    assert settings.as_dict() == {s.name: s.default for s in SETTINGS}


def test_default_file_is_all_comments(tmp_path: Path) -> None:
    write_toml(tmp_path, default_file_text())
    assert read_file(tmp_path) == {}
    text = default_file_text()
    for s in SETTINGS:
        assert f"# {s.name} = " in text
    # Every commented default is valid TOML once uncommented.
    uncommented = "\n".join(line[2:] for line in text.splitlines() if " = " in line)
    assert tomllib.loads(uncommented) == {s.name: s.default for s in SETTINGS}


def test_precedence_default_toml_env_override(tmp_path: Path) -> None:
    write_toml(tmp_path, 'dpi = 200\nworkers = 3\nlanguages = "eng+fra"\nplugins = "x:Y"\n')
    environ = {"TEXTLENS_WORKERS": "5", "TEXTLENS_LANGUAGES": "deu", "TEXTLENS_ENGINE": "fail"}
    overrides = {"languages": "eng", "page_timeout": "9"}
    settings = Settings.load(tmp_path, overrides, environ=environ)
    expected = {
        "ocr": (True, "default"),
        "dpi": (200, "textlens.toml"),
        "plugins": ("x:Y", "textlens.toml"),
        "workers": (5, "TEXTLENS_WORKERS"),
        "engine": ("fail", "TEXTLENS_ENGINE"),
        "languages": ("eng", "command line"),
        "page_timeout": (9.0, "command line"),
    }
    for name, (value, source) in expected.items():
        assert (settings.get(name), settings.sources[name]) == (value, source), name


def test_none_override_means_not_given(tmp_path: Path) -> None:
    write_toml(tmp_path, "workers = 3\n")
    settings = Settings.load(tmp_path, {"workers": None}, environ={})
    assert (settings.workers, settings.sources["workers"]) == (3, "textlens.toml")


def test_environment_defaults_to_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEXTLENS_DPI", "150")
    settings = Settings.load(None)
    assert (settings.dpi, settings.sources["dpi"]) == (150, "TEXTLENS_DPI")
    # An explicit environ replaces os.environ entirely.
    assert Settings.load(None, environ={}).dpi == 300


def test_unrelated_environment_variables_are_ignored() -> None:
    settings = Settings.load(None, environ={"TEXTLENS_NOPE": "1", "WORKERS": "7"})
    assert settings.workers == 0


def test_values_are_coerced_to_the_setting_type(tmp_path: Path) -> None:
    environ = {"TEXTLENS_WORKERS": " 4 ", "TEXTLENS_PAGE_TIMEOUT": "2", "TEXTLENS_OCR": "OFF"}
    settings = Settings.load(tmp_path, {"dpi": 120, "retry_backoff": "0.5"}, environ=environ)
    assert settings.workers == 4 and type(settings.workers) is int
    assert settings.page_timeout == 2.0 and type(settings.page_timeout) is float
    assert settings.retry_backoff == 0.5
    assert settings.dpi == 120
    assert settings.ocr is False


@pytest.mark.parametrize("raw", ["1", "true", "True", "yes", "on", " ON ", True])
def test_bool_true_spellings(raw: object) -> None:
    assert coerce(lookup("ocr"), raw) is True


@pytest.mark.parametrize("raw", ["0", "false", "FALSE", "no", "off", "Off", False])
def test_bool_false_spellings(raw: object) -> None:
    assert coerce(lookup("ocr"), raw) is False


@pytest.mark.parametrize(
    ("name", "raw", "message"),
    [
        ("ocr", "maybe", "must be true or false, not 'maybe'"),
        ("ocr", "", "must be true or false"),
        ("ocr", 2, "must be true or false"),
        ("workers", "abc", "must be a whole number, not 'abc'"),
        ("workers", "2.5", "must be a whole number"),
        ("workers", True, "must be a whole number"),
        ("workers", "-1", "must be at least 0"),
        ("dpi", "10", "must be at least 50"),
        ("workers", 2.5, "must be a whole number, not 2.5"),  # a TOML float
        ("page_timeout", "soon", "must be a number, not 'soon'"),
        ("page_timeout", "nan", "must be a number, not 'nan'"),
        ("page_timeout", True, "must be a number"),
        ("page_timeout", "0.5", "must be at least 1"),
        ("max_attempts", "0", "must be at least 1"),
    ],
)
def test_bad_values_raise_settings_error(name: str, raw: object, message: str) -> None:
    with pytest.raises(SettingsError) as excinfo:
        coerce(lookup(name), raw)
    assert message in str(excinfo.value)
    assert repr(name) in str(excinfo.value)
    assert excinfo.value.exit_code == 2


def test_bad_value_in_environment_or_toml_fails_load(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="TEXTLENS_|'workers' must be a whole number"):
        Settings.load(None, environ={"TEXTLENS_WORKERS": "lots"})
    write_toml(tmp_path, 'ocr = "sometimes"\n')
    with pytest.raises(SettingsError, match="'ocr' must be true or false"):
        Settings.load(tmp_path, environ={})


def test_toml_values_of_the_wrong_type(tmp_path: Path) -> None:
    write_toml(tmp_path, 'ocr = "off"\nworkers = "2"\ndpi = 200.0\npage_timeout = 5\n')
    settings = Settings.load(tmp_path, environ={})
    assert settings.ocr is False and settings.workers == 2
    assert settings.dpi == 200 and type(settings.dpi) is int
    assert settings.page_timeout == 5.0 and type(settings.page_timeout) is float
    write_toml(tmp_path, "workers = 2.5\n")
    with pytest.raises(SettingsError, match="whole number"):
        Settings.load(tmp_path, environ={})
    write_toml(tmp_path, "workers = true\n")
    with pytest.raises(SettingsError, match="whole number"):
        Settings.load(tmp_path, environ={})


def test_unknown_key_in_toml_is_an_error(tmp_path: Path) -> None:
    write_toml(tmp_path, "workers = 2\nwrokers = 3\n")
    with pytest.raises(SettingsError) as excinfo:
        Settings.load(tmp_path, environ={})
    assert "unknown setting 'wrokers'" in str(excinfo.value)
    assert str(tmp_path / CONFIG_FILE) in str(excinfo.value)


def test_invalid_toml_is_an_error(tmp_path: Path) -> None:
    write_toml(tmp_path, "workers = = 2\n")
    with pytest.raises(SettingsError, match="is not valid TOML"):
        Settings.load(tmp_path, environ={})


def test_lookup_accepts_dashes_and_case_and_lists_names_on_error() -> None:
    assert lookup("Page-Timeout").name == "page_timeout"
    assert lookup(" workers ").name == "workers"
    with pytest.raises(SettingsError) as excinfo:
        lookup("colour")
    message = str(excinfo.value)
    assert "Unknown setting 'colour'" in message
    for s in SETTINGS:
        assert s.name in message


def test_get_unknown_setting_is_an_error() -> None:
    with pytest.raises(SettingsError):
        Settings.load(None, environ={}).get("nope")
    with pytest.raises(AttributeError):
        _ = Settings.load(None, environ={}).nope


def test_write_setting_keeps_comments(tmp_path: Path) -> None:
    write_toml(tmp_path, default_file_text() + "\n# my own note\ndpi = 200 # scanner\n")
    assert write_setting(tmp_path, "workers", "4") == 4
    assert write_setting(tmp_path, "dpi", "250") == 250
    assert write_setting(tmp_path, "ocr", "no") is False
    assert write_setting(tmp_path, "languages", "eng+deu") == "eng+deu"
    text = (tmp_path / CONFIG_FILE).read_text()
    assert text.startswith(default_file_text())  # every comment is still there
    assert "# my own note" in text
    assert "# scanner" in text
    assert tomllib.loads(text) == {"dpi": 250, "workers": 4, "ocr": False,
                                   "languages": "eng+deu"}
    assert not list(tmp_path.glob("*.tmp"))
    settings = Settings.load(tmp_path, environ={})
    assert (settings.dpi, settings.sources["dpi"]) == (250, "textlens.toml")


def test_write_setting_normalises_the_name(tmp_path: Path) -> None:
    write_setting(tmp_path, "Page-Timeout", "30")
    assert read_file(tmp_path) == {"page_timeout": 30.0}


def test_write_setting_rejects_bad_values_without_touching_the_file(tmp_path: Path) -> None:
    write_toml(tmp_path, "# keep me\nworkers = 2\n")
    for name, value in (("workers", "abc"), ("nope", "1"), ("dpi", "1")):
        with pytest.raises(SettingsError):
            write_setting(tmp_path, name, value)
    assert (tmp_path / CONFIG_FILE).read_text() == "# keep me\nworkers = 2\n"


def test_library_set_setting_reloads(tmp_path: Path) -> None:
    with Library.init(tmp_path / "lib") as lib:
        assert lib.settings.languages == "eng"
        assert lib.set_setting("languages", "eng+fra") == "eng+fra"
        assert lib.settings.languages == "eng+fra"
        assert lib.settings.language_list == ["eng", "fra"]
        assert lib.settings.sources["languages"] == "textlens.toml"
    with Library.open(tmp_path / "lib", {"languages": "deu"}) as again:
        assert again.settings.languages == "deu"
        assert again.settings.sources["languages"] == "command line"


def test_worker_count_zero_means_every_core() -> None:
    import os

    assert Settings.load(None, environ={}).worker_count == (os.cpu_count() or 1)
    assert Settings.load(None, {"workers": 3}, environ={}).worker_count == 3
