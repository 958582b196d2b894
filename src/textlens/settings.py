"""Every setting in one table: name, type, default and help.

Values come from, in rising priority: the default, the library's ``textlens.toml``, an
environment variable ``TEXTLENS_<NAME>``, and a command-line option. ``Settings.sources``
remembers where each effective value came from, for ``textlens config``.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomlkit

from .errors import SettingsError

CONFIG_FILE = "textlens.toml"
# A language code: also keeps a code from naming another folder (no '/', no '..').
LANGUAGE_CODE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True)
class Setting:
    """One setting's declaration."""

    name: str
    type: type
    default: Any
    help: str
    minimum: float | None = None
    choices: tuple[str, ...] = ()  # the only values allowed, when given
    check: Callable[[Any], None] | None = None  # raises SettingsError for a bad value

    @property
    def env_var(self) -> str:
        return f"TEXTLENS_{self.name.upper()}"


def check_languages(value: str, name: str = "languages") -> None:
    """A SettingsError unless ``value`` is language codes joined by '+' (e.g. eng+fra)."""
    bad = [code for code in split_languages(value) if not LANGUAGE_CODE.match(code)]
    if bad or not split_languages(value):
        what = f"{', '.join(map(repr, bad))} {'is' if len(bad) == 1 else 'are'} not a " \
            "language code" if bad else "no language is given"
        raise SettingsError(
            f"{name} {value!r}: {what}. Give codes such as eng, fra or chi_sim joined by '+' "
            "(letters, digits, '_' and '-' only); `textlens langs` lists the languages here. "
            "Fix the `languages` setting (`textlens config set languages eng+fra`) or the "
            "--languages option."
        )


