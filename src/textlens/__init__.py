"""textlens: offline OCR indexing and search for the text inside images and PDFs."""

from __future__ import annotations

from .engines.base import Engine
from .errors import (
    BadFileError,
    BusyError,
    ConflictError,
    EngineError,
    LanguageDataError,
    LibraryNotFoundError,
    LimitExceededError,
    NotFoundError,
    QuerySyntaxError,
    SettingsError,
    TextlensError,
    UnknownEngineError,
    UnsupportedFileError,
)
from .library import Library, default_library_path
from .settings import SETTINGS, Settings
from .types import (
    AttachmentHit,
    AttachmentInfo,
    PageHit,
    PageResult,
    RecordInfo,
    ScanReport,
    SearchHit,
    SearchResults,
    Word,
)

__version__ = "0.1.0"

__all__ = [
    "SETTINGS",
    "AttachmentHit",
    "AttachmentInfo",
    "BadFileError",
    "BusyError",
    "ConflictError",
    "Engine",
    "EngineError",
    "LanguageDataError",
    "Library",
    "LibraryNotFoundError",
    "LimitExceededError",
    "NotFoundError",
    "PageHit",
    "PageResult",
    "QuerySyntaxError",
    "RecordInfo",
    "ScanReport",
    "SearchHit",
    "SearchResults",
    "Settings",
    "SettingsError",
    "TextlensError",
    "UnknownEngineError",
    "UnsupportedFileError",
    "Word",
    "__version__",
    "default_library_path",
]
