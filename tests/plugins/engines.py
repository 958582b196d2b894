"""Engines that misbehave on purpose, loaded through the `plugins` setting like any plugin."""

from __future__ import annotations

import ctypes
import os
import time
from collections.abc import Mapping
from typing import Any

from PIL import Image

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


ALL = ",".join(f"tests.plugins.engines:{c}" for c in
               ("CrashEngine", "HangEngine", "FailEngine", "SlowEngine"))
