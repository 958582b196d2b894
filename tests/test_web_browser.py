"""The web pages in a real browser: headless Chromium (Playwright) against a real server
(uvicorn on loopback) over a test library, clicking and typing as a person would.

Set TEXTLENS_SCREENSHOTS=/some/folder to keep a full-page screenshot of each main page."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Response, expect, sync_playwright

from tests.langserver import LangServer, put
from tests.webclient import make_zip
from tests.webserver import textlens_server
from textlens import Library

CHROMIUM = "/usr/bin/chromium"
TIMEOUT_MS = 30_000
# Read at import: the autouse _isolated_env fixture removes every TEXTLENS_* variable.
SCREENSHOTS = os.environ.get("TEXTLENS_SCREENSHOTS")

pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM),
    reason=f"browser tests need Debian's chromium at {CHROMIUM} (apt-get install chromium)")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def serve() -> Iterator[Callable[..., str]]:
    """``serve(library_path, **create_app_kwargs)`` starts a server for this test; its URL.
    Requested by ``page`` so that the page is closed before the server stops."""
    with ExitStack() as stack:
        yield lambda path, **kwargs: stack.enter_context(textlens_server(path, **kwargs))


@pytest.fixture
def page(browser: Browser, serve: Callable[..., str]) -> Iterator[Page]:
    """A fresh browser context (no cookies) and page; fails on any uncaught script error."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, f"script errors in the page: {errors}"


def screenshot(page: Page, name: str) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"), full_page=True)


def wait_for_image(page: Page, selector: str) -> None:
    """Wait until the image has loaded and decoded (a broken image has naturalWidth 0)."""
    image = page.locator(selector)
    image.scroll_into_view_if_needed()  # thumbnails load lazily
    expect(image).to_have_js_property("complete", True)
    assert image.evaluate("i => i.naturalWidth") > 0, f"{selector} did not load"


def first_render(page: Page, part: str, action: Callable[[], None]) -> str:
    """The HTML the server first sent for the page whose URL contains ``part`` after
    ``action`` (app.js may reload it a moment later, once a job ends)."""
    def wanted(response: Response) -> bool:
        return part in response.url and response.request.method == "GET"

    with page.expect_response(wanted) as caught:
        action()
    return caught.value.text()


def assert_marks_over_hits(page: Page, url: str, attachment_id: int, page_number: int,
                           query: str) -> list[list[float]]:
    """Each highlight on the attachment view sits over a matching word's box (as the API
    gives it, in page pixels), scaled to the image as shown; returns those boxes."""
    wait_for_image(page, "#page-image")
    hits = page.request.get(f"{url}/api/attachments/{attachment_id}/pages/{page_number}/hits",
                            params={"q": query}).json()
    assert hits["boxes"], hits
    image = page.locator("#page-image")
    natural = image.evaluate("i => [i.naturalWidth, i.naturalHeight]")
    # The image shown is this page (same proportions as the page the boxes are in).
    assert natural[0] / natural[1] == pytest.approx(hits["width"] / hits["height"], rel=0.01)
    shown = image.bounding_box()
    assert shown and shown["width"] > 100
    scale_x, scale_y = shown["width"] / hits["width"], shown["height"] / hits["height"]
    marks = page.locator("mark.box")
    expect(marks).to_have_count(len(hits["boxes"]))
    for mark, (left, top, right, bottom) in zip(marks.all(), hits["boxes"], strict=True):
        got = mark.bounding_box()
        assert got is not None
        want = {"x": shown["x"] + left * scale_x, "y": shown["y"] + top * scale_y,
                "width": (right - left) * scale_x, "height": (bottom - top) * scale_y}
        for key in want:
            assert got[key] == pytest.approx(want[key], abs=3), (key, got, want)
        assert got["width"] > 5 and got["height"] > 3  # a visible box, not a dot
    return hits["boxes"]


def row_cells(page: Page, table: str, first_cell: str) -> list[str]:
    row = page.locator(f"{table} tbody tr").filter(
        has=page.locator("td:first-child", has_text=re.compile(f"^{re.escape(first_cell)}$")))
    expect(row).to_have_count(1)
    return [" ".join(c.split()) for c in row.locator("td").all_inner_texts()]


# -- 1. search, the banner of matching attachments, and highlights on the page ----------------

