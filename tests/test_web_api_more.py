"""The newer REST routes: attachments, page images, words and hits, jobs, settings, language
data, OCR imports and the scanner, in-process over a real temporary library."""

from __future__ import annotations

import io
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from textlens import Library

from .webclient import make_client, make_zip, upload, wait_for_job

ImageMaker = Callable[..., Path]


@pytest.fixture
def client(library: Library) -> Iterator[TestClient]:
    # A context manager, so the app's OCR thread runs the jobs.
    with make_client(library.path) as c:
        yield c


def add_record(client: TestClient, *files: Path, **data: str) -> dict[str, Any]:
    created = client.post("/api/records", files=[upload(f) for f in files], data=data)
    assert created.status_code == 201, created.text
    return created.json()  # type: ignore[no-any-return]


def test_more_files_attach_to_a_record(client: TestClient, text_image: ImageMaker) -> None:
    record = add_record(client, text_image("first.png", ["One"]))
    more = client.post(f"/api/records/{record['id']}/attachments",
                       files=[upload(text_image("second.png", ["Two"])),
                              upload(text_image("third.jpg", ["Three"]))])
    assert more.status_code == 201, more.text
    names = [a["name"] for a in more.json()["attachments"]]
    assert names == ["first.png", "second.png", "third.jpg"]
    assert client.get(f"/api/records/{record['id']}").json() == more.json()

    missing = client.post("/api/records/999/attachments",
                          files=[upload(text_image("x.png", ["X"]))])
    assert missing.status_code == 404
    assert "no record 999" in missing.json()["error"]


def test_deleting_attachments_removes_the_copy_once_unused(
        client: TestClient, library: Library, text_image: ImageMaker) -> None:
    image = text_image("shared.png", ["Shared"])
    first = add_record(client, image, text_image("other.png", ["Other"]))
    second = add_record(client, image)  # the same bytes: one copy in the library
    shared_a, other_a = first["attachments"]
    copy = library.path / shared_a["path"]
    assert second["attachments"][0]["path"] == shared_a["path"] and copy.is_file()

    assert client.delete(f"/api/attachments/{shared_a['id']}").status_code == 204
    assert [a["id"] for a in client.get(f"/api/records/{first['id']}").json()["attachments"]] \
        == [other_a["id"]]
    assert copy.is_file()  # the second record still uses it

    assert client.delete(f"/api/attachments/{second['attachments'][0]['id']}").status_code \
        == 204
    assert not copy.exists()
    assert (library.path / other_a["path"]).is_file()
    again = client.delete(f"/api/attachments/{shared_a['id']}")
    assert again.status_code == 404 and "no attachment" in again.json()["error"]


def test_attachment_file_is_a_download_with_its_own_name(
        client: TestClient, text_image: ImageMaker) -> None:
    image = text_image("Label 7.png", ["Seven"])
    attachment = add_record(client, image)["attachments"][0]
    got = client.get(f"/api/attachments/{attachment['id']}/file")
    assert got.status_code == 200
    assert got.content == image.read_bytes()
    assert got.headers["content-type"] == "image/png"
    disposition = got.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    assert "Label%207.png" in disposition or '"Label 7.png"' in disposition
    assert client.get("/api/attachments/999/file").status_code == 404


def test_page_image_is_a_jpeg_of_the_next_drawn_size(
        client: TestClient, text_image: ImageMaker) -> None:
    attachment = add_record(client, text_image("wide.png", ["a fairly long line of text"]))[
        "attachments"][0]
    base = f"/api/attachments/{attachment['id']}/pages"
    full = client.get(f"{base}/1/image")
    assert full.status_code == 200 and full.headers["content-type"] == "image/jpeg"
    small = client.get(f"{base}/1/image", params={"size": 100})
    assert small.status_code == 200 and small.content[:3] == b"\xff\xd8\xff"
    with Image.open(io.BytesIO(small.content)) as preview:
        assert preview.format == "JPEG"
        # Drawn sizes are fixed (the cache holds a few per page): 100 is served as 120.
        assert max(preview.size) == 120
    with Image.open(io.BytesIO(full.content)) as preview:
        assert max(preview.size) > 120

    assert client.get(f"{base}/1/image", params={"size": 10}).status_code == 422
    assert client.get("/api/attachments/999/pages/1/image").status_code == 404


