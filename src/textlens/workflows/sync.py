"""Sync: move OCR results between libraries without redoing them.

``export_ocr`` writes every complete OCR run as JSON Lines, one run a line::

    {"format": "textlens-ocr/1", "sha256", "source", "engine", "engine_version", "model",
     "languages", "params", "created", "pages": [{"page", "width", "height", "rotation",
     "method", "text", "confidence", "extra_text",
     "words": [{"text", "box": [x0, y0, x1, y1], "confidence"}]}]}

``import_bundle`` loads such a file: a run for bytes this library holds becomes their current
result (done, searchable, no OCR); a run for bytes it does not hold yet is kept, and adopted when
a file with those bytes is added (see store/sync.py). A bad line is reported with its number and
why, and the other lines still load.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import NotFoundError
from ..store import sync as store
from ..store import transaction
from ..types import Word

if TYPE_CHECKING:
    from ..library import Library

FORMAT = "textlens-ocr/1"
_SOURCES = ("engine", "text-layer", "import")


def _run_line(conn: Any, row: Any) -> tuple[str, int]:
    params = json.loads(row["params"]) if row["params"] else None
    pages = [{
        "page": p.page, "width": p.width, "height": p.height, "rotation": p.rotation,
        "method": p.method, "text": p.text, "confidence": p.confidence,
        "extra_text": p.extra_text,
        "words": [{"text": w.text, "box": list(w.box), "confidence": w.confidence}
                  for w in p.words],
    } for p in store.pages_of(conn, row["id"])]
    return json.dumps({
        "format": FORMAT, "sha256": row["sha256"], "source": row["source"],
        "engine": row["engine"], "engine_version": row["engine_version"],
        "model": row["model"], "languages": row["languages"], "params": params,
        "created": row["created"], "pages": pages,
    }, ensure_ascii=False), len(pages)


def bundle_lines(lib: Library, since: float | None = None) -> Iterator[tuple[str, int]]:
    """Each complete run created at or after ``since`` as a bundle line, with its page count
    (what `export-ocr` writes and `GET /api/ocr-results` serves)."""
    for row in store.complete_runs(lib.conn, since):
        yield _run_line(lib.conn, row)


def export_ocr(lib: Library, path: Path | str, since: float | None = None) -> dict[str, Any]:
    """Write every complete run (created at or after ``since``) to ``path`` (``-``: stdout),
    atomically; return ``{"runs", "pages", "path"}``."""
    runs = pages = 0
    lines = []
    for line, n in bundle_lines(lib, since):
        runs += 1
        pages += n
        lines.append(line)
    data = "".join(line + "\n" for line in lines)
    if str(path) == "-":
        sys.stdout.write(data)
        sys.stdout.flush()
    else:
        target = Path(path).expanduser()
        if not target.parent.is_dir():
            raise NotFoundError(f"{target.parent} is not a folder; cannot write {target.name}")
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.",
                                   suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return {"runs": runs, "pages": pages, "path": str(path)}


class BadLine(ValueError):
    pass


def _need(d: dict[str, Any], key: str, kinds: tuple[type, ...], where: str = "",
          optional: bool = False) -> Any:
    if key not in d:
        if optional:
            return None
        raise BadLine(f"missing field {where}{key!r}")
    value = d[key]
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, kinds):
        names = " or ".join(k.__name__ for k in kinds)
        raise BadLine(f"field {where}{key!r} must be {names}")
    return value


def parse_line(text: str) -> store.BundleRun:
    """One bundle line as a run; BadLine says why it is not one."""
    try:
        d = json.loads(text)
    except ValueError as e:
        raise BadLine(f"not JSON: {e}") from None
    if not isinstance(d, dict):
        raise BadLine("not a JSON object")
    if d.get("format") != FORMAT:
        raise BadLine(f"format must be {FORMAT!r}, not {d.get('format')!r}")
    sha = _need(d, "sha256", (str,)).lower()
    if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
        raise BadLine("sha256 must be 64 hex digits")
    source = _need(d, "source", (str,))
    if source not in _SOURCES:
        raise BadLine(f"source must be one of {', '.join(_SOURCES)}")
    params = d.get("params")
    if params is not None and not isinstance(params, dict):
        raise BadLine("field 'params' must be an object")
    run = store.BundleRun(
        sha256=sha, source=source,
        engine=_need(d, "engine", (str,), optional=True),
        engine_version=_need(d, "engine_version", (str,), optional=True),
        model=_need(d, "model", (str,), optional=True),
        languages=_need(d, "languages", (str,), optional=True),
        params=store.params_text(params),
        created=float(_need(d, "created", (int, float))),
    )
    pages = _need(d, "pages", (list,))
    if not pages:
        raise BadLine("a run needs at least one page")
    seen: set[int] = set()
    for i, p in enumerate(pages, start=1):
        where = f"pages[{i}]."
        if not isinstance(p, dict):
            raise BadLine(f"pages[{i}] is not an object")
        number = _need(p, "page", (int,), where)
        if number < 1 or number in seen:
            raise BadLine(f"{where}page must be a distinct number from 1")
        seen.add(number)
        words = []
        for j, w in enumerate(_need(p, "words", (list,), where), start=1):
            wwhere = f"{where}words[{j}]."
            if not isinstance(w, dict):
                raise BadLine(f"{where}words[{j}] is not an object")
            box = _need(w, "box", (list,), wwhere)
            if (len(box) != 4 or any(isinstance(v, bool) or not isinstance(v, int) for v in box)
                    or box[0] > box[2] or box[1] > box[3] or min(box) < 0
                    or max(box) > 0x7FFFFFFF):
                raise BadLine(f"bad box in {wwhere[:-1]}: {box!r} (want [x0, y0, x1, y1],"
                              " non-negative integers, x0<=x1, y0<=y1)")
            conf = _need(w, "confidence", (int, float), wwhere)
            if not 0 <= conf <= 1000:
                raise BadLine(f"{wwhere}confidence out of range")
            words.append(Word(_need(w, "text", (str,), wwhere), (box[0], box[1], box[2], box[3]),
                              float(conf)))
        confidence = _need(p, "confidence", (int, float), where, optional=True)
        run.pages.append(store.BundlePage(
            page=number,
            width=_need(p, "width", (int,), where), height=_need(p, "height", (int,), where),
            rotation=_need(p, "rotation", (int,), where, optional=True) or 0,
            method=_need(p, "method", (str,), where), text=_need(p, "text", (str,), where),
            confidence=None if confidence is None else float(confidence),
            extra_text=_need(p, "extra_text", (str,), where, optional=True) or "",
            words=words))
    return run


def import_bundle(lib: Library, path: Path | str) -> dict[str, Any]:
    """Load a bundle (see the module docstring); return the report."""
    report: dict[str, Any] = {"runs": 0, "applied": 0, "kept_for_later": 0,
                              "skipped_identical": 0, "problems": []}
    runs: list[store.BundleRun] = []
    source = Path(path).expanduser()
    if not source.is_file():
        raise NotFoundError(f"{source} is not a file; give a bundle written by export-ocr")
    with open(source, encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                runs.append(parse_line(line))
            except BadLine as e:
                report["problems"].append({"line": number, "reason": str(e)})
    report["runs"] = len(runs)
    with lib._store_lock(), transaction(lib.conn):
        for run in runs:
            state = store.content_state(lib.conn, run.sha256)
            run_id = store.identical_run(lib.conn, run)
            if run_id is not None:
                report["skipped_identical"] += 1
                if state not in (None, "done", "skipped"):
                    store.make_current(lib.conn, run.sha256, run_id)
                continue
            run_id = store.insert_run(lib.conn, run)
            if state is None:
                report["kept_for_later"] += 1
            else:
                store.make_current(lib.conn, run.sha256, run_id)
                report["applied"] += 1
    lib.index.catch_up(lib.conn)
    return report
