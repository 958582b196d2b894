"""Importing OCR text made elsewhere: a zip or folder of .txt files named by catalog number.

Each text file's stem gives a catalog number (through a user's regex), the catalog number a
specimen record, and the file stem one of that record's images; the text becomes that image's
current OCR run (``source='import'``). Nothing is guessed: a file that does not lead to exactly
one image is reported with the reason. Zip members are read in memory, never extracted.
"""

from __future__ import annotations

import datetime
import os
import stat
import zipfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import regex

from ..errors import BadFileError, LimitExceededError, NotFoundError, SettingsError
from ..store import imports, transaction

if TYPE_CHECKING:
    from ..library import Library

DEFAULT_PATTERN = r"^(.+?)(?:_[a-z]+)?$"
DEFAULT_SOURCE = "import"
# Limits against zip bombs and runaway folders: far above any real upload (a collection's
# label OCR is a few KB per specimen), far below what would exhaust memory or disk.
MAX_FILES = 100_000
MAX_TOTAL_BYTES = 1_000_000_000
MAX_TEXT_BYTES = 10_000_000
MAX_NAME_CHARS = 255
# A file name is matched in microseconds; a pattern that needs longer is backtracking badly.
MATCH_TIMEOUT = 0.1
SIZE_SUFFIXES = ("_lg", "_tn")
STATUSES = ("linked", "no_catalog_number", "no_record", "ambiguous", "not_txt", "undecodable",
            "error")


@dataclass
class ImportedFile:
    """What became of one file of an OCR upload."""

    name: str
    status: str
    catalog_number: str | None = None
    record: int | None = None
    attachment: int | None = None
    reason: str = ""
    encoding: str | None = None


@dataclass
class ImportReport:
    """The outcome of `textlens import-ocr`: every file, with its status and reason."""

    source: str
    pattern: str
    dry_run: bool
    files: list[ImportedFile] = field(default_factory=list)

    @property
    def linked(self) -> int:
        return sum(f.status == "linked" for f in self.files)

    def counts(self) -> dict[str, int]:
        return {s: sum(f.status == s for f in self.files) for s in STATUSES}

    def to_dict(self) -> dict[str, Any]:
        return {"linked": self.linked, "source": self.source, "pattern": self.pattern,
                "dry_run": self.dry_run, "counts": self.counts(),
                "files": [asdict(f) for f in self.files]}


def compile_pattern(pattern: str) -> regex.Pattern[str]:
    """The file-name pattern, checked: it compiles and has a group for the catalog number."""
    try:
        compiled = regex.compile(pattern)
    except (regex.error, TypeError) as e:
        raise SettingsError(
            f"the file-name pattern {pattern!r} is not a valid regular expression ({e}); "
            f"the default is {DEFAULT_PATTERN!r}"
        ) from e
    if compiled.groups < 1:
        raise SettingsError(
            f"the file-name pattern {pattern!r} has no group: put the catalog number in "
            r"parentheses, e.g. '^(WIS-L-\d{7})\D*', or in a group named catalog: "
            r"'^(?P<catalog>[^_]+)'"
        )
    return compiled


def catalog_number(pattern: regex.Pattern[str], stem: str) -> tuple[str | None, str]:
    """The catalog number a file stem gives, or None and why not."""
    if len(stem) > MAX_NAME_CHARS:
        return None, f"file name longer than {MAX_NAME_CHARS} characters"
    try:
        match = pattern.search(stem, timeout=MATCH_TIMEOUT)
    except TimeoutError:
        # Stop the whole import (nothing is written yet): on 100,000 names such a pattern
        # would run for hours, one timeout at a time.
        raise SettingsError(
            f"the pattern {pattern.pattern!r} took over {MATCH_TIMEOUT}s on the name {stem!r}; "
            "simplify it (avoid nested repeats such as (a+)+); nothing was imported") from None
    if match is None:
        return None, f"the name does not match the pattern {pattern.pattern!r}"
    group = "catalog" if "catalog" in pattern.groupindex else 1
    value = (match.group(group) or "").strip()
    if not value:
        return None, "the pattern's group is empty for this name"
    return value, ""


