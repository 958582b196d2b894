"""`import records`: specimen records from a CSV file or a Darwin Core Archive."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from textlens import Library
from textlens.cli.main import app
from textlens.errors import BadFileError

ImageMaker = Callable[..., Path]


def write_csv(folder: Path, lines: list[str], name: str = "records.csv",
              encoding: str = "utf-8") -> Path:
    path = folder / name
    path.write_text("\n".join(lines) + "\n", encoding=encoding)
    return path


def test_csv_with_pipe_separated_images_relative_to_the_csv(
    library: Library, text_image: ImageMaker
) -> None:
    a = text_image("a.png", ["Cladonia"])
    text_image("b.png", ["Lecanora"])
    csv_file = write_csv(a.parent, ["catalogNumber,processingStatus,image",
                                    "WIS-1,unprocessed,a.png|b.png", "WIS-2,stage 1,"],
                         encoding="utf-8-sig")  # a BOM, as spreadsheets write
    report = library.import_records(csv_file)
    assert (report.created, report.updated, report.attachments_added, report.problems) == (
        2, 0, 2, [])
    first = library.specimens("WIS-1")[0]
    assert first.title == "WIS-1" and first.processing_status == "unprocessed"
    assert [x.name for x in first.attachments] == ["a.png", "b.png"]
    assert library.specimens("WIS-2")[0].attachments == []
    assert [h.record_id for h in library.search("WIS-2").results] == [
        library.specimens("WIS-2")[0].id]


def test_one_row_per_image_adds_images_to_one_record(
    library: Library, text_image: ImageMaker
) -> None:
    a = text_image("a.png", ["one"])
    text_image("b.png", ["two"])
    csv_file = write_csv(a.parent.parent, ["catalogNumber,processingStatus,image",
                                           "WIS-1,stage 1,files/a.png",
                                           "WIS-1,stage 1,files/b.png"])
    report = library.import_records(csv_file)
    assert (report.created, report.attachments_added) == (1, 2)
    assert [x.name for x in library.specimens("WIS-1")[0].attachments] == ["a.png", "b.png"]
    assert len(library.records()) == 1


def test_missing_file_and_bad_row_are_reported_not_fatal(
    library: Library, text_image: ImageMaker
) -> None:
    a = text_image("a.png", ["one"])
    csv_file = write_csv(a.parent, ["catalogNumber,processingStatus,image",
                                    "WIS-1,,gone.png|a.png", ",stage 1,a.png", "WIS-2,,"])
    report = library.import_records(csv_file)
    assert (report.created, report.attachments_added) == (2, 1)
    problems = [(p.row, p.catalog_number, p.reason) for p in report.problems]
    assert (2, "WIS-1", "file not found") in problems
    assert (3, None, "no catalog number") in problems
    assert [p.file for p in report.problems if p.catalog_number] == [str(a.parent / "gone.png")]


def test_reimport_updates_instead_of_duplicating(
    library: Library, text_image: ImageMaker
) -> None:
    a = text_image("a.png", ["one"])
    folder = a.parent
    write_csv(folder, ["catalogNumber,processingStatus,image",
                       "WIS-1,unprocessed,a.png", "WIS-2,unprocessed,"])
    library.import_records(folder / "records.csv")
    b = text_image("b.png", ["two"])
    write_csv(folder, ["catalogNumber,processingStatus,image",
                       "WIS-1,unprocessed,a.png|b.png", "WIS-2,reviewed,", "WIS-3,,"])
    report = library.import_records(folder / "records.csv")
    assert (report.created, report.updated, report.unchanged, report.attachments_added) == (
        1, 2, 0, 1)
    assert [x.name for x in library.specimens("WIS-1")[0].attachments] == [a.name, b.name]
    assert library.specimens("WIS-2")[0].processing_status == "reviewed"
    again = library.import_records(folder / "records.csv")
    assert (again.created, again.updated, again.unchanged, again.attachments_added) == (
        0, 0, 3, 0)
    assert len(library.records()) == 3


def test_collection_option_keeps_catalog_numbers_apart(library: Library, tmp_path: Path) -> None:
    csv_file = write_csv(tmp_path, ["catalogNumber,processingStatus", "X-1,unprocessed"])
    library.import_records(csv_file, collection="WIS-L")
    library.import_records(csv_file, collection="NY")
    assert [r.collection for r in library.specimens("X-1")] == ["WIS-L", "NY"]
    assert library.specimens("X-1", "") == []


def test_csv_without_catalog_number_column_is_a_clear_error(
    library: Library, tmp_path: Path
) -> None:
    csv_file = write_csv(tmp_path, ["catalog,status", "X-1,unprocessed"])
    with pytest.raises(BadFileError, match="no catalogNumber column.*'catalog', 'status'"):
        library.import_records(csv_file)
    assert library.records() == []


def write_dwca(folder: Path, image_refs: list[str]) -> Path:
    """A Darwin Core Archive: occurrence core plus a GBIF multimedia extension."""
    meta = """<archive xmlns="http://rs.tdwg.org/dwc/text/">
  <core encoding="UTF-8" fieldsTerminatedBy="\\t" linesTerminatedBy="\\n"
        ignoreHeaderLines="1" rowType="http://rs.tdwg.org/dwc/terms/Occurrence">
    <files><location>occurrence.txt</location></files>
    <id index="0"/>
    <field index="1" term="http://rs.tdwg.org/dwc/terms/catalogNumber"/>
  </core>
  <extension encoding="UTF-8" fieldsTerminatedBy="\\t" linesTerminatedBy="\\n"
        ignoreHeaderLines="1" rowType="http://rs.gbif.org/terms/1.0/Multimedia">
    <files><location>multimedia.txt</location></files>
    <coreid index="0"/>
    <field index="1" term="http://purl.org/dc/terms/identifier"/>
  </extension>
