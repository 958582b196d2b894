"""Server-rendered pages in-process: what they show for unusual data, and how their forms
behave on errors. (tests/test_web_browser.py drives the same pages in a real browser.)"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from textlens import Library
from textlens.settings import CONFIG_FILE
from textlens.web.ocr_service import JobControl

from .webclient import csrf_from, make_client, make_zip, wait_for, wait_for_job

ImageMaker = Callable[..., Path]


@pytest.fixture
def client(library: Library) -> Iterator[TestClient]:
    with make_client(library.path) as c:
        yield c


def test_a_job_id_of_another_kind_is_ignored_not_a_crash(
        client: TestClient, library: Library, text_image: ImageMaker) -> None:
    record = library.add([text_image("a.png", ["Alpha"])])
    started = client.post(f"/api/records/{record.id}/ocr")
    job = wait_for_job(client, started.headers["location"])
    assert job["state"] == "done"
    # An OCR job's id on the settings and toolbox pages (a bookmark from before a restart).
    for page in (f"/settings?job={job['id']}", f"/toolbox?job={job['id']}"):
        shown = client.get(page)
        assert shown.status_code == 200, page
        assert 'id="job"' not in shown.text
    assert 'id="job-result"' in client.get(f"/records/{record.id}?job={job['id']}").text


def test_settings_errors_keep_what_was_typed_and_saving_pins_nothing_unchanged(
        client: TestClient, library: Library) -> None:
    toml = library.path / CONFIG_FILE
    before = toml.read_text()
    page = client.get("/settings")
    form = {"csrf_token": csrf_from(page.text), "ocr": "on", "engine": "tesseract",
            "languages": "eng", "model": "best_int", "langdata": "", "workers": "2",
            "remote_url": "", "remote_token": ""}
    # Saving the form as shown writes nothing: defaults stay defaults.
    saved = client.post("/settings", data=form, follow_redirects=False)
    assert saved.status_code == 303 and toml.read_text() == before
    bad = client.post("/settings", data=form | {"languages": "eng+../x", "workers": "3"})
    assert bad.status_code == 400
    assert "is not a language code" in bad.text
    assert 'value="eng+../x"' in bad.text and 'name="workers" value="3"' in bad.text
    assert toml.read_text() == before  # nothing written, not even the valid workers
    good = client.post("/settings", data=form | {"workers": "1"}, follow_redirects=False)
    assert good.status_code == 303
    changed = set(toml.read_text().splitlines()) - set(before.splitlines())
    assert changed == {"workers = 1"}  # that one setting, changed in place


def test_imported_text_without_word_boxes_says_why_nothing_is_marked(
        client: TestClient, library: Library, text_image: ImageMaker) -> None:
    record = library.add([text_image("B-1.png", ["unreadable"])])
    library.set_specimen(record.id, catalog_number="B-1")
    report = client.post("/api/import-ocr", files=[("file", (
        "ocr.zip", make_zip({"B-1.txt": "Quercus robur from elsewhere"}), "application/zip"))])
    assert report.json()["linked"] == 1
    view = client.get(f"/attachments/{record.attachments[0].id}?q=quercus")
    assert view.status_code == 200
    assert "without word positions (imported text)" in view.text
    assert "Quercus robur from elsewhere" in view.text
    assert 'class="box"' not in view.text


def test_adding_without_a_file_says_what_to_do(client: TestClient) -> None:
    page = client.get("/")
    refused = client.post("/records", data={"csrf_token": csrf_from(page.text), "title": "x"},
                          files=[("files", ("", b"", "application/octet-stream"))])
    assert refused.status_code == 400
    assert "choose at least one image or PDF" in refused.text


def test_untitled_records_still_have_a_link_and_a_heading(
        client: TestClient, library: Library, text_image: ImageMaker) -> None:
    record = library.add([text_image("a.png", ["Alpha"])], title="")
    listing = client.get("/")
    assert f'href="/records/{record.id}">(untitled record {record.id})</a>' in listing.text
    assert f"(untitled record {record.id})" in client.get(f"/records/{record.id}").text


def test_a_long_document_lists_twenty_pages_and_links_the_rest(
        client: TestClient, library: Library, pdf_file: Callable[..., Path]) -> None:
    pdf = pdf_file("long.pdf", [f"Page number {n} of the report" for n in range(1, 26)])
    record = library.add([pdf])
    assert library.scan().pages_done == 25  # text-layer pages: read, not OCR'd
    page = client.get(f"/records/{record.id}")
    assert page.text.count('class="page-text"') == 20
    assert "5 more pages" in page.text
    assert f"/attachments/{record.attachments[0].id}?page=21" in page.text


def test_the_scanner_bar_names_a_running_job(client: TestClient) -> None:
    release = threading.Event()

    def held(lib: Library, control: JobControl) -> dict[str, int]:
        control.progress(1, 4)
        release.wait(10)
        return {}

    service = client.app.state.ocr  # type: ignore[attr-defined]
    job = service.submit("batch", "batch: held for the test", held)
    wait_for(lambda: service.job(job.id).state == "running", what="the job to start")
    try:
        assert "batch: held for the test: 1 of 4" in client.get("/toolbox").text
        assert client.get("/api/scanner").json()["jobs"][0]["label"] == \
            "batch: held for the test"
    finally:
        release.set()
    wait_for(lambda: service.job(job.id).state == "done", what="the job to end")
    assert "held for the test" not in client.get("/toolbox").text


def test_the_add_form_makes_a_record_of_the_chosen_files(
        client: TestClient, text_image: ImageMaker) -> None:
    page = client.get("/")
    image = text_image("label.png", ["Alpha"])
    added = client.post("/records", data={"csrf_token": csrf_from(page.text), "title": "Mine",
                                          "body": "a note"},
                        files=[("files", ("label.png", image.read_bytes(), "image/png")),
                               ("files", ("", b"", "application/octet-stream"))],
                        follow_redirects=False)
    assert added.status_code == 303, added.text
    record = client.get("/api" + added.headers["location"]).json()
    assert (record["title"], record["body"]) == ("Mine", "a note")
    assert [a["name"] for a in record["attachments"]] == ["label.png"]