SETTINGS: tuple[Setting, ...] = (
    Setting("ocr", bool, True, "Run OCR in the background (scan, watch). Off: nothing is OCR'd "
            "unless you ask for one record with `textlens ocr ID`."),
    Setting("engine", str, "tesseract", "OCR engine used for new work (see `textlens engines`)."),
    Setting("languages", str, "eng", "Languages to recognise, joined by '+', e.g. 'eng+fra'.",
            check=check_languages),
    Setting("model", str, "best_int", "Tesseract model family: best_int (the standard tessdata, "
            "as pip, Linux packages and tesseract.js ship it), fast (tessdata_fast) or best "
            "(tessdata_best). Installed language data counts as best_int only.",
            choices=("best_int", "fast", "best")),
    Setting("langdata", str, "", "Language data URL or path: a folder (a relative one is in "
            "the library folder) or http(s) URL holding <lang>.traineddata.gz or "
            "<lang>.traineddata; '{lang}' stands for the language code. Empty: installed data "
            "first (model best_int), then a download from the model's usual source (see "
            "`textlens langs`). Set: this source first (a URL through the download cache), "
            "then, for model best_int, installed data (pip tessdata, then system tessdata). "
            "Downloads are cached."),
    Setting("langdata_timeout", float, 30.0, "Seconds to wait for the language data server "
            "to answer, or for the next part of a download, before giving up. A download must "
            "also bring 10 kB/s over each such stretch, and end within 20 times this (at "
            "least 10 minutes); otherwise the files wait and a later scan tries again.", 0.1),
    Setting("passes", str, "adaptive", "How hard Tesseract works on a page. adaptive: one pass, "
            "and when it reads the page poorly, orientation detection and a sparse-text pass "
            "(enlarged when the text is small), keeping every word for search. single: one "
            "pass, as the tesseract command does.", choices=("adaptive", "single")),
    Setting("workers", int, 0, "Worker processes for OCR; 0 means one per CPU core.", 0),
    Setting("dpi", int, 300, "Resolution at which PDF pages without a text layer are rendered "
            "for OCR.", 50),
    Setting("page_timeout", float, 300.0, "Seconds one page may take before its worker is "
            "stopped and the page marked failed.", 1),
    Setting("max_attempts", int, 3, "How many times a failing page is tried before it stays "
            "failed.", 1),
    Setting("retry_backoff", float, 60.0, "Seconds before the first retry of a failed page; "
            "doubled after each further failure.", 0),
    Setting("max_image_pixels", int, 200_000_000, "Largest image (or rendered PDF page) in "
            "pixels; larger images are refused as possible decompression bombs.", 1),
    Setting("max_pages", int, 5000, "Most pages a single file may have.", 1),
    Setting("max_file_mb", int, 2048, "Largest file, in MB, that textlens will OCR.", 1),
    Setting("text_layer_min_chars", int, 10, "A PDF page with at least this many characters in "
            "its text layer is read, not OCR'd.", 0),
    Setting("commit_interval", float, 1.0, "Seconds between the scanner's batched database "
            "commits.", 0),
    Setting("plugins", str, "", "Extra engine plugin modules to load, comma-separated "
            "'module:Class' (installed packages use the 'textlens.engines' entry point instead)."),
    Setting("remote_url", str, "", "For engine 'remote': the address of another textlens "
            "server (started with `textlens serve`) that OCRs the pages, e.g. "
            "'http://homeserver:8000'."),
    Setting("remote_token", str, "", "For engine 'remote': the access token of that server "
            "(its --token), sent as 'Authorization: Bearer'. Empty: none is sent."),
    Setting("remote_timeout", float, 60.0, "For engine 'remote': seconds to wait for the server "
            "to OCR one page (kept below page_timeout); after that the page stays queued and "
            "is retried.", 0.1),
)
SETTINGS_BY_NAME = {s.name: s for s in SETTINGS}

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def coerce(setting: Setting, value: Any) -> Any:
    """Turn a raw value (string from env/CLI or TOML value) into the setting's type."""
    try:
        if setting.type is bool:
            if isinstance(value, bool):
                result: Any = value
            elif str(value).strip().lower() in _TRUE:
                result = True
            elif str(value).strip().lower() in _FALSE:
                result = False
            else:
                raise ValueError(value)
        elif setting.type is int:
            # A TOML float such as 2.5 must not be truncated to 2 silently.
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError(value)
            result = int(value)
        elif setting.type is float:
            if isinstance(value, bool):
                raise ValueError(value)
            result = float(value)
            if result != result:  # NaN passes every minimum check
                raise ValueError(value)
        else:
            result = str(value)
    except (TypeError, ValueError) as e:
        kind = {bool: "true or false", int: "a whole number", float: "a number"}.get(
            setting.type, "text"
        )
        raise SettingsError(
            f"Setting {setting.name!r} must be {kind}, not {value!r}. "
            f"Run `textlens config` to see every setting."
        ) from e
    if setting.minimum is not None and result < setting.minimum:
        raise SettingsError(
            f"Setting {setting.name!r} must be at least {setting.minimum:g}, not {result!r}."
        )
    if setting.choices and result not in setting.choices:
        raise SettingsError(
            f"Setting {setting.name!r} must be one of {', '.join(setting.choices)}, "
            f"not {result!r}."
        )
    if setting.check:
        setting.check(result)
    return result


def user_cache() -> Path:
    """The cache shared by this user's libraries (language data, page previews):
    ``TEXTLENS_CACHE_DIR``, else the platform's user cache folder."""
    import platformdirs

    base = os.environ.get("TEXTLENS_CACHE_DIR")
    return Path(base).expanduser() if base else Path(platformdirs.user_cache_dir("textlens"))


def split_languages(languages: str) -> list[str]:
    """``"eng+fra"`` -> ``["eng", "fra"]`` (empty parts dropped)."""
    return [lang.strip() for lang in languages.split("+") if lang.strip()]


def lookup(name: str) -> Setting:
    """The declaration of ``name``, or a SettingsError listing the valid names."""
    key = name.strip().lower().replace("-", "_")
    if key not in SETTINGS_BY_NAME:
        names = ", ".join(s.name for s in SETTINGS)
        raise SettingsError(f"Unknown setting {name!r}. Known settings: {names}.")
    return SETTINGS_BY_NAME[key]