def decode(data: bytes) -> tuple[str, str] | None:
    """``(text, encoding)``: UTF-8 (with or without BOM), UTF-16 with a BOM, then cp1252;
    None for bytes none of them reads as text."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            return None
    if b"\x00" in data:
        return None  # binary (or UTF-16 without a BOM, which cannot be told from binary)
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        named = "utf-8" if encoding == "utf-8-sig" and not data.startswith(b"\xef\xbb\xbf") \
            else encoding
        return text, named
    return None


# -- reading the upload ------------------------------------------------------------------------

# One entry of an upload: (name shown in the report, bytes or None, why there are no bytes).
Entry = tuple[str, bytes | None, str]


def read_upload(path: Path) -> Iterator[Entry]:
    """The files of a zip archive or folder; the archive is checked whole before any is read."""
    if path.is_dir():
        yield from _read_folder(path)
    elif path.is_file():
        if not zipfile.is_zipfile(path):
            raise BadFileError(f"{path} is neither a zip archive nor a folder; upload a .zip "
                               "of .txt files or point at a folder of them")
        yield from _read_zip(path)
    else:
        raise NotFoundError(f"{path} does not exist; give a .zip archive or a folder")


def _read_zip(path: Path) -> Iterator[Entry]:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        raise BadFileError(f"{path} is not a readable zip archive ({e})") from e
    with archive:
        members = [m for m in archive.infolist() if not m.is_dir()
                   and not m.filename.startswith("__MACOSX/")]
        _check_members(path, members)
        for member in members:
            name = member.filename
            if not name.lower().endswith(".txt"):
                yield name, None, "not_txt"
            elif member.file_size > MAX_TEXT_BYTES:
                yield name, None, f"larger than {MAX_TEXT_BYTES:,} bytes"
            else:
                try:
                    # ZipExtFile stops at the declared size, which the checks above bounded.
                    with archive.open(member) as f:
                        yield name, f.read(MAX_TEXT_BYTES + 1)[:MAX_TEXT_BYTES], ""
                except (zipfile.BadZipFile, OSError, NotImplementedError, RuntimeError) as e:
                    yield name, None, f"cannot be read from the archive ({e})"


def _check_members(path: Path, members: list[zipfile.ZipInfo]) -> None:
    if len(members) > MAX_FILES:
        raise LimitExceededError(
            f"{path} holds {len(members):,} files, over the limit of {MAX_FILES:,}; split it "
            "into smaller archives")
    total = sum(m.file_size for m in members)
    if total > MAX_TOTAL_BYTES:
        raise LimitExceededError(
            f"{path} unpacks to {total:,} bytes, over the limit of {MAX_TOTAL_BYTES:,}; split "
            "it into smaller archives")
    for m in members:
        parts = PurePosixPath(m.filename.replace("\\", "/")).parts
        if m.filename.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
            raise BadFileError(
                f"{path} has a member with an unsafe path ({m.filename!r}: absolute or with "
                "'..'); nothing was imported. Rebuild the archive with relative paths")
        if stat.S_ISLNK(m.external_attr >> 16):
            raise BadFileError(
                f"{path} has a symbolic link ({m.filename!r}); nothing was imported. Rebuild "
                "the archive with the files themselves")


def _read_folder(root: Path) -> Iterator[Entry]:
    paths: list[Path] = []
    total = 0
    for folder, dirs, names in os.walk(root):  # does not follow links to folders
        dirs.sort()
        for name in sorted(names):
            paths.append(Path(folder) / name)
            if len(paths) > MAX_FILES:
                raise LimitExceededError(f"{root} holds over {MAX_FILES:,} files; import it "
                                         "in parts")
            if not paths[-1].is_symlink():
                total += paths[-1].stat().st_size
    if total > MAX_TOTAL_BYTES:
        raise LimitExceededError(f"{root} holds {total:,} bytes, over the limit of "
                                 f"{MAX_TOTAL_BYTES:,}; import it in parts")
    for file in paths:
        name = file.relative_to(root).as_posix()
        if not name.lower().endswith(".txt"):
            yield name, None, "not_txt"
        elif file.is_symlink():
            yield name, None, "a symbolic link, not followed"
        elif file.stat().st_size > MAX_TEXT_BYTES:
            yield name, None, f"larger than {MAX_TEXT_BYTES:,} bytes"
        else:
            try:
                yield name, file.read_bytes(), ""
            except OSError as e:
                yield name, None, f"cannot be read ({e.strerror or e})"


# -- linking ------------------------------------------------------------------------------------


def _base(stem: str) -> str:
    folded = stem.casefold()
    for suffix in SIZE_SUFFIXES:
        if folded.endswith(suffix):
            return folded[: -len(suffix)]
    return folded


def pick_attachment(stem: str, names: list[str]) -> tuple[int | None, str]:
    """Index of the image (among ``names``) a text file's stem names, or None and why."""
    if len(names) == 1:
        return 0, ""
    stems = [PurePosixPath(n).stem.casefold() for n in names]
    folded = stem.casefold()
    # Closest first: the same stem; then X_lg.txt for image X; then X.txt for image X_lg.
    near: list[int] = []
    for fits in (lambda s: s == folded, lambda s: s == _base(folded),
                 lambda s: _base(s) == folded):
        near = [i for i, s in enumerate(stems) if fits(s)]
        if near:
            break
    if len(near) == 1:
        return near[0], ""
    listed = ", ".join(names)
    if near:
        return None, f"the name fits several images of the record ({listed})"
    return None, f"the record has {len(names)} images and none is named {stem} ({listed})"


