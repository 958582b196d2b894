"""The one exception root of textlens, and its subclasses.

Every message says what to do next. The CLI maps these to exit codes in one place
(``cli/errors.py``); library code raises them and chains the cause with ``from``.
"""

from __future__ import annotations

from typing import Any


class TextlensError(Exception):
    """Base of every error textlens raises on purpose."""

    exit_code = 1


class LibraryNotFoundError(TextlensError):
    """The library folder does not exist or was never initialised."""

    exit_code = 3


class NotFoundError(TextlensError):
    """A record or attachment id that is not in the library."""

    exit_code = 4


class SettingsError(TextlensError):
    """A setting has an unknown name or a value of the wrong kind."""

    exit_code = 2


class QuerySyntaxError(TextlensError):
    """A search query that cannot be understood."""

    exit_code = 2


class UnsupportedFileError(TextlensError):
    """A file textlens cannot OCR (not an image or PDF it knows)."""

    exit_code = 5


class BadFileError(TextlensError):
    """A file that claims a supported type but cannot be read (corrupt, truncated, encrypted)."""

    exit_code = 5


class LimitExceededError(BadFileError):
    """A file over a configured safety limit (pixels, pages, size)."""


class EngineError(TextlensError):
    """An OCR engine failed or cannot run here.

    ``retryable=False`` says that trying the same page again cannot help (a language the
    engine cannot read, a request a server refuses): the page fails at once instead of being
    retried with backoff. The default, retryable, suits passing trouble (a timeout, a busy
    server)."""

    exit_code = 6

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable

    def __reduce__(self) -> tuple[Any, ...]:
        # Keep the flag when the error crosses a process boundary (pickle drops keywords).
        return (_engine_error, (type(self), str(self), self.retryable))


def _engine_error(cls: type[EngineError], message: str, retryable: bool) -> EngineError:
    return cls(message, retryable=retryable)



class UnknownEngineError(SettingsError, EngineError):
    """An engine name that no built-in engine or plugin has: a setting or option to correct
    (exit code 2, HTTP 400), and, to a scan, an engine that cannot run."""


class LanguageDataError(EngineError):
    """Language data an engine needs cannot be had (unknown code, not found, offline, timeout,
    damaged file). Files that need it wait, pending, without using up their attempts, and
    are OCR'd by a later scan once the data is there."""


class BusyError(TextlensError):
    """Another process holds the lock this action needs (e.g. a scan is already running)."""

    exit_code = 7


class ConflictError(TextlensError):
    """A change that would break a rule of the library (e.g. a catalog number already taken)."""

    exit_code = 2
