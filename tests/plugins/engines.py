"""Engines that misbehave on purpose, loaded through the `plugins` setting like any plugin."""

from __future__ import annotations

import ctypes
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from PIL import Image

from textlens.engines import langdata
from textlens.engines.base import Engine
from textlens.errors import EngineError
from textlens.types import PageResult, Word


class _TestEngine(Engine):
    def version(self) -> str:
        return "1.0"


class CrashEngine(_TestEngine):
    """Segfaults the worker process on every page whose image is wider than tall."""

    name = "crash"

    def recognize(self, image: Image.Image, languages: list[str],
                  options: Mapping[str, Any]) -> PageResult:
        if image.width > image.height:
            ctypes.string_at(0)  # reads address 0: SIGSEGV, as a buggy native engine would
        return PageResult("survived", [Word("survived", (0, 0, 10, 10), 90.0)],
                          image.width, image.height, 90.0)


class HangEngine(_TestEngine):
    """Never returns (until the page time limit stops its worker)."""

    name = "hang"

    def recognize(self, image: Image.Image, languages: list[str],
                  options: Mapping[str, Any]) -> PageResult:
        while True:
            time.sleep(1)


class FailEngine(_TestEngine):
    """Raises an engine error for every page."""

    name = "fail"

    def recognize(self, image: Image.Image, languages: list[str],
                  options: Mapping[str, Any]) -> PageResult:
        raise EngineError("the fail engine always fails")


class RefuseEngine(_TestEngine):
    """Raises a non-retryable engine error, as a remote engine would for a rejected request."""

    name = "refuse"

    def recognize(self, image: Image.Image, languages: list[str],
                  options: Mapping[str, Any]) -> PageResult:
        raise EngineError("the refuse engine rejects every page; retrying cannot help",
                          retryable=False)


class OptionsEngine(_TestEngine):
    """Reads every page as the options the worker gave it (e.g. ``page_timeout``)."""

    name = "options"

    def recognize(self, image: Image.Image, languages: list[str],
                  options: Mapping[str, Any]) -> PageResult:
        text = " ".join(f"{key}={options[key]}" for key in sorted(options))
        return PageResult(text, [], image.width, image.height, 50.0)


class LangEngine(_TestEngine):
    """Needs language data as Tesseract does (its prepare() finds or fetches it through
    langdata), and reads each page as the languages it finds in the folder it is given."""

    name = "lang"

    @classmethod
    def prepare(cls, languages: list[str], settings: Any) -> dict[str, Any]:
        found = langdata.language_set(languages, langdata.Config.from_settings(settings))
        return {"tessdata": str(found.folder), "model": found.describe()}

    def recognize(self, image: Image.Image, languages: list[str],
                  options: Mapping[str, Any]) -> PageResult:
        folder = Path(options["tessdata"])
        have = [lang for lang in languages if (folder / f"{lang}.traineddata").is_file()]
        return PageResult(f"langtext {' '.join(have)}", [Word("langtext", (1, 1, 50, 20), 80.0)],
                          image.width, image.height, 80.0)


class SlowEngine(_TestEngine):
    """Returns a fixed text after a delay (for kill-and-resume tests); records each call."""

    name = "slow"

    def recognize(self, image: Image.Image, languages: list[str],
                  options: Mapping[str, Any]) -> PageResult:
        time.sleep(float(os.environ.get("SLOW_ENGINE_SECONDS", "0.5")))
        log = os.environ.get("SLOW_ENGINE_LOG")
        if log:
            with open(log, "a") as f:
                f.write(f"{os.getpid()} {image.width}x{image.height}\n")
        text = f"slowtext {image.width}x{image.height}"
        return PageResult(text, [Word("slowtext", (1, 1, 50, 20), 80.0)],
                          image.width, image.height, 80.0)


class TwoPassEngine(_TestEngine):
    """Shows one pass and keeps a word only a second pass read, as Tesseract's passes do."""

    name = "twopass"

    def recognize(self, image: Image.Image, languages: list[str],
                  options: Mapping[str, Any]) -> PageResult:
        words = [Word("Berkeley", (5, 5, 95, 25), 80.0), Word("Zitacuaro", (5, 50, 95, 70), 40.0)]
        return PageResult("Berkeley", words, image.width, image.height, 80.0,
                          extra_text="Zitacuaro")


class NotReadyEngine(_TestEngine):
    """Its prepare() refuses the languages for good, as a remote engine would (no page is
    ever given to it)."""

    name = "notready"

    @classmethod
    def prepare(cls, languages: list[str], settings: Any) -> dict[str, Any]:
        raise EngineError("the notready engine cannot serve these languages",
                          retryable=False)

    def recognize(self, image: Image.Image, languages: list[str],
                  options: Mapping[str, Any]) -> PageResult:
        raise AssertionError("a page was given to an engine that could not get ready")


class BuggyPrepareEngine(NotReadyEngine):
    """Its prepare() has a bug (any exception but an EngineError)."""

    name = "buggyprepare"

    @classmethod
    def prepare(cls, languages: list[str], settings: Any) -> dict[str, Any]:
        raise RuntimeError("a bug in prepare")


ALL = ",".join(f"tests.plugins.engines:{c}" for c in
               ("CrashEngine", "HangEngine", "FailEngine", "RefuseEngine", "OptionsEngine",
                "LangEngine", "SlowEngine", "TwoPassEngine", "NotReadyEngine",
                "BuggyPrepareEngine"))
