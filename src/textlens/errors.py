"""The one exception root of textlens, and its subclasses.

Every message says what to do next. The CLI maps these to exit codes in one place
(``cli/errors.py``); library code raises them and chains the cause with ``from``.
"""

from __future__ import annotations


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
    """An OCR engine failed or cannot run here."""

    exit_code = 6


class BusyError(TextlensError):
    """Another process holds the lock this action needs (e.g. a scan is already running)."""

    exit_code = 7
