"""Plain result types that the public API returns (all JSON-friendly via ``to_dict``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class Word:
    """One recognised word and where it sits on the page image (pixels)."""

    text: str
    box: Box
    confidence: float


@dataclass
class PageResult:
    """What an engine (or a PDF text layer) gives back for one page."""

    text: str
    words: list[Word]
    width: int
    height: int
    confidence: float = -1.0
    # Degrees the page was turned counter-clockwise to be read (orientation detection); the
    # boxes are in the page's own frame all the same.
    rotation: int = 0
    method: str = "ocr"  # "ocr" or "text-layer"
    # Words another recognition pass read that ``text`` lacks: indexed so a search finds them,
    # never shown as the page's text (see DESIGN.md, "Findability first").
    extra_text: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class AttachmentInfo:
    """An attachment as stored: a file on a record, with its OCR state."""

    id: int
    record_id: int
    name: str
    path: str
    linked: bool
    mime: str | None
    size: int
    sha256: str
    state: str
    reason: str | None = None
    pages: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class RecordInfo:
    """A record (a note, a document, a specimen) and its attachments."""

    id: int
    title: str
    body: str
    attachments: list[AttachmentInfo] = field(default_factory=list)
    # Specimen records: catalog number (unique within the collection), and the collection's
    # processing status ("unprocessed", "stage 1", ... free text). None for other records.
    catalog_number: str | None = None
    processing_status: str | None = None
    collection: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ScanReport:
    """What a scan did."""

    pages_done: int = 0
    pages_failed: int = 0
    attachments_done: int = 0
    attachments_failed: int = 0
    attachments_skipped: int = 0
    seconds: float = 0.0
    failures: list[dict[str, Any]] = field(default_factory=list)
    # Files left pending because what their OCR needs cannot be had yet (language data):
    # ``[{"name", "reason"}]``, like ``failures``; a later scan does them once it is there.
    attachments_waiting: int = 0
    waiting: list[dict[str, Any]] = field(default_factory=list)
    stopped: bool = False  # ended early when asked to (a pause); the rest stays queued

    @property
    def pages_per_second(self) -> float:
        return self.pages_done / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["pages_per_second"] = round(self.pages_per_second, 3)
        return data


@dataclass
class PageHit:
    """A page of an attachment that matched a search."""

    page: int
    snippet: str
    boxes: list[Box]


@dataclass
class AttachmentHit:
    """An attachment that matched, with its matching pages."""

    id: int
    name: str
    pages: list[PageHit]
    more_pages: int = 0  # further matching pages not listed (PAGES_PER_ATTACHMENT at most)


@dataclass
class SearchHit:
    """A record that matched, with the attachments that matched inside it."""

    record_id: int
    title: str
    score: float
    record_matched: bool
    snippet: str | None
    attachments: list[AttachmentHit]

    def to_dict(self) -> dict[str, Any]:
        return {
            "record": {"id": self.record_id, "title": self.title},
            "score": round(self.score, 4),
            "record_matched": self.record_matched,
            "snippet": self.snippet,
            "attachments": [
                {
                    "id": a.id,
                    "name": a.name,
                    "pages": [
                        {"page": p.page, "snippet": p.snippet, "boxes": [list(b) for b in p.boxes]}
                        for p in a.pages
                    ],
                    "more_pages": a.more_pages,
                }
                for a in self.attachments
            ],
        }


@dataclass
class SearchResults:
    """Records matching a query, best first."""

    query: str
    total: int
    results: list[SearchHit]
    fuzzy: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "fuzzy": self.fuzzy,
            "total": self.total,
            "results": [r.to_dict() for r in self.results],
        }