def test_search_banner_names_matching_pages_and_the_view_highlights_the_word(
        library: Library, text_image: Callable[..., Path], pdf_file: Callable[..., Path],
        serve: Callable[..., str], page: Page) -> None:
    record = library.add([
        text_image("label.png", ["Quercus robur"]),
        text_image("scan.png", ["Collected near Quercus grove", "by the river"]),
        # Page 2 is a scan (OCR'd), page 3 a text layer: both hold the word, page 1 not.
        pdf_file("report.pdf", [["Field report"], ["Acorns of Quercus"],
                                "Page three mentions Quercus petraea too"]),
    ], title="Oak specimen")
    library.add([text_image("birch.png", ["Betula pendula"])], title="Birch specimen")
    report = library.scan()
    assert report.pages_done == 6 and not report.failures, report
    label, _scan, pdf = record.attachments
    url = serve(library.path, background=False)

    page.goto(url + "/")
    page.get_by_role("searchbox", name="Search").fill("quercus")
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"/\?q=quercus"))
    expect(page.locator("#result-count")).to_contain_text("1 record matches")
    results = page.locator("li.result")
    expect(results).to_have_count(1)
    expect(results.locator("a.title")).to_have_text("Oak specimen")
    banner = " ".join(results.locator(".banner").inner_text().split())
    assert banner.startswith("3 attachments match:"), banner
    for part in ("label.png (p. 1)", "scan.png (p. 1)", "report.pdf (pp. 2, 3)"):
        assert part in banner, banner
    assert "Betula" not in page.locator("main").inner_text()
    expect(results.locator(".snippet b").first).to_have_text(re.compile("quercus", re.I))
    screenshot(page, "1-search-results")

    # The attachment's name opens its first matching page, the word marked on the image.
    results.locator("a.hit-attachment", has_text="report.pdf").click()
    expect(page).to_have_url(re.compile(rf"/attachments/{pdf.id}\?page=2&q=quercus"))
    expect(page.locator("h1")).to_have_text(re.compile(r"report\.pdf\s+page 2 of 3"))
    expect(page.locator("#hit-count")).to_have_text("1 matching word on this page.")
    expect(page.locator("#page-text")).to_contain_text("Acorns of Quercus")
    assert_marks_over_hits(page, url, pdf.id, 2, "quercus")
    screenshot(page, "2-attachment-highlights")

    page.get_by_role("link", name="page 3 →").click()  # the text-layer page
    expect(page.locator("h1")).to_have_text(re.compile(r"page 3 of 3"))
    assert_marks_over_hits(page, url, pdf.id, 3, "quercus")

    # A page number in the banner opens that page; the word sits where it was drawn.
    page.go_back()
    page.go_back()
    expect(page.locator(".banner")).to_be_visible()
    page.locator(".banner a", has_text="label.png").click()
    expect(page).to_have_url(re.compile(rf"/attachments/{label.id}\?page=1&q=quercus"))
    [(left, top, right, bottom)] = assert_marks_over_hits(page, url, label.id, 1, "quercus")
    # text_image draws from (40, 40) with 32 px type: "Quercus" is the first word there.
    assert abs(left - 40) <= 6 and abs(top - 40) <= 14 and 90 < right - left < 160, \
        (left, top, right, bottom)


# -- 2. the record page, and OCR again with another engine ------------------------------------

def test_record_page_shows_pages_and_ocr_again_replaces_them(
        library: Library, text_image: Callable[..., Path], serve: Callable[..., str],
        page: Page) -> None:
    record = library.add([text_image("label.png", ["Quercus robur"]),
                          text_image("note.png", ["Collected in 1921"])], title="Oak")
    assert library.scan().pages_done == 2
    label, note = record.attachments
    url = serve(library.path, background=False)

    page.goto(f"{url}/records/{record.id}")
    expect(page.locator("#record-title")).to_have_text("Oak")
    for attachment, words in ((label, "Quercus robur"), (note, "Collected in 1921")):
        box = page.locator(f"#attachment-{attachment.id}")
        wait_for_image(page, f"#attachment-{attachment.id} .thumb img")
        expect(box.locator("h3")).to_have_text(attachment.name)
        expect(box.locator(".state")).to_have_text("done")
        expect(box.locator(".run")).to_contain_text("tesseract")
        expect(box.locator(".run")).to_contain_text("eng")
        expect(box.locator("summary")).to_contain_text("Page 1")
        expect(box.locator("details pre")).to_be_visible()  # one page: shown open
        expect(box.locator("details pre")).to_contain_text(words)
    screenshot(page, "3-record")

    page.locator("#ocr-form select[name=engine]").select_option("slow")
    run_again = page.get_by_role("button", name="Run OCR again")
    html = first_render(page, "?job=", run_again.click)
    # The page first shows the job in progress, then app.js reloads it with the outcome.
    assert 'id="job-progress"' in html and "OCR record" in html, html
    expect(page.locator("#job-result")).to_contain_text(re.compile(r"Done: 2 pages OCR'd in"))
    expect(page.locator("#job h2")).to_have_text(f"OCR record {record.id} with slow")
    for attachment in (label, note):
        box = page.locator(f"#attachment-{attachment.id}")
        expect(box.locator(".run")).to_contain_text("slow 1.0")
        expect(box.locator("details pre")).to_contain_text("slowtext")
    screenshot(page, "4-record-ocr-again")


