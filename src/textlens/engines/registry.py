"""Finding engines: built-ins and installed plugins load through the same entry-point path."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from importlib.metadata import entry_points

from ..errors import EngineError, UnknownEngineError
from .base import Engine

ENTRY_POINT_GROUP = "textlens.engines"
# The built-ins are declared in pyproject.toml under the same group; this copy lets a source
# checkout that was never pip-installed still find them.
BUILTIN_ENGINES = {
    "tesseract": "textlens.engines.tesseract:TesseractEngine",
    "rapidocr": "textlens.engines.rapidocr:RapidOcrEngine",  # needs textlens[rapidocr]
    "remote": "textlens.engines.remote:RemoteEngine",  # another textlens server's /api/ocr
}


@dataclass(frozen=True)
class EngineSpec:
    """Where an engine comes from, before it is imported."""

    name: str
    target: str  # "module:Class"
    origin: str  # "built-in", "plugin <dist>", or "setting plugins"


def discover(plugins: str = "") -> dict[str, EngineSpec]:
    """Every known engine: built-ins, entry points, then the `plugins` setting."""
    specs = {name: EngineSpec(name, target, "built-in") for name, target in BUILTIN_ENGINES.items()}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if specs.get(ep.name, EngineSpec("", "", "")).target == ep.value:
            continue
        dist = ep.dist.name if ep.dist else "?"
        specs[ep.name] = EngineSpec(ep.name, ep.value, f"plugin {dist}")
    for target in filter(None, (p.strip() for p in plugins.split(","))):
        cls = load_class(target)
        specs[cls.name] = EngineSpec(cls.name, target, "setting plugins")
    return specs


def load_class(target: str) -> type[Engine]:
    module_name, _, attr = target.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as e:
        raise EngineError(
            f"cannot load the engine plugin {target!r} ({e}); check the `plugins` setting or "
            "reinstall the package that provides it"
        ) from e
    if not (isinstance(cls, type) and issubclass(cls, Engine) and cls.name):
        raise EngineError(f"{target!r} is not a textlens Engine subclass with a name")
    return cls


def engine_class(name: str, plugins: str = "") -> type[Engine]:
    specs = discover(plugins)
    if name not in specs:
        known = ", ".join(sorted(specs)) or "none"
        raise UnknownEngineError(
            f"unknown OCR engine {name!r}; known engines: {known}. "
            "Set another with `textlens config set engine NAME`."
        )
    return load_class(specs[name].target)


def describe(plugins: str = "") -> list[dict[str, object]]:
    """Every known engine with its origin, version and whether it can run here."""
    rows: list[dict[str, object]] = []
    for spec in discover(plugins).values():
        try:
            cls = load_class(spec.target)
            ok, why = cls.check()
            version = cls().version() if ok else ""
        except Exception as e:  # noqa: BLE001 - a broken plugin is listed, not fatal
            ok, why, version = False, f"cannot load: {e}", ""
        rows.append({"name": spec.name, "origin": spec.origin, "version": version,
                     "available": ok, "detail": why})
    return rows


def create(name: str, plugins: str = "") -> Engine:
    """A ready engine instance (raises EngineError if it cannot run here)."""
    cls = engine_class(name, plugins)
    ok, why = cls.check()
    if not ok:
        raise EngineError(f"the OCR engine {name!r} cannot run here: {why}")
    return cls()