def _link(lib: Library, entry: ImportedFile, stem: str, collection: str | None,
          taken: dict[int, str]) -> int | None:
    """Fill in record and attachment (or status and reason); the attachment's index or None."""
    assert entry.catalog_number is not None
    records = lib.specimens(entry.catalog_number, collection)
    where = f" in collection {collection!r}" if collection is not None else ""
    if not records:
        entry.status, entry.reason = "no_record", f"no record has catalog number " \
            f"{entry.catalog_number}{where} (taken from the name by the pattern; if that is " \
            "not the catalog number, give another file-name pattern)"
        return None
    if len(records) > 1:
        collections = ", ".join(repr(r.collection) for r in records)
        entry.status, entry.reason = "ambiguous", (
            f"{len(records)} records have this catalog number (collections {collections}); "
            "choose one with --collection")
        return None
    record = records[0]
    entry.record = record.id
    if not record.attachments:
        entry.status, entry.reason = "no_record", f"record {record.id} has no image to hold " \
            "the text"
        return None
    # Only images and PDFs can hold OCR text: a record's other files do not make it ambiguous.
    images = [a for a in record.attachments if a.state != "skipped"] or record.attachments
    index, why = pick_attachment(stem, [a.name for a in images])
    if index is None:
        entry.status, entry.reason = "ambiguous", why
        return None
    attachment = images[index]
    if attachment.id in taken:
        entry.status, entry.reason = "ambiguous", (
            f"image a{attachment.id} already takes its text from {taken[attachment.id]}")
        return None
    entry.attachment = attachment.id
    taken[attachment.id] = entry.name
    entry.status = "linked"
    return record.attachments.index(attachment)


def run_import(
    lib: Library, path: Path | str, *, pattern: str = DEFAULT_PATTERN,
    source: str = DEFAULT_SOURCE, collection: str | None = None, dry_run: bool = False,
) -> ImportReport:
    """Import every .txt file of a zip or folder as OCR text (see the module docstring)."""
    compiled = compile_pattern(pattern)
    source = source.strip() or DEFAULT_SOURCE
    collection = collection.strip() if collection is not None else None
    report = ImportReport(source=source, pattern=pattern, dry_run=dry_run)
    upload = Path(path).expanduser()
    imported = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    taken: dict[int, str] = {}
    writes: list[tuple[str, str, dict[str, Any]]] = []
    for name, data, why in read_upload(upload):
        entry = ImportedFile(name=name, status="error")
        report.files.append(entry)
        if why == "not_txt":
            entry.status, entry.reason = "not_txt", "not a .txt file"
            continue
        stem = PurePosixPath(name.replace("\\", "/")).stem
        number, why_not = catalog_number(compiled, stem)
        entry.catalog_number = number
        if data is None:
            entry.reason = why
            continue
        decoded = decode(data)
        if decoded is None:
            entry.status, entry.reason = "undecodable", \
                "not text in UTF-8, UTF-16 (with a BOM) or cp1252"
            continue
        text, entry.encoding = decoded
        if number is None:
            entry.status, entry.reason = "no_catalog_number", why_not
            continue
        if _link(lib, entry, stem, collection, taken) is None:
            continue
        attachment = lib.attachment(entry.attachment or 0)
        writes.append((attachment.sha256, text, {
            "imported": imported, "file": name, "upload": upload.name,
            "encoding": entry.encoding}))
    if not dry_run and writes:
        with transaction(lib.conn):
            for sha256, text, params in writes:
                imports.store_import(lib.conn, sha256, label=source, text=text, params=params)
        lib.index.catch_up(lib.conn)
    return report