# -- 3. the toolbox's batch form ----------------------------------------------------------------

def test_toolbox_batch_ocrs_the_chosen_number_of_records_in_a_status(
        library: Library, text_image: Callable[..., Path], serve: Callable[..., str],
        page: Page) -> None:
    library.set_setting("engine", "slow")  # quick, and slow enough to see the progress box
    for i, status in enumerate(["Stage 1"] * 3 + ["Stage 2"] * 2):
        record = library.add([text_image(f"s{i}.png", [f"Specimen {i}"])])
        library.set_specimen(record.id, catalog_number=f"H-{i}", processing_status=status,
                             collection="herb")
    url = serve(library.path, background=False)  # nothing OCR'd but by the batch

    page.goto(url + "/toolbox")
    assert row_cells(page, "#counts", "Stage 1") == ["Stage 1", "3", "3", "0", "0", "3"]
    assert row_cells(page, "#counts", "Stage 2") == ["Stage 2", "2", "2", "0", "0", "2"]
    page.locator("#batch-form select[name=status]").select_option("Stage 1")
    page.locator("#batch-form input[name=limit]").fill("2")
    start = page.get_by_role("button", name="Start batch")
    html = first_render(page, "/toolbox?job=", start.click)
    assert 'id="job-progress"' in html and "batch: 2 records in status" in html, html
    expect(page.locator("#job-result")).to_contain_text(
        re.compile(r"Done: 2 records, 2 images, 2 pages OCR'd in [\d.]+ s\."))
    expect(page.locator("#job .error")).to_have_count(0)
    assert row_cells(page, "#counts", "Stage 1") == ["Stage 1", "3", "3", "2", "0", "1"]
    assert row_cells(page, "#counts", "Stage 2") == ["Stage 2", "2", "2", "0", "0", "2"]
    screenshot(page, "5-toolbox-batch")
    with Library.open(library.path) as lib:
        assert lib.status()["attachments"]["done"] == 2


# -- 4. the toolbox's import of OCR made elsewhere ----------------------------------------------

