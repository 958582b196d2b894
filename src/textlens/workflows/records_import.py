"""`textlens import records`: specimen records (catalog number, processing status, images) from a
CSV file or a Darwin Core Archive, created or updated in one transaction.

Rows are read first, files are prepared (hashed, copied in) next, and everything is written in one
transaction with batched inserts, so 100,000 rows take seconds and a failed import writes nothing.
A bad row or a missing image is a problem in the report, never a reason to stop.
"""

from __future__ import annotations

import csv
import sqlite3
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from ..errors import BadFileError, NotFoundError, TextlensError
from ..store import records as rec
from ..store import specimens as spec
from ..store import transaction

IMAGE_SEPARATOR = "|"
DWC = "http://rs.tdwg.org/dwc/terms/"
# Extensions whose rows name a specimen's images, and the term holding each image's address.
IMAGE_EXTENSIONS = {
    "http://rs.gbif.org/terms/1.0/Multimedia": ("http://purl.org/dc/terms/identifier",),
    "http://rs.gbif.org/terms/1.0/Image": ("http://purl.org/dc/terms/identifier",),
    "http://rs.tdwg.org/ac/terms/Multimedia": ("http://rs.tdwg.org/ac/terms/accessURI",
                                               "http://purl.org/dc/terms/identifier"),
}

Prepare = Callable[[Path, bool], dict[str, Any]]


@dataclass
class Row:
    """One input row: where it was, and what it says about one specimen."""

    row: int
    catalog_number: str
    status: str | None
    images: list[str]


@dataclass
class Problem:
    """Something in the input that was not imported, and why."""

    row: int | None
    catalog_number: str | None
    file: str | None
    reason: str


@dataclass
class ImportReport:
    """What an import did: records created, updated, unchanged, files attached, problems."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    attachments_added: int = 0
    problems: list[Problem] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "created": self.created, "updated": self.updated, "unchanged": self.unchanged,
            "attachments_added": self.attachments_added,
            "problems": [vars(p) for p in self.problems],
        }


@dataclass
class _Specimen:
    status: str | None = None
    images: list[tuple[int, Path]] = field(default_factory=list)  # (row, file)


def import_records(
    conn: sqlite3.Connection, path: Path, *, collection: str, link: bool, prepare: Prepare,
) -> ImportReport:
    """Create or update the specimen records of ``collection`` that ``path`` describes."""
    path = path.expanduser()
    if not path.is_file():
        raise NotFoundError(f"{path} is not a file; give a .csv file or a Darwin Core Archive")
    report = ImportReport()
    rows = read_dwca(path) if zipfile.is_zipfile(path) else read_csv(path)
    specimens = _group(rows, path.parent, report)

    # Hash and copy files before the transaction: the database stays unlocked meanwhile.
    prepared: dict[str, list[dict[str, Any]]] = {}
    for number, specimen in specimens.items():
        for row, file in specimen.images:
            try:
                found = file.is_file()
            except OSError as e:  # e.g. a name too long for the file system
                report.problems.append(Problem(row, number, str(file), f"not usable: {e}"))
                continue
            if not found:
                why = "a folder, not a file" if file.is_dir() else "file not found"
                report.problems.append(Problem(row, number, str(file), why))
                continue
            try:
                prepared.setdefault(number, []).append(prepare(file, link))
            except (TextlensError, OSError) as e:
                report.problems.append(Problem(row, number, str(file), str(e)))

    with transaction(conn):
        existing = spec.specimens_in(conn, collection)
        new = [(n, s.status) for n, s in specimens.items() if n not in existing]
        spec.insert_specimens(conn, collection, new)
        report.created = len(new)
        changes = [(existing[n][0], s.status) for n, s in specimens.items()
                   if n in existing and s.status is not None and s.status != existing[n][1]]
        spec.set_statuses(conn, changes)
        changed = {record_id for record_id, _ in changes}
        ids = spec.specimens_in(conn, collection) if new else existing
        attached = spec.attached_contents(conn, collection) if prepared else {}
        for number, files in prepared.items():
            record_id = ids[number][0]
            have = attached.setdefault(record_id, set())
            for info in files:
                if info["sha256"] in have:
                    continue  # the same image again: re-importing never attaches it twice
                have.add(info["sha256"])
                rec.ensure_content(conn, info["sha256"], info["mime"], info["size"],
                                   info["skip_reason"])
                rec.insert_attachment(conn, record_id, **{k: v for k, v in info.items()
                                                           if k != "skip_reason"})
                report.attachments_added += 1
                if number in existing:
                    changed.add(record_id)
    report.updated = len(changed)
    report.unchanged = sum(1 for n in specimens if n in existing) - report.updated
    return report


def _group(rows: Iterator[Row | Problem], folder: Path, report: ImportReport
           ) -> dict[str, _Specimen]:
    """One entry per catalog number: several rows (one per image) add up; the last status wins."""
    specimens: dict[str, _Specimen] = {}
    for row in rows:
        if isinstance(row, Problem):
            report.problems.append(row)
            continue
        specimen = specimens.setdefault(row.catalog_number, _Specimen())
        if row.status is not None:
            specimen.status = row.status
        for ref in row.images:
            try:
                file = _local_file(ref, folder)
            except (ValueError, RuntimeError, OSError) as e:  # e.g. "~nouser/x", "//[x"
                report.problems.append(Problem(row.row, row.catalog_number, ref,
                                               f"not attached: not a usable path ({e})"))
                continue
            if file is None:
                report.problems.append(Problem(
                    row.row, row.catalog_number, ref,
                    "not attached: a web address (textlens works offline; download the "
                    "file and give its path)"))
            else:
                specimen.images.append((row.row, file))
    return specimens


def _local_file(ref: str, folder: Path) -> Path | None:
    """The file an image reference names (relative to ``folder``), or None for a web address."""
    parsed = urlparse(ref)
    if parsed.scheme in ("http", "https", "ftp"):
        return None
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    return folder / Path(ref).expanduser()


def _clean(value: str | None) -> str | None:
    return (value or "").strip() or None


def read_csv(path: Path) -> Iterator[Row | Problem]:
    """Rows of a CSV with a ``catalogNumber`` column (UTF-8, with or without a BOM)."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            columns = [c.strip() for c in reader.fieldnames or []]
            reader.fieldnames = columns
            if "catalogNumber" not in columns:
                raise BadFileError(
                    f"{path.name} has no catalogNumber column (found: "
                    f"{', '.join(repr(c) for c in columns) or 'no columns'}); name the column of "
                    "catalog numbers catalogNumber (and optionally processingStatus, image)"
                )
            for values in reader:
                row = reader.line_num
                number = _clean(values.get("catalogNumber"))
                if number is None:
                    yield Problem(row, None, None, "no catalog number")
                    continue
                images = [i.strip() for i in (values.get("image") or "").split(IMAGE_SEPARATOR)]
                yield Row(row, number, _clean(values.get("processingStatus")),
                          [i for i in images if i])
    except UnicodeDecodeError as e:
        raise BadFileError(f"{path.name} is not UTF-8 text ({e}); save it as UTF-8 CSV") from e
    except csv.Error as e:
        raise BadFileError(f"{path.name} is not a readable CSV file: {e}") from e


