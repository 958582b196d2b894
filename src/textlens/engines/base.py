"""The one interface every OCR engine implements, local or remote."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from PIL import Image

from ..types import PageResult

if TYPE_CHECKING:
    from ..settings import Settings


class Engine(ABC):
    """An OCR engine. One instance lives in each worker process and is reused for every page.

    Subclasses set ``name`` and implement ``version`` and ``recognize``, and are registered
    under the ``textlens.engines`` entry point (built-ins too), or named in the ``plugins``
    setting. Keep ``__init__`` cheap and load models or open connections on the first page:
    ``textlens engines`` creates an instance just to ask its version.

    ``recognize`` gets an upright page image and returns a ``PageResult``: the text in reading
    order (one line per line), and the words with boxes in that image's pixels and
    confidences from 0 to 100 (as Tesseract gives them).

    Errors: raise ``EngineError(message, retryable=...)``, with a message that says what to
    do. Retryable (the default) is for passing trouble: a timeout, a refused connection, a
    busy server (HTTP 429/5xx); the page is tried again after ``retry_backoff`` seconds,
    doubling, up to ``max_attempts``. ``retryable=False`` is for what trying again cannot fix:
    a language the engine cannot read, a request the server rejects (HTTP 400/401/413); the
    page fails at once. Any other exception counts as retryable.

    ``options`` holds ``dpi`` (the resolution the image was rendered at, or is declared as)
    and ``page_timeout`` (seconds the whole page may take; after that the worker process is
    stopped and the page fails with "took longer than the page time limit"). An engine that
    waits on anything, such as a remote HTTP engine, must enforce its own timeout below
    ``page_timeout`` on each request and raise a retryable ``EngineError`` saying what timed
    out. Ignore option keys you do not know.
    """

    name: str = ""

    @classmethod
    def check(cls) -> tuple[bool, str]:
        """Whether the engine can run on this machine, and if not, why (for `engines`)."""
        return True, "ready"

    @classmethod
    def prepare(cls, languages: list[str], settings: Settings) -> dict[str, Any]:
        """Get ready for these languages, once per scan, in the scanning process, before any
        page goes to a worker: e.g. fetch language data (the network may be used; keep to the
        settings' timeouts). Returns options merged into every job for this engine and these
        languages; a ``"model"`` option is recorded as the run's model instead of
        ``model()``. Raise ``LanguageDataError`` when something the languages need cannot be
        had: their files then wait, pending with the message, without using up attempts.
        Any other error fails those files: at once for an ``EngineError`` with
        ``retryable=False``, else as a failed attempt, retried with backoff."""
        return {}

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