def test_page_image_of_a_page_past_the_end_is_404_once_scanned(
        client: TestClient, library: Library, text_image: ImageMaker) -> None:
    attachment = add_record(client, text_image("one.png", ["One"]))["attachments"][0]
    library.scan()  # the page count is known from here on
    missing = client.get(f"/api/attachments/{attachment['id']}/pages/2/image")
    assert missing.status_code == 404
    assert "no page 2" in missing.json()["error"]


def test_page_image_of_a_page_past_the_end_is_404_before_a_scan(
        client: TestClient, text_image: ImageMaker) -> None:
    attachment = add_record(client, text_image("one.png", ["One"]))["attachments"][0]
    assert client.get(f"/api/attachments/{attachment['id']}/pages/2/image").status_code == 404


def test_page_words_and_hits_after_a_scan(
        client: TestClient, library: Library, text_image: ImageMaker) -> None:
    attachment = add_record(client, text_image("note.png", ["walrus invoice"], font_size=36))[
        "attachments"][0]
    base = f"/api/attachments/{attachment['id']}/pages/1"
    not_yet = client.get(f"{base}/words")
    assert not_yet.status_code == 404 and "no OCR for page 1" in not_yet.json()["error"]
    assert library.scan().pages_done == 1

    page = client.get(f"{base}/words").json()
    assert page["page"] == 1 and page["width"] > 0 and page["height"] > 0
    words = {w["text"]: w for w in page["words"]}
    assert set(words) == {"walrus", "invoice"}
    for word in words.values():
        x0, y0, x1, y1 = word["box"]
        assert 0 <= x0 < x1 <= page["width"] and 0 <= y0 < y1 <= page["height"]

    hits = client.get(f"{base}/hits", params={"q": "invoice"}).json()
    assert (hits["width"], hits["height"]) == (page["width"], page["height"])
    assert hits["boxes"] == [words["invoice"]["box"]]
    assert "invoice" in hits["snippet"]
    assert client.get(f"{base}/hits", params={"q": "xylophone"}).json()["boxes"] == []
    assert client.get(f"{base}/hits").status_code == 422  # q is required
    assert client.get(f"/api/attachments/{attachment['id']}/pages/2/words").status_code == 404


def test_batch_job_ocrs_the_records_in_a_status(
        client: TestClient, library: Library, text_image: ImageMaker) -> None:
    in_stage = [add_record(client, text_image(f"s{i}.png", [f"Stage {i}"]),
                           processing_status="stage 1") for i in range(2)]
    other = add_record(client, text_image("o.png", ["Other"]), processing_status="stage 2")

    started = client.post("/api/batch", json={"status": "stage 1", "limit": 10})
    assert started.status_code == 202, started.text
    location = started.headers["location"]
    assert location == f"/api/jobs/{started.json()['id']}"
    assert started.json()["kind"] == "batch"
    job = wait_for_job(client, location)
    assert job["state"] == "done", job
    result = job["result"]
    assert (result["records"], result["attachments"], result["pages"], result["failed"]) \
        == (2, 2, 2, 0)
    for record in in_stage:
        assert client.get(f"/api/records/{record['id']}").json()["attachments"][0]["state"] \
            == "done"
    assert client.get(f"/api/records/{other['id']}").json()["attachments"][0]["state"] \
        == "pending"
    assert [j["id"] for j in client.get("/api/jobs").json()] == [job["id"]]

    assert client.post("/api/batch", json={"limit": 10}).status_code == 422  # status required
    assert client.post("/api/batch", json={"status": "x", "limit": 0}).status_code == 422
    assert client.get("/api/jobs/999").status_code == 404