</archive>
"""
    occurrences = "id\tcatalogNumber\n1\tWIS-L-0000001\n2\tWIS-L-0000002\n"
    media = "coreid\tidentifier\n" + "".join(f"1\t{ref}\n" for ref in image_refs)
    path = folder / "dwca.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("meta.xml", meta)
        z.writestr("occurrence.txt", occurrences)
        z.writestr("multimedia.txt", media)
    return path


def test_darwin_core_archive_attaches_local_images_and_reports_urls(
    library: Library, text_image: ImageMaker
) -> None:
    a = text_image("a.png", ["one"])
    b = text_image("b.png", ["two"])
    url = "https://example.org/media/1.jpg"
    archive = write_dwca(a.parent, ["a.png", b.as_uri(), url])
    report = library.import_records(archive, collection="WIS-L")
    assert (report.created, report.attachments_added) == (2, 2)
    assert [(p.catalog_number, p.file) for p in report.problems] == [("WIS-L-0000001", url)]
    assert "offline" in report.problems[0].reason
    specimen = library.specimens("WIS-L-0000001", "WIS-L")[0]
    assert [x.name for x in specimen.attachments] == ["a.png", "b.png"]
    assert library.import_records(archive, collection="WIS-L").unchanged == 2


def test_cli_import_records_json(tmp_path: Path, text_image: ImageMaker) -> None:
    a = text_image("a.png", ["one"])
    csv_file = write_csv(a.parent, ["catalogNumber,processingStatus,image",
                                    "WIS-1,unprocessed,a.png|missing.png"])
    result = CliRunner().invoke(app, ["-L", str(tmp_path / "lib"), "import", "records",
                                      str(csv_file), "--collection", "WIS-L", "--json"])
    assert result.exit_code == 0, (result.output, result.exception)
    data = json.loads(result.stdout)
    assert {k: data[k] for k in ("created", "updated", "unchanged", "attachments_added")} == {
        "created": 1, "updated": 0, "unchanged": 0, "attachments_added": 1}
    assert data["problems"] == [{"row": 2, "catalog_number": "WIS-1",
                                 "file": str(a.parent / "missing.png"),
                                 "reason": "file not found"}]
    with Library.open(tmp_path / "lib") as lib:
        assert lib.specimens("WIS-1", "WIS-L")[0].processing_status == "unprocessed"
