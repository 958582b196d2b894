"""Settings routes of the REST API: the library's settings, its engines and language data."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from ..engines import registry
from ..library import Library
from ..settings import check_languages, split_languages
from .api import Lib, Service
from .ocr_service import Job, OcrService

router = APIRouter(prefix="/api")

SECRET_SETTINGS = ("remote_token",)  # shown as set or not, never echoed


class RefetchRequest(BaseModel):
    refetch: bool = Field(default=True,
                          description="Download the languages this library uses again.")


class FetchRequest(BaseModel):
    languages: str = Field(description="Codes joined by '+', e.g. eng+fra", min_length=1,
                           max_length=500)


def settings_view(lib: Library) -> dict[str, Any]:
    table = lib.settings_table()
    for name in SECRET_SETTINGS:
        table[name]["value"] = "" if not table[name]["value"] else "(set)"
    overridden = [name for name, row in table.items() if row["source"].startswith("TEXTLENS_")]
    return {"library": str(lib.path), "settings": table, "overridden": overridden}


@router.get("/settings", summary="Every setting: value, source, default and help")
def get_settings(lib: Lib) -> dict[str, Any]:
    return settings_view(lib)


@router.patch("/settings", summary="Change settings (written to the library's textlens.toml; "
                                   "all are checked before any is written)")
def patch_settings(lib: Lib, service: Service, values: Annotated[dict[str, Any], Body(
        examples=[{"ocr": True, "languages": "eng+fra", "workers": 2}])]) -> dict[str, Any]:
    lib.set_settings(values)
    service.wake()  # OCR turned on, or other languages: look for work now
    return settings_view(lib)


@router.get("/engines", summary="The OCR engines this server knows, and whether each can run")
def engines(lib: Lib) -> list[dict[str, Any]]:
    return registry.describe(lib.settings.plugins)


@router.get("/langs", summary="Language data: what is here, where it comes from, what is missing")
def langs(lib: Lib) -> dict[str, Any]:
    return lib.language_data()


@router.post("/langs/clear-cache", status_code=202, response_model=None,
             summary="Delete downloaded language data, and download it again (a job)")
def clear_cache(service: Service, body: RefetchRequest | None = None) -> JSONResponse:
    return accepted(start_clear_cache(service, (body or RefetchRequest()).refetch))


@router.post("/langs/fetch", status_code=202, response_model=None,
             summary="Download these languages now if they are not here (a job)")
def fetch(body: FetchRequest, service: Service) -> JSONResponse:
    check_languages(body.languages)
    languages = split_languages(body.languages)
    return accepted(service.submit(
        "langdata", f"get language data: {'+'.join(languages)}",
        lambda lib, control: {"languages": lib.fetch_languages(
            languages, on_progress=lambda _lang, got, size: control.progress(got, size or 0))}))


def start_clear_cache(service: OcrService, refetch: bool) -> Job:
    label = "clear language data cache" + (" and download again" if refetch else "")
    return service.submit("langdata", label,
                          lambda lib, control: lib.clear_language_cache(
                              refetch=refetch, on_progress=lambda _lang, got, size:
                              control.progress(got, size or 0)))


def accepted(job: Job) -> JSONResponse:
    return JSONResponse(job.to_dict(), status_code=202,
                        headers={"Location": f"/api/jobs/{job.id}"})