def test_ocr_a_record_again_with_another_engine(
        client: TestClient, library: Library, text_image: ImageMaker) -> None:
    record = add_record(client, text_image("label.png", ["Quercus"]))
    started = client.post(f"/api/records/{record['id']}/ocr",
                          json={"engine": "twopass", "languages": "eng"})
    assert started.status_code == 202, started.text
    assert "twopass eng" in started.json()["label"]
    job = wait_for_job(client, started.headers["location"])
    assert job["state"] == "done", job
    attachment = client.get(f"/api/attachments/{record['attachments'][0]['id']}").json()
    assert attachment["state"] == "done"
    assert attachment["ocr"]["run"]["engine"] == "twopass"
    assert attachment["ocr"]["pages"][0]["text"] == "Berkeley"


def test_ocr_again_refuses_bad_requests_before_queueing_a_job(
        client: TestClient, text_image: ImageMaker, tmp_path: Path) -> None:
    record = add_record(client, text_image("label.png", ["Quercus"]))
    url = f"/api/records/{record['id']}/ocr"
    bad_language = client.post(url, json={"languages": "eng+../x"})
    assert bad_language.status_code == 400
    assert "not a language code" in bad_language.json()["error"]
    assert client.post("/api/records/999/ocr", json={}).status_code == 404

    notes = tmp_path / "notes.txt"
    notes.write_text("not an image\n")
    text_only = add_record(client, notes)
    assert text_only["attachments"][0]["state"] == "skipped"
    refused = client.post(f"/api/records/{text_only['id']}/ocr", json={})
    assert refused.status_code == 415
    assert "nothing to OCR" in refused.json()["error"]
    assert client.get("/api/jobs").json() == []  # none of them queued a job


def test_ocr_again_with_an_unknown_engine_is_a_client_error(
        client: TestClient, text_image: ImageMaker) -> None:
    record = add_record(client, text_image("label.png", ["Quercus"]))
    unknown = client.post(f"/api/records/{record['id']}/ocr", json={"engine": "no-such-engine"})
    assert "unknown OCR engine 'no-such-engine'" in unknown.json()["error"]
    assert client.get("/api/jobs").json() == []
    assert unknown.status_code == 400  # a setting to correct, not the server failing


def read_toml(library: Library) -> dict[str, Any]:
    return tomllib.loads((library.path / "textlens.toml").read_text(encoding="utf-8"))


