"""The web app's guard: Host names, the access token and sessions, cross-site writes, CSRF,
rate and size limits, redirects and security headers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from textlens import Library
from textlens.web import create_app

from .webclient import BASE_URL, csrf_from, make_client, upload

TOKEN = "s3cret-token"
ImageMaker = Callable[..., Path]


@pytest.fixture
def client(library: Library) -> Iterator[TestClient]:
    with make_client(library.path) as c:
        yield c


@pytest.fixture
def token_client(library: Library) -> Iterator[TestClient]:
    # Any base URL: with a token the Host is not checked.
    with TestClient(create_app(library.path, TOKEN, background=False),
                    base_url="http://textlens.example") as c:
        yield c


@pytest.mark.parametrize("host", ["localhost:8000", "127.0.0.1", "127.0.0.1:8000", "[::1]:8000",
                                  "[::1]", "app.localhost"])
def test_loopback_host_names_are_answered(client: TestClient, host: str) -> None:
    response = client.get("/api/status", headers={"Host": host})
    assert response.status_code == 200, response.text
    assert response.json()["records"] == 0


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8000", "127.0.0.1.evil.example",
                                  "192.168.1.5", ""])
def test_other_host_names_are_refused_without_a_token(client: TestClient, host: str) -> None:
    response = client.get("/api/status", headers={"Host": host})
    assert response.status_code == 421
    error = response.json()["error"]
    assert "only answers requests to localhost" in error
    assert "--token" in error  # the advice: how to serve other machines


def test_with_a_token_any_host_is_answered(token_client: TestClient) -> None:
    response = token_client.get("/api/status", headers={"Host": "evil.example",
                                                        "Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200 and response.json()["records"] == 0


def test_api_without_the_token_is_401_json(token_client: TestClient) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        refused = token_client.get("/api/records", headers=headers)
        assert refused.status_code == 401
        assert refused.headers["content-type"] == "application/json"
        assert refused.headers["www-authenticate"] == "Bearer"
        assert "access token" in refused.json()["error"]
    refused = token_client.post("/api/scanner/pause")
    assert refused.status_code == 401
    ok = token_client.get("/api/records", headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200 and ok.json()["records"] == []


def test_pages_without_the_token_redirect_to_login(token_client: TestClient) -> None:
    response = token_client.get("/records/1", params={"job": "2"}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/records/1%3Fjob%3D2"
    login = token_client.get("/login", params={"next": "/records/1?job=2"})
    assert login.status_code == 200 and 'name="token"' in login.text
    assert token_client.get("/static/nothing.css").status_code == 404  # open, just missing


def test_signing_in_gives_a_session_cookie_that_is_accepted(token_client: TestClient) -> None:
    page = token_client.get("/login")
    csrf = csrf_from(page.text)
    assert token_client.cookies.get("textlens_csrf") == csrf

    wrong = token_client.post("/login", data={"csrf_token": csrf, "token": "nope",
                                              "next": "/settings"}, follow_redirects=False)
    assert wrong.status_code == 303
    assert wrong.headers["location"] == "/login?failed=true&next=/settings"
    assert "textlens_session" not in token_client.cookies
    assert token_client.get("/api/status").status_code == 401

    signed_in = token_client.post("/login", data={"csrf_token": csrf, "token": TOKEN,
                                                  "next": "/settings"},
                                  follow_redirects=False)
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/settings"
    cookie = signed_in.headers["set-cookie"]
    assert "textlens_session=" in cookie and "HttpOnly" in cookie
    assert TOKEN not in cookie  # proof of the token, not the token itself
    assert token_client.get("/api/status").status_code == 200
    assert token_client.get("/settings").status_code == 200


def test_login_needs_the_csrf_token(token_client: TestClient) -> None:
    token_client.get("/login")
    refused = token_client.post("/login", data={"token": TOKEN}, follow_redirects=False)
    assert refused.status_code == 403
    assert "textlens_session" not in token_client.cookies
    assert token_client.get("/api/status").status_code == 401


@pytest.mark.parametrize("headers", [
    {"Origin": "http://evil.example"},
    {"Origin": "http://127.0.0.1:9999"},  # another port is another origin
    {"Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "same-site"},
    {"Origin": BASE_URL, "Sec-Fetch-Site": "cross-site"},
])
def test_cross_site_writes_are_refused(client: TestClient, headers: dict[str, str]) -> None:
    refused = client.post("/api/scanner/pause", headers=headers)
    assert refused.status_code == 403
    assert "cross-site request refused" in refused.json()["error"]
    assert client.get("/api/scanner").json()["paused"] is False  # nothing changed
    # Reads: another site may not load API answers into its pages either (see below).
    embedded = client.get("/api/scanner", headers=headers)
    assert embedded.status_code == (403 if headers.get("Sec-Fetch-Site") == "cross-site"
                                    else 200)


def test_other_sites_may_link_to_pages_but_not_embed_images_or_answers(
        client: TestClient, library: Library, text_image: Callable[..., Path]) -> None:
    record = library.add([text_image("a.png", ["Alpha"])])
    image = f"/api/attachments/{record.attachments[0].id}/pages/1/image"
    cross = {"Sec-Fetch-Site": "cross-site"}
    link = client.get(f"/records/{record.id}", headers=cross | {"Sec-Fetch-Mode": "navigate"})
    assert link.status_code == 200
    for mode in ("no-cors", "cors"):  # <img src=...>, fetch()
        refused = client.get(image, headers=cross | {"Sec-Fetch-Mode": mode})
        assert refused.status_code == 403
        assert "not for other sites" in refused.json()["error"]
    own = client.get(image, headers={"Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "no-cors"})
    assert own.status_code == 200
    assert own.headers["Cross-Origin-Resource-Policy"] == "same-origin"


@pytest.mark.parametrize("headers", [
    {}, {"Origin": BASE_URL}, {"Sec-Fetch-Site": "same-origin"}, {"Sec-Fetch-Site": "none"},
])
def test_same_origin_and_script_writes_are_accepted(
        client: TestClient, headers: dict[str, str]) -> None:
    response = client.post("/api/scanner/pause", headers=headers)
    assert response.status_code == 200 and response.json()["paused"] is True


def record_with_image(client: TestClient, text_image: ImageMaker) -> int:
    created = client.post("/api/records", files=[upload(text_image("a.png", ["Alpha"]))])
    assert created.status_code == 201
    return int(created.json()["id"])


@pytest.mark.parametrize("data", [{}, {"csrf_token": "forged"}, {"csrf_token": ""}])
def test_form_posts_without_the_right_csrf_token_change_nothing(
        client: TestClient, text_image: ImageMaker, data: dict[str, str]) -> None:
    record_id = record_with_image(client, text_image)
    client.get("/")  # the browser has its CSRF cookie
    refused = client.post(f"/records/{record_id}/delete", data=data, follow_redirects=False)
    assert refused.status_code == 403
    assert "form is out of date" in refused.text
    assert client.get(f"/api/records/{record_id}").status_code == 200


def test_form_post_without_the_csrf_cookie_is_refused(
        client: TestClient, text_image: ImageMaker) -> None:
    record_id = record_with_image(client, text_image)
    token = csrf_from(client.get("/").text)
    client.cookies.clear()  # the token alone, as a page on another site might have copied it
    refused = client.post(f"/records/{record_id}/delete", data={"csrf_token": token},
                          follow_redirects=False)
    assert refused.status_code == 403
    assert client.get(f"/api/records/{record_id}").status_code == 200


def test_form_post_with_the_right_csrf_token_works(
        client: TestClient, text_image: ImageMaker) -> None:
    record_id = record_with_image(client, text_image)
    token = csrf_from(client.get(f"/records/{record_id}").text)
    deleted = client.post(f"/records/{record_id}/delete", data={"csrf_token": token},
                          follow_redirects=False)
    assert deleted.status_code == 303 and deleted.headers["location"] == "/"
    assert client.get(f"/api/records/{record_id}").status_code == 404


def test_requests_over_the_rate_limit_are_429(library: Library) -> None:
    with make_client(library.path, rate_limit=5) as c:
        for _ in range(5):
            assert c.get("/api/status").status_code == 200
        refused = c.get("/api/status")
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert "too many requests" in refused.json()["error"]
        assert c.post("/api/scanner/pause").status_code == 429  # every route counts
        assert c.get("/static/nothing.css").status_code == 404  # static files are not limited


@pytest.mark.parametrize("size", [5_000, 200_000])  # caught while reading / by Content-Length
def test_uploads_over_the_limit_are_413_and_store_nothing(library: Library, size: int) -> None:
    with make_client(library.path, max_upload_bytes=1000) as c:
        response = c.post("/api/records", files={"files": ("big.png", b"x" * size)})
        assert response.status_code == 413
        assert "larger than" in response.json()["error"]
        small = c.post("/api/records", files={"files": ("small.txt", b"x" * 500)})
        assert small.status_code == 201  # under the limit the same route takes it
    assert [r.title for r in library.records()] == ["small"]


@pytest.mark.parametrize("target", ["https://evil.example/x", "//evil.example/x",
                                    "/\\evil.example", "http:/evil.example", "javascript:x"])
def test_redirects_never_leave_the_site(client: TestClient, target: str) -> None:
    token = csrf_from(client.get("/").text)
    response = client.post("/scanner/pause", data={"csrf_token": token, "next": target},
                           follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    assert client.get("/api/scanner").json()["paused"] is True
    login = client.get("/login", params={"next": target}, follow_redirects=False)
    assert login.headers["location"] == "/"


def test_redirects_within_the_site_are_kept(client: TestClient) -> None:
    token = csrf_from(client.get("/").text)
    response = client.post("/scanner/resume", data={"csrf_token": token,
                                                    "next": "/toolbox?collection=x"},
                           follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/toolbox?collection=x"


@pytest.mark.parametrize("path", ["/", "/api/status", "/api/records/999", "/settings"])
def test_security_headers_are_on_every_response(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "same-origin"


def test_a_chunked_upload_over_the_limit_is_refused_while_it_is_read(library: Library) -> None:
    # No Content-Length to check first: the body is counted as it arrives.
    def chunks() -> Iterator[bytes]:
        boundary = b"--b\r\nContent-Disposition: form-data; name=\"files\"; filename=\"x.png\""
        yield boundary + b"\r\nContent-Type: image/png\r\n\r\n"
        for _ in range(64):
            yield b"\0" * 16 * 1024
        yield b"\r\n--b--\r\n"

    with make_client(library.path, max_upload_bytes=100_000) as client:
        refused = client.post("/api/records", content=chunks(),
                              headers={"Content-Type": "multipart/form-data; boundary=b"})
        assert refused.status_code == 413, refused.text
        assert "upload limit" in refused.json()["error"]
        assert client.get("/api/records").json()["records"] == []


def test_wrong_bearer_tokens_are_slowed_like_sign_in_attempts(library: Library) -> None:
    with TestClient(create_app(library.path, TOKEN, background=False),
                    base_url="http://textlens.example") as client:
        statuses = [client.get("/api/status", headers={"Authorization": f"Bearer guess{i}"}
                               ).status_code for i in range(12)]
        assert statuses[:10] == [401] * 10
        assert statuses[10:] == [429, 429]
        # The right token still works: the general limit is not used up.
        ok = client.get("/api/status", headers={"Authorization": f"Bearer {TOKEN}"})
        assert ok.status_code == 200


def test_sign_out_ends_the_session_and_a_restart_too(library: Library) -> None:
    app = create_app(library.path, TOKEN, background=False)
    with TestClient(app, base_url="http://textlens.example") as client:
        form = client.get("/login")
        client.post("/login", data={"token": TOKEN, "csrf_token": csrf_from(form.text)})
        page = client.get("/toolbox")
        assert page.status_code == 200 and "Sign out" in page.text
        out = client.post("/logout", data={"csrf_token": csrf_from(page.text)},
                          follow_redirects=False)
        assert out.status_code == 303
        assert client.get("/api/status").status_code == 401
        client.post("/login", data={"token": TOKEN, "csrf_token": csrf_from(form.text)})
        cookie = client.cookies["textlens_session"]
    restarted = create_app(library.path, TOKEN, background=False)
    with TestClient(restarted, base_url="http://textlens.example",
                    cookies={"textlens_session": cookie}) as client:
        assert client.get("/api/status").status_code == 401  # a new run, new sessions


def test_ocr_requests_beyond_the_workers_are_told_to_come_back(
        client: TestClient, text_image: ImageMaker) -> None:
    image = text_image("a.png", ["Alpha"])
    assert client.post("/api/ocr", files=[upload(image, "file")]).status_code == 200
    slots = client.app.state.ocr_slots  # type: ignore[attr-defined]
    while slots.acquire(blocking=False):  # every worker busy with other requests
        pass
    busy = client.post("/api/ocr", files=[upload(image, "file")])
    assert busy.status_code == 429 and busy.headers["Retry-After"]
    assert "try again" in busy.json()["error"]


def test_a_very_long_file_name_is_shortened_not_refused(
        client: TestClient, text_image: ImageMaker) -> None:
    image = text_image("a.png", ["Alpha"])
    name = "x" * 400 + ".png"
    created = client.post("/api/records", files=[("files", (name, image.read_bytes(),
                                                            "image/png"))])
    assert created.status_code == 201, created.text
    stored = created.json()["attachments"][0]["name"]
    assert stored.endswith(".png") and len(stored.encode()) <= 200
