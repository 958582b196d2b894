"""`textlens import-ocr`: OCR text made elsewhere, linked to specimen images by catalog number."""

from __future__ import annotations

import json
import stat
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from textlens import Library
from textlens.errors import BadFileError, LimitExceededError, SettingsError
from textlens.types import RecordInfo
from textlens.workflows import ocr_import

from .test_cli import cli

ImageMaker = Callable[..., Path]


def specimen(library: Library, text_image: ImageMaker, number: str, names: list[str],
             collection: str = "") -> RecordInfo:
    files = [text_image(name, [f"{name} label"]) for name in names]
    record = library.add(files)
    return library.set_specimen(record.id, catalog_number=number, collection=collection)


def make_zip(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return path


def by_name(report: ocr_import.ImportReport) -> dict[str, ocr_import.ImportedFile]:
    return {f.name: f for f in report.files}


def test_one_image_gets_the_text_and_search_and_show_find_it(
    library: Library, text_image: ImageMaker, tmp_path: Path
) -> None:
    record = specimen(library, text_image, "WIS-L-0012033", ["label.png"])
    upload = make_zip(tmp_path / "ocr.zip", {"WIS-L-0012033_lg.txt": b"Cladonia rangiferina"})
    report = library.import_ocr(upload, source="ABBYY FineReader")
    entry = by_name(report)["WIS-L-0012033_lg.txt"]
    assert (entry.status, entry.catalog_number, entry.record, entry.attachment, entry.encoding) \
        == ("linked", "WIS-L-0012033", record.id, record.attachments[0].id, "utf-8")
    assert report.linked == 1

    results = library.search("rangiferina")
    assert [hit.record_id for hit in results.results] == [record.id]
    assert results.results[0].attachments[0].id == record.attachments[0].id
    assert "<b>rangiferina</b>" in results.results[0].attachments[0].pages[0].snippet

    shown = library.show(record.id, text=True)["attachments"][0]
    assert shown["state"] == "done"
    run = shown["ocr"]["run"]
    assert (run["source"], run["engine"]) == ("import", "ABBYY FineReader")
    assert run["params"]["file"] == "WIS-L-0012033_lg.txt" and run["params"]["imported"]
    assert shown["ocr"]["pages"][0]["text"] == "Cladonia rangiferina"
    assert upload.exists()  # the upload is never deleted


def test_several_images_are_matched_by_stem_and_by_size_suffix(
    library: Library, text_image: ImageMaker, tmp_path: Path
) -> None:
    record = specimen(library, text_image, "NY-1", ["NY-1.png", "NY-1_back.png"])
    front, back = record.attachments
    upload = make_zip(tmp_path / "ocr.zip", {"NY-1_lg.txt": b"front text",
                                             "NY-1_back.txt": b"back text"})
    files = by_name(library.import_ocr(upload))
    assert (files["NY-1_lg.txt"].status, files["NY-1_lg.txt"].attachment) == ("linked", front.id)
    assert (files["NY-1_back.txt"].status, files["NY-1_back.txt"].attachment) == \
        ("linked", back.id)
    assert library.ocr_text(back.id)["pages"][0]["text"] == "back text"


def test_ambiguous_and_missing_links_are_reported_not_guessed(
    library: Library, text_image: ImageMaker, tmp_path: Path
) -> None:
    specimen(library, text_image, "A-1", ["a.png", "b.png"])
    specimen(library, text_image, "B-2", ["x.png"], collection="NY")
    specimen(library, text_image, "B-2", ["y.png"], collection="TENN")
    upload = make_zip(tmp_path / "ocr.zip", {
        "A-1.txt": b"which image?", "B-2.txt": b"which record?", "C-3.txt": b"nobody",
        "readme.md": b"notes", "___.txt": b"no number",
    })
    files = by_name(library.import_ocr(upload, pattern=r"^([A-Z]-\d)"))
    assert files["A-1.txt"].status == "ambiguous" and "none is named A-1" in files["A-1.txt"].reason
    assert files["B-2.txt"].status == "ambiguous" and "--collection" in files["B-2.txt"].reason
    assert files["C-3.txt"].status == "no_record"
    assert files["readme.md"].status == "not_txt"
    assert files["___.txt"].status == "no_catalog_number"
    assert all(f.attachment is None for f in files.values())
    # --collection settles the record.
    report = library.import_ocr(upload, pattern=r"^([A-Z]-\d)", collection="TENN")
    assert by_name(report)["B-2.txt"].status == "linked"


def test_encodings_are_tried_in_order_and_named(
    library: Library, text_image: ImageMaker, tmp_path: Path
) -> None:
    for number in ("E-1", "E-2", "E-3", "E-4"):
        specimen(library, text_image, number, [f"{number}.png"])
    upload = make_zip(tmp_path / "ocr.zip", {
        "E-1.txt": "\ufeffZürich".encode(), "E-2.txt": "Zürich".encode("utf-16"),
        "E-3.txt": "Zürich café".encode("cp1252"), "E-4.txt": b"\x89PNG\x00\x81\x8d",
    })
    files = by_name(library.import_ocr(upload))
    assert [files[f"E-{i}.txt"].encoding for i in range(1, 5)] == \
        ["utf-8-sig", "utf-16", "cp1252", None]
    assert files["E-4.txt"].status == "undecodable"
    assert library.ocr_text(files["E-3.txt"].attachment or 0)["pages"][0]["text"] == \
        "Zürich café"


def test_dry_run_writes_nothing(library: Library, text_image: ImageMaker, tmp_path: Path) -> None:
    record = specimen(library, text_image, "D-1", ["d.png"])
    report = library.import_ocr(make_zip(tmp_path / "o.zip", {"D-1.txt": b"dry"}), dry_run=True)
    assert report.linked == 1 and report.dry_run
    assert library.ocr_text(record.attachments[0].id)["run"] is None
    assert library.conn.execute("SELECT COUNT(*) FROM ocr_runs").fetchone()[0] == 0
    assert library.search("dry").total == 0


def test_importing_again_replaces_the_text_of_that_source(
    library: Library, text_image: ImageMaker, tmp_path: Path
) -> None:
    record = specimen(library, text_image, "R-1", ["r.png"])
    library.import_ocr(make_zip(tmp_path / "1.zip", {"R-1.txt": b"oldword"}), source="ABBYY")
    library.import_ocr(make_zip(tmp_path / "2.zip", {"R-1.txt": b"newword"}), source="ABBYY")
    runs = library.conn.execute("SELECT source, engine FROM ocr_runs").fetchall()
    assert [tuple(r) for r in runs] == [("import", "ABBYY")]
    assert library.search("oldword").total == 0
    assert library.search("newword").results[0].record_id == record.id


def test_a_later_ocr_run_replaces_the_imported_text_as_current(
    library: Library, text_image: ImageMaker, tmp_path: Path
) -> None:
    record = specimen(library, text_image, "O-1", ["o.png"])
    library.import_ocr(make_zip(tmp_path / "1.zip", {"O-1.txt": b"importedword"}))
    library.ocr(record.id)
    run = library.ocr_text(record.attachments[0].id)["run"]
    assert run["source"] == "engine"
    assert library.search("importedword").total == 0


def test_unsafe_archives_are_refused_whole(
    library: Library, text_image: ImageMaker, tmp_path: Path
) -> None:
    record = specimen(library, text_image, "S-1", ["s.png"])
    for bad in ("../S-1.txt", "/S-1.txt", "a/../../S-1.txt"):
        upload = make_zip(tmp_path / "bad.zip", {"S-1.txt": b"fine", bad: b"evil"})
        with pytest.raises(BadFileError, match="unsafe path"):
            library.import_ocr(upload)
    link = zipfile.ZipInfo("S-1.txt")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    with zipfile.ZipFile(tmp_path / "link.zip", "w") as z:
        z.writestr(link, "/etc/passwd")
    with pytest.raises(BadFileError, match="symbolic link"):
        library.import_ocr(tmp_path / "link.zip")
    assert library.ocr_text(record.attachments[0].id)["run"] is None
    assert not (tmp_path / "S-1.txt").exists()


def test_limits_on_files_and_bytes(library: Library, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ocr_import, "MAX_FILES", 3)
    many = make_zip(tmp_path / "many.zip", {f"{i}.txt": b"x" for i in range(4)})
    with pytest.raises(LimitExceededError, match="over the limit of 3"):
        library.import_ocr(many)
    monkeypatch.setattr(ocr_import, "MAX_TOTAL_BYTES", 1000)
    with zipfile.ZipFile(tmp_path / "bomb.zip", "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("bomb.txt", b"0" * 5000)
    with pytest.raises(LimitExceededError, match="unpacks to 5,000 bytes"):
        library.import_ocr(tmp_path / "bomb.zip")


def test_bad_patterns_say_what_to_do(library: Library, tmp_path: Path) -> None:
    upload = make_zip(tmp_path / "o.zip", {"X.txt": b"x"})
    with pytest.raises(SettingsError, match="not a valid regular expression"):
        library.import_ocr(upload, pattern="^(unclosed")
    with pytest.raises(SettingsError, match="has no group"):
        library.import_ocr(upload, pattern=r"^\w+$")


def test_a_pattern_that_runs_too_long_stops_the_import_and_long_names_fail_alone(
    library: Library, tmp_path: Path
) -> None:
    slow = make_zip(tmp_path / "o.zip", {"a" * 40 + "!.txt": b"x"})
    with pytest.raises(SettingsError, match="took over .* nothing was imported"):
        library.import_ocr(slow, pattern=r"^((a|aa)+)$")
    long = make_zip(tmp_path / "p.zip", {"b" * 300 + ".txt": b"x"})
    files = library.import_ocr(long).files
    assert [f.status for f in files] == ["no_catalog_number"]
    assert "longer than 255" in files[0].reason


def test_named_group_and_folder_upload(
    library: Library, text_image: ImageMaker, tmp_path: Path
) -> None:
    record = specimen(library, text_image, "WIS-L-0000001", ["w.png"])
    folder = tmp_path / "upload"
    folder.mkdir()
    (folder / "x_WIS-L-0000001-v2.txt").write_text("lichen")
    report = library.import_ocr(folder, pattern=r"(?P<catalog>WIS-L-\d{7})\D*")
    assert by_name(report)["x_WIS-L-0000001-v2.txt"].record == record.id
    assert (folder / "x_WIS-L-0000001-v2.txt").exists()


def test_cli_json_shape_and_exit_codes(
    library: Library, text_image: ImageMaker, tmp_path: Path
) -> None:
    record = specimen(library, text_image, "C-1", ["c.png"])
    upload = make_zip(tmp_path / "o.zip", {"C-1.txt": b"clitext", "C-9.txt": b"none"})
    result = cli("--library", str(library.path), "import-ocr", str(upload), "--source", "ABBYY",
                 "--json")
    assert result.exit_code == 0, (result.output, result.exception)
    data = json.loads(result.stdout)
    assert data["linked"] == 1 and data["source"] == "ABBYY"
    assert data["files"][0] == {"name": "C-1.txt", "status": "linked", "catalog_number": "C-1",
                                "record": record.id, "attachment": record.attachments[0].id,
                                "reason": "", "encoding": "utf-8"}
    assert data["files"][1]["status"] == "no_record"
    text = cli("--library", str(library.path), "import-ocr", str(upload), "--dry-run")
    assert text.exit_code == 0 and "would be linked" in text.stdout
    bad = cli("--library", str(library.path), "import-ocr", str(upload), "--pattern", "(")
    assert isinstance(bad.exception, SettingsError) and bad.exception.exit_code == 2
    unsafe = make_zip(tmp_path / "unsafe.zip", {"../C-1.txt": b"evil"})
    refused = cli("--library", str(library.path), "import-ocr", str(unsafe))
    assert isinstance(refused.exception, BadFileError) and refused.exception.exit_code == 5
    assert "unsafe path" in str(refused.exception)


def test_picking_among_images_prefers_the_closest_name() -> None:
    pick = ocr_import.pick_attachment
    assert pick("X_lg", ["X.jpg", "X_tn.jpg"]) == (0, "")
    assert pick("X_lg", ["X_tn.jpg", "X_lg.jpg", "X.jpg"]) == (1, "")
    assert pick("X", ["X_lg.jpg", "Y.jpg"]) == (0, "")
    assert pick("X", ["X_lg.jpg", "X_tn.jpg"])[0] is None
    assert pick("Z", ["X.jpg", "Y.jpg"])[0] is None