def test_settings_are_shown_and_changed_in_textlens_toml(
        client: TestClient, library: Library) -> None:
    shown = client.get("/api/settings").json()
    assert shown["library"] == str(library.path)
    assert shown["settings"]["workers"] == {**shown["settings"]["workers"], "value": 2,
                                            "source": "textlens.toml"}

    changed = client.patch("/api/settings", json={"workers": 3, "languages": "eng+deu"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["settings"]["workers"]["value"] == 3
    assert changed.json()["settings"]["languages"]["value"] == "eng+deu"
    on_disk = read_toml(library)
    assert (on_disk["workers"], on_disk["languages"]) == (3, "eng+deu")

    before = (library.path / "textlens.toml").read_bytes()
    refused = client.patch("/api/settings", json={"workers": 1, "dpi": "lots"})
    assert refused.status_code == 400
    assert "dpi" in refused.json()["error"]
    unknown = client.patch("/api/settings", json={"workers": 1, "nope": 1})
    assert unknown.status_code == 400 and "Unknown setting 'nope'" in unknown.json()["error"]
    assert (library.path / "textlens.toml").read_bytes() == before  # all or nothing
    assert client.get("/api/settings").json()["settings"]["workers"]["value"] == 3


def test_remote_token_is_never_echoed(client: TestClient, library: Library) -> None:
    assert client.get("/api/settings").json()["settings"]["remote_token"]["value"] == ""
    changed = client.patch("/api/settings", json={"remote_token": "hunter2-secret"})
    assert changed.status_code == 200
    assert changed.json()["settings"]["remote_token"]["value"] == "(set)"
    assert "hunter2-secret" not in changed.text
    shown = client.get("/api/settings")
    assert shown.json()["settings"]["remote_token"]["value"] == "(set)"
    assert "hunter2-secret" not in shown.text
    assert read_toml(library)["remote_token"] == "hunter2-secret"


def test_engines_and_language_data(client: TestClient) -> None:
    engines = {e["name"]: e for e in client.get("/api/engines").json()}
    assert {"tesseract", "slow", "fail", "twopass"} <= set(engines)
    assert engines["slow"]["origin"] == "setting plugins" and engines["slow"]["available"]
    assert engines["tesseract"]["origin"] == "built-in"

    langs = client.get("/api/langs").json()
    assert langs["in_use"] == ["eng"]
    assert langs["missing"] == []  # eng comes with the dev environment
    assert any(row["language"] == "eng" and row["used"] for row in langs["languages"])


def test_clear_cache_is_a_job_that_deletes_the_cache(client: TestClient) -> None:
    cache = Path(client.get("/api/langs").json()["cache"])
    cache.mkdir(parents=True)
    (cache / "xyz.traineddata").write_bytes(b"x" * 1234)
    started = client.post("/api/langs/clear-cache", json={"refetch": False})
    assert started.status_code == 202 and started.json()["kind"] == "langdata"
    job = wait_for_job(client, started.headers["location"])
    assert job["state"] == "done", job
    assert (job["result"]["files"], job["result"]["bytes"]) == (1, 1234)
    assert "refetched" not in job["result"]
    assert not (cache / "xyz.traineddata").exists()


def test_import_ocr_reports_every_file_and_dry_run_writes_nothing(
        client: TestClient, library: Library, text_image: ImageMaker) -> None:
    record = library.add([text_image("label.png", ["label"])])
    library.set_specimen(record.id, catalog_number="WIS-7")
    attachment_id = record.attachments[0].id
    archive = make_zip({"WIS-7_lg.txt": b"Cladonia rangiferina", "NOPE-1.txt": b"lost",
                        "readme.md": b"# notes"})

    def send(dry_run: bool) -> dict[str, Any]:
        response = client.post("/api/import-ocr", files={"file": ("ocr.zip", archive)},
                               data={"dry_run": str(dry_run).lower(), "source": "ABBYY"})
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    dry = send(True)
    statuses = {f["name"]: f["status"] for f in dry["files"]}
    assert statuses == {"WIS-7_lg.txt": "linked", "NOPE-1.txt": "no_record",
                        "readme.md": "not_txt"}
    assert dry["dry_run"] is True and dry["linked"] == 1
    assert client.get(f"/api/attachments/{attachment_id}").json()["ocr"]["run"] is None
    assert client.get("/api/search", params={"q": "rangiferina"}).json()["total"] == 0

    real = send(False)
    assert real["dry_run"] is False and real["counts"]["linked"] == 1
    assert {f["name"] for f in real["files"]} == set(statuses)
    ocr = client.get(f"/api/attachments/{attachment_id}").json()["ocr"]
    assert (ocr["run"]["source"], ocr["run"]["engine"]) == ("import", "ABBYY")
    assert ocr["pages"][0]["text"] == "Cladonia rangiferina"
    assert client.get("/api/search", params={"q": "rangiferina"}).json()["total"] == 1

    bad = client.post("/api/import-ocr", files={"file": ("ocr.zip", archive)},
                      data={"pattern": "no group"})
    assert bad.status_code == 400 and "has no group" in bad.json()["error"]


def test_scanner_state_pause_and_resume(
        client: TestClient, text_image: ImageMaker) -> None:
    add_record(client, text_image("a.png", ["Alpha"]))
    state = client.get("/api/scanner").json()
    assert state["paused"] is False and state["jobs"] == []
    assert state["library"]["records"] == 1
    assert state["library"]["attachments"]["pending"] == 1

    paused = client.post("/api/scanner/pause")
    assert paused.status_code == 200 and paused.json()["paused"] is True
    assert client.get("/api/scanner").json()["paused"] is True
    resumed = client.post("/api/scanner/resume")
    assert resumed.status_code == 200 and resumed.json()["paused"] is False
    assert client.get("/api/scanner").json()["paused"] is False
    assert client.get("/api/scanner/pause").status_code == 405