def read_dwca(path: Path) -> Iterator[Row | Problem]:
    """Rows of a Darwin Core Archive: an occurrence core, with images from a multimedia (GBIF)
    or Audubon Core extension. ``processingStatus`` is read from the core when present."""
    from dwca.read import DwCAReader

    try:
        archive = DwCAReader(str(path))
    except Exception as e:  # the reader raises many kinds on a bad archive
        raise BadFileError(f"{path.name} is not a readable Darwin Core Archive: {e}") from e
    with archive:
        try:
            yield from _dwca_rows(archive, path)
        except BadFileError:
            raise
        except Exception as e:  # a malformed data file surfaces while iterating
            raise BadFileError(f"{path.name}: cannot read its records: {e}") from e


def _dwca_rows(archive: Any, path: Path) -> Iterator[Row | Problem]:
    """The rows of an open archive (see `read_dwca`)."""
    if archive.descriptor is None:
        raise BadFileError(f"{path.name} is a zip without meta.xml, not a Darwin Core Archive; "
                           "give a DwC-A with an occurrence core, or a CSV file")
    if archive.descriptor.core.type != DWC + "Occurrence":
        raise BadFileError(
            f"{path.name} has a {archive.descriptor.core.type} core; textlens imports "
            "archives whose core is Occurrence"
        )
    for position, core in enumerate(archive, start=1):
        number = _clean(core.data.get(DWC + "catalogNumber"))
        if number is None:
            yield Problem(position, None, None, "no catalog number")
            continue
        status = next((_clean(v) for k, v in core.data.items()
                       if k.rsplit("/", 1)[-1] == "processingStatus"), None)
        images = []
        for ext in core.extensions:
            for term in IMAGE_EXTENSIONS.get(ext.rowtype, ()):
                if value := _clean(ext.data.get(term)):
                    images.append(value)
                    break
        yield Row(position, number, status, images)