def test_toolbox_import_reports_every_file_and_dry_run_writes_nothing(
        library: Library, text_image: Callable[..., Path], tmp_path: Path,
        serve: Callable[..., str], page: Page) -> None:
    records = {}
    for number in ("B-100", "B-101", "B-102"):
        record = library.add([text_image(f"{number}.png", [f"Sheet {number}"])])
        library.set_specimen(record.id, catalog_number=number, processing_status="Stage 1")
        records[number] = record
    upload = tmp_path / "labels.zip"
    upload.write_bytes(make_zip({
        "B-100.txt": "Zygophyllum fabago, dunes near Baku, 1890",
        "B-101_lg.txt": "Tamarix ramosissima, river bank",  # the _lg suffix: same specimen
        "B-999.txt": "No such specimen here",
        "readme.md": "not OCR text",
    }))
    url = serve(library.path, background=False)

    def import_zip(dry_run: bool) -> None:
        form = page.locator("#import-form")
        form.locator("input[name=file]").set_input_files(upload)
        form.locator("input[name=dry_run]").set_checked(dry_run)
        form.get_by_role("button", name="Import").click()
        expect(page.locator("#import-report")).to_be_visible()

    page.goto(url + "/toolbox")
    import_zip(dry_run=True)
    expect(page.locator("#import-report h2")).to_contain_text("dry run: nothing was written")
    expect(page.locator("#import-summary")).to_contain_text(
        "labels.zip: 2 of 4 files would be linked")
    expected = {"B-100.txt": ("linked", "B-100", records["B-100"].id),
                "B-101_lg.txt": ("linked", "B-101", records["B-101"].id),
                "B-999.txt": ("no_record", "B-999", None),
                "readme.md": ("not_txt", "", None)}
    rows = page.locator("#import-report table.files tbody tr")
    expect(rows).to_have_count(len(expected))
    for name, (status, number, record_id) in expected.items():
        cells = row_cells(page, "#import-report table.files", name)
        assert cells[1:4] == [status, number, str(record_id or "")], cells
    assert "no record" in row_cells(page, "#import-report table.files", "B-999.txt")[4]
    with Library.open(library.path) as lib:
        for record in records.values():
            assert lib.ocr_text(record.attachments[0].id)["pages"] == []
        assert lib.search("zygophyllum").total == 0

    import_zip(dry_run=False)
    expect(page.locator("#import-report h2")).not_to_contain_text("dry run")
    expect(page.locator("#import-summary")).to_contain_text("labels.zip: 2 of 4 files linked")
    assert row_cells(page, "#import-report table.files", "B-999.txt")[1] == "no_record"
    screenshot(page, "6-toolbox-import-report")

    page.get_by_role("link", name="Search", exact=True).click()
    page.get_by_role("searchbox", name="Search").fill("Zygophyllum")
    page.get_by_role("searchbox", name="Search").press("Enter")
    results = page.locator("li.result")
    expect(results).to_have_count(1)
    expect(results.locator("a.title")).to_have_text(records["B-100"].title)
    expect(results).to_contain_text("Zygophyllum fabago")
    results.locator("a.title").click()
    expect(page.locator(".run")).to_contain_text("imported text")
    expect(page.locator("details pre")).to_contain_text("Zygophyllum fabago, dunes near Baku")


# -- 5. settings, and clearing the language data cache -------------------------------------------

def test_settings_save_refuse_bad_values_and_refetch_language_data(
        library: Library, server: LangServer, serve: Callable[..., str], page: Page) -> None:
    put(server.folder, "eng")
    put(server.folder, "xyz")  # a language only this server has
    url = serve(library.path)  # background on (nothing to OCR): it is what turns "off"
    toml = library.path / "textlens.toml"

    page.goto(url + "/settings")
    form = page.locator("#settings-form")
    expect(form.locator("input[name=ocr]")).to_be_checked()
    form.locator("input[name=languages]").fill("eng+../x")
    before = toml.read_bytes()
    form.get_by_role("button", name="Save").click()
    expect(page.locator("#settings-error")).to_contain_text("eng+../x")
    expect(page.locator("#saved")).to_have_count(0)
    assert toml.read_bytes() == before  # nothing written, not even the other fields

    page.goto(url + "/settings")
    form.locator("input[name=languages]").fill("eng+xyz")
    form.locator("input[name=langdata]").fill(server.url)
    form.locator("input[name=workers]").fill("1")
    form.locator("input[name=ocr]").uncheck()
    form.get_by_role("button", name="Save").click()
    expect(page).to_have_url(re.compile(r"/settings\?saved=true"))
    expect(page.locator("#saved")).to_have_text("Settings saved.")
    with Library.open(library.path) as lib:
        settings = lib.settings
    assert (settings.languages, settings.langdata, settings.workers, settings.ocr) == \
        ("eng+xyz", server.url, 1, False)
    # The page shows what was saved, and the scanner bar that background OCR is off.
    expect(form.locator("input[name=languages]")).to_have_value("eng+xyz")
    expect(form.locator("input[name=workers]")).to_have_value("1")
    expect(form.locator("input[name=ocr]")).not_to_be_checked()
    expect(page.locator("#scanner-text")).to_contain_text("Background OCR is off")

    with Library.open(library.path) as lib:  # something in the cache to clear
        assert [r["status"] for r in lib.fetch_languages(["eng", "xyz"])] == ["fetched"] * 2
    asked = len(server.requests)
    clear = page.get_by_role("button", name="Clear cache and download again")
    page.once("dialog", lambda dialog: dialog.dismiss())  # "Cancel": nothing happens
    clear.click()
    expect(page.locator("#job")).to_have_count(0)
    expect(page).to_have_url(re.compile(r"/settings\?saved=true$"))

    page.once("dialog", lambda dialog: dialog.accept())
    clear.click()
    result = page.locator("#job-result")
    expect(result).to_contain_text(re.compile(r"Removed [1-9]\d* files? \([\d.]+ MB\) from"))
    job = page.locator("#job")
    expect(job).to_contain_text("eng: fetched (cache)")
    expect(job).to_contain_text("xyz: fetched (cache)")
    assert len(server.requests) > asked  # downloaded again, from the configured server
    expect(page.locator("#langs")).to_contain_text("xyz")
    screenshot(page, "7-settings")


