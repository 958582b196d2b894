"""The REST API in-process through FastAPI's TestClient, over a real temporary library."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from textlens import Library
from textlens.cli.main import app as cli_app
from textlens.web import create_app


@pytest.fixture
def client(library: Library) -> Iterator[TestClient]:
    with TestClient(create_app(library.path, background=False), base_url="http://127.0.0.1") as c:
        yield c


def upload(path: Path) -> tuple[str, tuple[str, bytes, str]]:
    return ("files", (path.name, path.read_bytes(), "application/octet-stream"))


def test_create_get_list_and_delete_a_record(
        client: TestClient, text_image: Callable[..., Path]) -> None:
    image = text_image("label.png", ["Quercus robur"])
    created = client.post("/api/records", files=[upload(image)],
                          data={"body": "oak", "catalog_number": "B-1",
                                "processing_status": "stage 1", "collection": "herb"})
    assert created.status_code == 201, created.text
    record = created.json()
    assert record["title"] == "label"
    assert record["body"] == "oak"
    assert record["catalog_number"] == "B-1" and record["collection"] == "herb"
    assert [a["name"] for a in record["attachments"]] == ["label.png"]

    assert client.get(f"/api/records/{record['id']}").json() == record
    listed = client.get("/api/records").json()["records"]
    assert [r["id"] for r in listed] == [record["id"]]
    attachment = client.get(f"/api/attachments/{record['attachments'][0]['id']}").json()
    assert attachment["ocr"] == {"run": None, "pages": []}  # not scanned yet

    assert client.delete(f"/api/records/{record['id']}").status_code == 204
    gone = client.get(f"/api/records/{record['id']}")
    assert gone.status_code == 404
    assert "no record" in gone.json()["error"]


def test_catalog_number_taken_is_a_conflict_and_creates_nothing(
        client: TestClient, text_image: Callable[..., Path]) -> None:
    image = text_image("a.png", ["Alpha"])
    data = {"catalog_number": "X-1", "collection": "herb"}
    assert client.post("/api/records", files=[upload(image)], data=data).status_code == 201
    second = client.post("/api/records", files=[upload(image)], data=data)
    assert second.status_code == 409
    assert "already record" in second.json()["error"]
    assert len(client.get("/api/records").json()["records"]) == 1


def test_search_and_attachment_text_after_a_scan(
        client: TestClient, library: Library, text_image: Callable[..., Path]) -> None:
    image = text_image("note.png", ["walrus invoice"], font_size=36)
    record = client.post("/api/records", files=[upload(image)]).json()
    report = library.scan()
    assert report.pages_done == 1, report.failures

    found = client.get("/api/search", params={"q": "walrus"}).json()
    assert found == library.search("walrus").to_dict()
    assert [r["record"]["id"] for r in found["results"]] == [record["id"]]
    assert found["results"][0]["attachments"][0]["name"] == "note.png"
    assert client.get("/api/search", params={"q": "xylophone"}).json()["total"] == 0

    attachment = client.get(f"/api/attachments/{record['attachments'][0]['id']}").json()
    assert "walrus invoice" in attachment["ocr"]["pages"][0]["text"]
    assert attachment["state"] == "done"


def test_status_and_status_by_processing_status(
        client: TestClient, text_image: Callable[..., Path]) -> None:
    client.post("/api/records", files=[upload(text_image("a.png", ["Alpha"]))],
                data={"processing_status": "stage 1"})
    status = client.get("/api/status").json()
    assert status["records"] == 1
    assert status["attachments"]["pending"] == 1
    by_status = client.get("/api/status/by-status").json()
    assert [row["status"] for row in by_status] == ["stage 1"]


def test_bad_query_and_unknown_attachment_are_json_errors(client: TestClient) -> None:
    missing = client.get("/api/attachments/99")
    assert missing.status_code == 404
    assert missing.json() == {"error": "no attachment 99"}
    assert client.get("/api/search").status_code == 422  # q is required


def test_ocr_endpoint_returns_words_with_boxes(
        client: TestClient, library: Library, text_image: Callable[..., Path]) -> None:
    image = text_image("label.png", ["Quercus robur"], font_size=40)
    response = client.post("/api/ocr", files={"file": ("label.png", image.read_bytes())})
    assert response.status_code == 200, response.text
    result = response.json()
    page = result["pages"][0]
    assert page["page"] == 1 and page["method"] == "ocr"
    assert " ".join(page["text"].split()) == "Quercus robur"
    assert [w["text"] for w in page["words"]] == ["Quercus", "robur"]
    for word in page["words"]:
        x0, y0, x1, y1 = word["box"]
        assert 0 <= x0 < x1 <= page["width"] and 0 <= y0 < y1 <= page["height"]
    assert library.status()["records"] == 0  # nothing stored


def test_ocr_endpoint_refuses_a_file_that_is_not_an_image(client: TestClient) -> None:
    response = client.post("/api/ocr", files={"file": ("notes.png", b"just some text\n")})
    assert response.status_code == 415
    assert "not a supported image or PDF" in response.json()["error"]


def test_upload_over_the_limit_is_refused(library: Library) -> None:
    with TestClient(create_app(library.path, max_upload_bytes=1000, background=False),
                    base_url="http://127.0.0.1") as c:
        response = c.post("/api/records", files={"files": ("big.png", b"x" * 200_000)})
        assert response.status_code == 413
        assert "upload limit" in response.json()["error"]
    assert library.records() == []


def test_token_is_required_on_every_request_and_accepted(library: Library) -> None:
    with TestClient(create_app(library.path, token="s3cret", background=False)) as c:
        for path in ("/api/records", "/api/status", "/openapi.json"):
            refused = c.get(path)
            assert refused.status_code == 401
            assert "access token" in refused.json()["error"]
        assert c.get("/api/status", headers={"Authorization": "Bearer wrong"}).status_code \
            == 401
        ok = c.get("/api/status", headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 200 and ok.json()["records"] == 0


def test_openapi_schema_lists_the_api(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/records", "/api/records/{record_id}", "/api/search", "/api/ocr",
            "/api/status", "/api/attachments/{attachment_id}"} <= set(paths)


def test_serve_refuses_a_public_address_without_a_token(library: Library) -> None:
    result = CliRunner().invoke(cli_app, ["--library", str(library.path), "serve",
                                          "--host", "0.0.0.0"])
    assert result.exit_code != 0
    assert "access token" in str(result.exception)


def test_serve_refuses_a_host_name_without_a_token(library: Library) -> None:
    result = CliRunner().invoke(cli_app, ["--library", str(library.path), "serve",
                                          "--host", "example.org"])
    assert result.exit_code != 0
    assert "--token" in str(result.exception)


def test_ocr_results_serve_the_export_lines_for_sync(
        client: TestClient, library: Library, text_image: Callable[..., Path],
        tmp_path: Path) -> None:
    library.add([text_image("n.png", ["walrus invoice"], font_size=36)])
    library.scan()
    served = client.get("/api/ocr-results")
    assert served.status_code == 200
    assert served.headers["content-type"].startswith("application/x-ndjson")
    library.export_ocr(tmp_path / "bundle.jsonl")
    assert served.text == (tmp_path / "bundle.jsonl").read_text(encoding="utf-8")
    (line,) = [json.loads(x) for x in served.text.splitlines()]
    assert line["format"] == "textlens-ocr/1" and "walrus" in line["pages"][0]["text"]
    later = client.get("/api/ocr-results", params={"since": line["created"] + 1})
    assert later.text == ""
