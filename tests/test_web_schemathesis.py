"""Schemathesis over the app's OpenAPI schema, in-process: no operation may answer 5xx.

One app over one library for the whole module (a record with an OCR'd attachment, so ids 1
find something); a small, derandomized example budget per operation keeps it quick."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi

from textlens import Library
from textlens.samples import render_text_image
from textlens.web import create_app

from .conftest import new_test_library
from .webclient import BASE_URL

EXAMPLES = 15  # per operation and mode


@pytest.fixture(scope="module")
def web_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[schemathesis.BaseSchema]:
    folder = tmp_path_factory.mktemp("schemathesis")
    lib = new_test_library(folder / "lib")
    # Language data from an (empty) local folder, never the network: jobs a generated request
    # starts (fetch, clear-cache, OCR in other languages) then end at once.
    (folder / "langdata").mkdir()
    lib.set_settings({"langdata": str(folder / "langdata"), "langdata_timeout": 1})
    image = folder / "label.png"
    render_text_image(["walrus invoice"], font_size=36).save(image)
    record = lib.add([image], title="walrus")
    lib.set_specimen(record.id, catalog_number="B-1", processing_status="stage 1")
    assert lib.scan().pages_done == 1
    lib.close()
    # No rate limit: the run sends far more than a person would in a minute.
    app = create_app(folder / "lib", background=False, rate_limit=0)
    # Without a token the app answers loopback Host names only; the transport's default is
    # "testserver".
    yield schemathesis.openapi.from_asgi("/openapi.json", app, headers={"Host": "127.0.0.1"})
    asgi.shutdown_lifespans()  # the app's OCR thread, started by the first request


MODES = pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
                                ids=["valid", "invalid"])


def examples(strategy: Any, codes: Counter[int]) -> Callable[[], None]:
    """A Hypothesis test sending the cases of ``strategy``, counting their statuses."""

    @given(case=strategy)
    @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck), phases=[Phase.generate])
    def run(case: schemathesis.Case) -> None:
        response = case.call_and_validate(base_url=BASE_URL, checks=[not_a_server_error])
        codes[response.status_code] += 1

    return run  # type: ignore[no-any-return]


def fuzz(web_schema: schemathesis.BaseSchema, mode: GenerationMode) -> dict[str, Counter[int]]:
    """Run every operation; fail with every 5xx found. The statuses seen, per operation."""
    seen: dict[str, Counter[int]] = {}
    errors: list[str] = []
    for result in web_schema.get_all_operations():
        operation = result.ok()
        codes = seen.setdefault(operation.label, Counter())

        run = examples(operation.as_strategy(generation_mode=mode), codes)
        try:
            run()
        except Unsatisfiable:
            assert mode is GenerationMode.NEGATIVE, operation.label  # nothing to make invalid
        except Exception as e:  # noqa: BLE001 - collect every operation's failure, then fail
            errors.append(f"{operation.label}: {e}")
    assert not errors, "\n\n".join(errors)
    # Refused by the guard, the run would have tested nothing past it.
    refused = {label: codes for label, codes in seen.items() if {401, 421, 429} & set(codes)}
    assert not refused, refused
    return seen


@MODES
def test_no_operation_answers_a_server_error(web_schema: schemathesis.BaseSchema,
                                             mode: GenerationMode) -> None:
    # One loop over the operations rather than `schema.parametrize()`: its lazy fixture loader
    # does not work with this pytest, and one loop can check the run as a whole.
    seen = fuzz(web_schema, mode)
    assert len(seen) >= 25, seen
    # Operations without parameters have no invalid input: those alone may send nothing.
    assert sum(1 for codes in seen.values() if codes) >= len(seen) // 2, seen
    succeeded = {label for label, codes in seen.items() if any(200 <= c < 300 for c in codes)}
    if mode is GenerationMode.POSITIVE:
        # (Ids are drawn at random, and a generated DELETE may remove record 1.)
        for label in ("GET /api/records", "POST /api/records", "GET /api/search",
                      "GET /api/status", "PATCH /api/settings", "GET /api/ocr-results"):
            assert label in succeeded, f"{label} never succeeded: {seen.get(label)}"
        assert len(succeeded) >= len(seen) // 2, seen


@pytest.mark.parametrize("route", ["/api/records/999/ocr", "/api/attachments/999/ocr"])
def test_ocr_again_with_an_unknown_engine_is_4xx(library: Library, route: str) -> None:
    # Found by the fuzzing above (an unknown engine name was answered 503).
    app = create_app(library.path, background=False)
    with TestClient(app, base_url=BASE_URL, raise_server_exceptions=False) as client:
        assert 400 <= client.post(route, json={"engine": "\u00a7"}).status_code < 500


@pytest.mark.parametrize("path", ["/api/records/9223372036854775808",
                                  "/api/attachments/9223372036854775808",
                                  "/api/records?offset=9223372036854775808"])
def test_ids_past_sqlite_range_are_refused(library: Library, path: str) -> None:
    # Found by the fuzzing above (SQLite's OverflowError was a 500); such an id names nothing.
    app = create_app(library.path, background=False)
    with TestClient(app, base_url=BASE_URL, raise_server_exceptions=False) as client:
        response = client.get(path)
        assert response.status_code == 422
        assert "less than or equal" in response.json()["error"]


def test_the_schema_lists_the_api(web_schema: schemathesis.BaseSchema) -> None:
    labels = {result.ok().label for result in web_schema.get_all_operations()}
    assert {"POST /api/records", "POST /api/batch", "PATCH /api/settings",
            "GET /api/attachments/{attachment_id}/pages/{page}/hits"} <= labels