# -- 6. the background OCR bar ------------------------------------------------------------------

def test_scanner_bar_shows_progress_and_pauses_and_resumes(
        library: Library, text_image: Callable[..., Path], serve: Callable[..., str],
        page: Page) -> None:
    library.set_setting("engine", "slow")  # 0.5 s a page: a few seconds of work in all
    files = [text_image(f"p{i}.png", [f"Page {i}"]) for i in range(24)]
    library.add(files, title="Many pages")
    url = serve(library.path)  # background scanning on

    page.goto(url + "/")
    bar = page.locator("#scanner")
    text = page.locator("#scanner-text")
    toggle = page.locator("#scanner-toggle")
    expect(text).to_contain_text(re.compile(r"OCR running: \d+ of \d+ pages"))
    expect(page.locator("#scanner-progress")).to_be_visible()
    expect(toggle).to_have_text("Pause OCR")

    toggle.click()
    expect(toggle).to_have_text("Resume OCR")
    expect(text).to_contain_text("OCR paused")
    expect(bar).to_have_attribute("data-state", "paused")
    expect(page.locator("#scanner-progress")).to_be_hidden()
    to_do = int(re.search(r"(\d+) to do", text.inner_text()).group(1))  # type: ignore[union-attr]
    assert to_do > 0, "paused only after the work was done"
    screenshot(page, "8-scanner-paused")

    toggle.click()
    expect(toggle).to_have_text("Pause OCR")
    expect(text).to_contain_text("OCR idle · files: 24 done, 0 to do")
    expect(bar).to_have_attribute("data-state", "idle")
    with Library.open(library.path) as lib:
        assert lib.status()["attachments"]["done"] == 24


# -- 7. signing in with the access token ----------------------------------------------------------

def test_sign_in_with_the_token_lands_on_the_page_asked_for(
        library: Library, serve: Callable[..., str], page: Page) -> None:
    url = serve(library.path, token="t0ken", background=False)

    page.goto(url + "/")
    expect(page).to_have_url(re.compile(r"/login\?next=(/|%2F)$"))
    page.goto(url + "/toolbox?collection=herb")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    expect(page.locator("h1")).to_have_text("Sign in")
    expect(page.locator("#scanner")).to_have_count(0)  # nothing of the library before
    password = page.get_by_label("Access token")

    password.fill("wrong")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("main .error")).to_have_text("That is not the token. Try again.")
    expect(page).to_have_url(re.compile(r"/login\?failed=true&next="))
    screenshot(page, "9-login-failed")

    password.fill("t0ken")
    with page.expect_response(lambda r: r.url.endswith("/api/scanner")) as polled:
        page.get_by_role("button", name="Sign in").click()
        expect(page).to_have_url(f"{url}/toolbox?collection=herb")
    expect(page.locator("h1")).to_have_text("OCR toolbox")
    expect(page.locator("input[name=collection]").first).to_have_value("herb")
    assert polled.value.status == 200  # app.js's API calls carry the session too
    # Signed in for the next visit too: the session cookie, kept from scripts.
    [session] = [c for c in page.context.cookies(url) if c["name"] == "textlens_session"]
    assert session["httpOnly"] and session["value"] != "t0ken"
    page.goto(url + "/settings")
    expect(page.locator("h1")).to_have_text("Settings")



# -- the CSRF field of every form ----------------------------------------------------------------

def test_every_form_carries_the_csrf_token(
        library: Library, text_image: Callable[..., Path], serve: Callable[..., str],
        page: Page) -> None:
    record = library.add([text_image("a.png", ["Alpha"])])
    url = serve(library.path, background=False)
    page.goto(url + "/")
    [cookie] = [c["value"] for c in page.context.cookies(url) if c["name"] == "textlens_csrf"]
    missing = []
    for path in ("/", f"/records/{record.id}", "/toolbox", "/settings"):
        page.goto(url + path)
        for form in page.locator("form[method=post]").all():
            fields = form.locator("input[name=csrf_token]")
            if fields.count() != 1 or fields.input_value() != cookie:
                missing.append(f"{path} {form.get_attribute('action')}")
    assert not missing, f"forms without the CSRF token: {missing}"
