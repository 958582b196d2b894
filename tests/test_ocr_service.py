"""The server's OCR thread: background scans of new uploads, pause and resume, jobs that
preempt a scan, and a failing job that leaves the thread running."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from textlens import Library
from textlens.errors import TextlensError
from textlens.web import ocr_service
from textlens.web.ocr_service import JobControl, OcrService

from .webclient import make_client, upload, wait_for, wait_for_job

ImageMaker = Callable[..., Path]


@pytest.fixture
def slow_library(library: Library, monkeypatch: pytest.MonkeyPatch) -> Library:
    """The slow engine (0.5 s a page; its default too, should the worker server already run)
    with one worker, so a scan of a few files lasts long enough to act on."""
    monkeypatch.setenv("SLOW_ENGINE_SECONDS", "0.5")
    library.set_setting("engine", "slow")
    library.set_setting("workers", "1")
    return library


def add(client: TestClient, path: Path, **data: str) -> dict[str, Any]:
    created = client.post("/api/records", files=[upload(path)], data=data)
    assert created.status_code == 201, created.text
    return created.json()  # type: ignore[no-any-return]


def attachment_state(client: TestClient, record: dict[str, Any]) -> str:
    return str(client.get(f"/api/records/{record['id']}").json()["attachments"][0]["state"])


def pages_done(client: TestClient) -> int:
    return int(client.get("/api/status").json()["pages"]["done"])


def test_an_upload_is_ocrd_in_the_background(
        library: Library, text_image: ImageMaker) -> None:
    with make_client(library.path, background=True) as client:
        record = add(client, text_image("note.png", ["walrus invoice"], font_size=36))
        # No scan is asked for: the upload wakes the OCR thread.
        wait_for(lambda: attachment_state(client, record) == "done", timeout=30,
                 what="the background OCR of the upload")
        attachment = client.get(f"/api/attachments/{record['attachments'][0]['id']}").json()
        assert "walrus invoice" in attachment["ocr"]["pages"][0]["text"]
        assert attachment["ocr"]["run"]["engine"] == "tesseract"
        scanner = wait_for(lambda: (s := client.get("/api/scanner").json())["state"] == "idle"
                           and s, what="the scanner to be idle")
        assert scanner["last"]["pages_done"] == 1 and scanner["error"] is None
        assert client.get("/api/search", params={"q": "walrus"}).json()["total"] == 1


def test_nothing_is_ocrd_in_the_background_when_ocr_is_off(
        library: Library, text_image: ImageMaker) -> None:
    library.set_setting("ocr", "false")
    with make_client(library.path, background=True) as client:
        record = add(client, text_image("note.png", ["walrus"]))
        wait_for(lambda: client.get("/api/scanner").json()["state"] == "off", timeout=10,
                 what="the scanner to say off")
        time.sleep(1.0)  # time enough for a background scan that should not happen
        assert attachment_state(client, record) == "pending"
        scanner = client.get("/api/scanner").json()
        assert scanner["state"] == "off" and scanner["last"] is None
        assert scanner["library"]["ocr_enabled"] is False
        assert scanner["library"]["pages"]["done"] == 0


def add_while_paused(client: TestClient, files: list[tuple[Path, dict[str, str]]]
                     ) -> list[dict[str, Any]]:
    """Add files with the scanner paused, then resume: one background scan takes them all."""
    assert client.post("/api/scanner/pause").json()["paused"] is True
    records = [add(client, path, **data) for path, data in files]
    assert client.get("/api/status").json()["pages"]["done"] == 0
    assert client.post("/api/scanner/resume").json()["paused"] is False
    return records


def test_pause_stops_the_background_scan_and_resume_completes_it(
        slow_library: Library, text_image: ImageMaker) -> None:
    with make_client(slow_library.path, background=True) as client:
        records = add_while_paused(
            client, [(text_image(f"p{i}.png", [f"Page {i}"]), {}) for i in range(6)])

        def scanning() -> dict[str, Any] | None:
            state = client.get("/api/scanner").json()
            return state if state["state"] == "scanning" and state["done"] >= 1 else None

        state = wait_for(scanning, timeout=30, what="the scan to be under way")
        assert state["total"] == 6 and state["done"] < 6 and state["paused"] is False

        paused = client.post("/api/scanner/pause")
        assert paused.status_code == 200
        assert (paused.json()["paused"], paused.json()["state"]) == (True, "paused")
        # The scan ends at its next page; the pages in flight go back to the queue.
        wait_for(lambda: client.get("/api/status").json()["pages"]["running"] == 0,
                 timeout=10, what="the scan to stop")
        done = pages_done(client)
        assert done < 6
        time.sleep(2.0)  # four pages' time: none may be done while paused
        assert pages_done(client) == done
        assert client.get("/api/scanner").json()["state"] == "paused"

        assert client.post("/api/scanner/resume").json()["paused"] is False
        wait_for(lambda: pages_done(client) == 6, timeout=30, what="the scan to complete")
        assert [attachment_state(client, r) for r in records] == ["done"] * 6
        assert client.get("/api/status").json()["pages"]["pending"] == 0


def test_a_job_preempts_the_background_scan_which_then_completes(
        slow_library: Library, text_image: ImageMaker) -> None:
    with make_client(slow_library.path, background=True) as client:
        # The urgent file comes last: the background scan would do it last.
        *background, urgent = add_while_paused(
            client, [(text_image(f"b{i}.png", [f"Back {i}"]), {}) for i in range(8)]
            + [(text_image("urgent.png", ["Urgent"]), {"processing_status": "urgent"})])
        wait_for(lambda: client.get("/api/scanner").json()["done"] >= 1, timeout=30,
                 what="the background scan to be under way")

        started = client.post("/api/batch", json={"status": "urgent"})
        assert started.status_code == 202
        job = wait_for_job(client, started.headers["location"], timeout=30)
        assert job["state"] == "done", job
        assert (job["result"]["records"], job["result"]["pages"]) == (1, 1)
        assert attachment_state(client, urgent) == "done"
        # The job did not wait for the whole scan: background files are still to do.
        assert pages_done(client) < 9

        wait_for(lambda: pages_done(client) == 9, timeout=30, what="the rest of the scan")
        assert [attachment_state(client, r) for r in background] == ["done"] * 8
        scanner = wait_for(lambda: (s := client.get("/api/scanner").json())["state"] == "idle"
                           and s, what="the scanner to be idle")
        assert scanner["error"] is None and scanner["jobs"] == []


@pytest.fixture
def service(library: Library) -> Iterator[OcrService]:
    ocr = OcrService(library.path, background=False)
    ocr.start()
    yield ocr
    ocr.stop(timeout=10)


def wait_job(service: OcrService, job_id: int) -> Any:
    return wait_for(lambda: (j := service.job(job_id)) is not None
                    and j.state in ("done", "failed") and j, timeout=10, what=f"job {job_id}")


def test_a_failing_job_is_failed_and_the_thread_goes_on(service: OcrService) -> None:
    def refuse(lib: Library, job: JobControl) -> dict[str, Any]:
        job.progress(1, 3)
        raise TextlensError("the batch cannot run: no such status")

    def bug(lib: Library, job: JobControl) -> dict[str, Any]:
        raise KeyError("oops")

    def works(lib: Library, job: JobControl) -> dict[str, Any]:
        job.progress(2, 2)
        return {"records": lib.status()["records"]}

    failed = wait_job(service, service.submit("batch", "refused", refuse).id)
    assert (failed.state, failed.error) == ("failed", "the batch cannot run: no such status")
    assert (failed.done, failed.total, failed.result) == (1, 3, None)
    assert failed.started is not None and failed.finished >= failed.started

    crashed = wait_job(service, service.submit("batch", "buggy", bug).id)
    assert crashed.state == "failed"
    assert crashed.error.startswith("internal error: KeyError('oops')")

    done = wait_job(service, service.submit("ocr", "fine", works).id)
    assert (done.state, done.result, done.error) == ("done", {"records": 0}, None)
    assert (done.done, done.total) == (2, 2)
    assert [j.label for j in service.jobs()] == ["fine", "buggy", "refused"]
    assert service.state()["jobs"] == []  # none queued or running


def test_stop_ends_the_thread(library: Library) -> None:
    service = OcrService(library.path, background=False)
    service.start()
    assert service._thread is not None and service._thread.is_alive()
    service.stop(timeout=10)
    assert not service._thread.is_alive()
    assert service.state()["state"] == "stopped"


def test_a_linked_file_changed_on_disk_is_ocrd_again_in_the_background(
        library: Library, text_image: ImageMaker) -> None:
    image = text_image("note.png", ["Original wording"])
    record = library.add([image], link=True)
    assert library.scan().pages_done == 1
    service = OcrService(library.path, rescan_every=0.2)
    service.start()
    try:
        changed = text_image("note.png", ["Rewritten paragraph"])  # same path, new bytes
        assert changed == image

        def found() -> bool:
            with Library.open(library.path) as lib:
                hits = lib.search("rewritten").results
                return bool(hits) and hits[0].record_id == record.id

        wait_for(found, timeout=30, what="the new text to be searchable")
    finally:
        service.stop(timeout=10)


def test_library_counts_are_counted_once_for_every_page_that_polls(
        library: Library, monkeypatch: pytest.MonkeyPatch) -> None:
    service = OcrService(library.path, background=False)
    calls: list[int] = []
    monkeypatch.setattr(library, "status", lambda: calls.append(1) or {"counted": len(calls)})
    assert [service.library_counts(library) for _ in range(5)] == [{"counted": 1}] * 5
    monkeypatch.setattr(ocr_service, "COUNTS_TTL", 0.0)  # the moment has passed
    time.sleep(0.01)
    assert service.library_counts(library) == {"counted": 2}
