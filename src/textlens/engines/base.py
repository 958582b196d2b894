"""The one interface every OCR engine implements, local or remote."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any

from PIL import Image

from ..types import PageResult


class Engine(ABC):
    """An OCR engine. One instance lives in each worker process and is reused for every page.

    Subclasses set ``name`` and implement ``recognize``. Raise ``EngineError`` for failures;
    set ``retryable=False`` on it when trying again cannot help (e.g. a bad request), so the
    page is not retried. Remote engines should enforce their own network timeouts.
    """

    name: str = ""

    @classmethod
    def check(cls) -> tuple[bool, str]:
        """Whether the engine can run on this machine, and if not, why (for `engines`)."""
        return True, "ready"

    @abstractmethod
    def version(self) -> str:
        """The engine's version, recorded on every OCR run."""

    def model(self, languages: list[str]) -> str:
        """The model/data used for these languages, recorded on every OCR run."""
        return "+".join(languages)

    @abstractmethod
    def recognize(
        self, image: Image.Image, languages: list[str], options: Mapping[str, Any]
    ) -> PageResult:
        """Recognise one upright page image; return its text and word boxes (in its pixels)."""

    def close(self) -> None:
        """Release resources (models, connections) when the worker stops."""
        return None