class Settings:
    """Effective settings of one library, with where each value came from."""

    def __init__(self, values: dict[str, Any], sources: dict[str, str],
                 library_dir: Path | None = None):
        self._values = values
        self.sources = sources
        # What a relative path in a setting (`langdata`) is relative to; None: the current
        # folder (settings of no library, e.g. TEXTLENS_* alone).
        self.library_dir = library_dir
        # Shared by the calls of one scan, see for_run(); None outside a scan.
        self.unreachable: set[str] | None = None

    def for_run(self) -> Settings:
        """These settings for one scan, carrying ``unreachable``: the language-data sources
        that did not answer during it, so that each (engine, languages) of the scan does not
        wait for the same silent server again."""
        run = Settings(self._values, self.sources, self.library_dir)
        run.unreachable = set()
        return run

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None

    def get(self, name: str) -> Any:
        return self._values[lookup(name).name]

    def as_dict(self) -> dict[str, Any]:
        return dict(self._values)

    @property
    def worker_count(self) -> int:
        return self.workers or os.cpu_count() or 1

    @property
    def language_list(self) -> list[str]:
        return split_languages(self.languages)

    @classmethod
    def load(
        cls,
        library_dir: Path | None,
        overrides: Mapping[str, Any] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> Settings:
        """Defaults, then ``textlens.toml``, then ``TEXTLENS_*``, then ``overrides``."""
        environ = os.environ if environ is None else environ
        file_values = read_file(library_dir) if library_dir else {}
        values: dict[str, Any] = {}
        sources: dict[str, str] = {}
        for s in SETTINGS:
            values[s.name], sources[s.name] = s.default, "default"
            if s.name in file_values:
                values[s.name], sources[s.name] = coerce(s, file_values[s.name]), CONFIG_FILE
            if s.env_var in environ:
                values[s.name], sources[s.name] = coerce(s, environ[s.env_var]), s.env_var
            if overrides and overrides.get(s.name) is not None:
                values[s.name], sources[s.name] = coerce(s, overrides[s.name]), "command line"
        return cls(values, sources, library_dir)


def read_file(library_dir: Path) -> dict[str, Any]:
    """The settings written in a library's ``textlens.toml`` (unknown names are errors)."""
    path = library_dir / CONFIG_FILE
    if not path.exists():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise SettingsError(f"{path} is not valid TOML ({e}); fix or delete the file.") from e
    for name in data:
        if name not in SETTINGS_BY_NAME:
            raise SettingsError(f"{path}: unknown setting {name!r}; remove it or fix its name.")
    return data


def write_setting(library_dir: Path, name: str, raw_value: Any) -> Any:
    """Validate and write one setting into ``textlens.toml``, keeping comments; return it."""
    return write_settings(library_dir, {name: raw_value})[lookup(name).name]


def write_settings(library_dir: Path, raw_values: Mapping[str, Any]) -> dict[str, Any]:
    """Validate every one of these settings, then write them all at once (or none)."""
    values = {lookup(name).name: coerce(lookup(name), raw) for name, raw in raw_values.items()}
    path = library_dir / CONFIG_FILE
    doc = tomlkit.parse(path.read_text(encoding="utf-8")) if path.exists() else tomlkit.document()
    for name, value in values.items():
        doc[name] = value
    tmp = path.with_suffix(".toml.tmp")
    tmp.write_text(tomlkit.dumps(doc), encoding="utf-8")
    os.replace(tmp, path)
    return values


def default_file_text() -> str:
    """A commented ``textlens.toml`` for a new library: every setting, with its help."""
    lines = ["# textlens library settings. Uncomment a line to change a setting.", ""]
    for s in SETTINGS:
        default = s.default
        shown = str(default).lower() if isinstance(default, bool) else repr(default)
        if isinstance(default, str):
            shown = f'"{default}"'
        lines += [f"# {s.help}", f"# {s.name} = {shown}", ""]
    return "\n".join(lines)
