"""`textlens eval`: OCR a folder of documents with ground truth and score the result.

Documents go through the real pipeline (a throw-away library with the caller's settings), so
the figures are what a user of those settings gets, including PDF text layers and EXIF rotation.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import metrics
from ..errors import NotFoundError
from ..library import Library
from ..settings import Settings

DOC_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif", ".webp", ".pnm",
                ".pbm", ".pgm", ".ppm", ".pdf")
GT_SUFFIX = ".gt.txt"


def find_documents(folder: Path) -> tuple[dict[str, list[tuple[Path, str]]], list[dict]]:
    """``{set name: [(document, ground truth text)]}`` and the pairs that cannot be scored;
    a set is a folder directly holding pairs."""
    root = folder.expanduser().resolve()
    if not root.is_dir():
        raise NotFoundError(f"{root} is not a folder")
    sets: dict[str, list[tuple[Path, str]]] = {}
    unusable: list[dict] = []
    for gt in sorted(root.rglob(f"*{GT_SUFFIX}")):
        stem = gt.name[: -len(GT_SUFFIX)]
        doc = next((gt.with_name(stem + s) for s in DOC_SUFFIXES
                    if gt.with_name(stem + s).is_file()), None)
        if doc is None:
            continue
        try:
            reference = gt.read_text(encoding="utf-8-sig")
        except (UnicodeDecodeError, OSError) as e:
            unusable.append({"file": str(gt.relative_to(root)),
                             "reason": f"ground truth is not readable UTF-8 text ({e})"})
            continue
        name = str(gt.parent.relative_to(root)) if gt.parent != root else root.name
        sets.setdefault(name, []).append((doc, reference))
    if not sets:
        raise NotFoundError(
            f"no <id>.<image|pdf> files with a readable <id>{GT_SUFFIX} beside them under {root}"
        )
    return sets, unusable


def evaluate(
    folder: Path, settings: Settings, progress: Callable[[], Any] | None = None
) -> dict[str, Any]:
    sets, unusable = find_documents(folder)
    overrides = settings.as_dict() | {"ocr": True}
    documents: list[dict[str, Any]] = []
    timings: dict[str, tuple[int, float]] = {}
    with tempfile.TemporaryDirectory(prefix="textlens-eval-") as tmp:
        for set_name, pairs in sets.items():
            with Library.open(Path(tmp) / set_name.replace("/", "_"), overrides,
                              create=True) as lib:
                added = [(lib.add([doc], link=True), doc, gt) for doc, gt in pairs]
                started = time.perf_counter()
                report = _scan(lib, progress)
                elapsed = time.perf_counter() - started
                pages = 0
                for record, doc, reference in added:
                    attachment = record.attachments[0]
                    ocr = lib.ocr_text(attachment.id)
                    text = "\n".join(p["text"] for p in ocr["pages"])
                    # Recall is about what a search finds: the index also holds the words
                    # only another recognition pass read. CER and WER judge the shown text.
                    findable = "\n".join(f"{p['text']}\n{p['extra_text']}" for p in ocr["pages"])
                    pages += len(ocr["pages"])
                    state = lib.attachment(attachment.id)
                    documents.append({
                        "set": set_name, "file": doc.name, "pages": len(ocr["pages"]),
                        "state": state.state, "error": state.reason,
                        "cer": metrics.cer(reference, text),
                        "wer": metrics.wer(reference, text),
                        "recall": metrics.word_recall(reference, findable),
                    })
                timings[set_name] = (max(pages, report.pages_done), elapsed)
    result_sets = {name: _summary([d for d in documents if d["set"] == name], *timings[name])
                   for name in sets}
    total_pages = sum(p for p, _ in timings.values())
    total_seconds = sum(s for _, s in timings.values())
    return {
        "settings": {k: overrides[k] for k in ("engine", "languages", "model", "passes", "dpi",
                                               "workers")},
        "sets": result_sets,
        "overall": _summary(documents, total_pages, total_seconds),
        "documents": documents,
        "unusable": unusable,
    }


def _scan(lib: Library, progress: Callable[[], Any] | None):  # -> ScanReport
    if progress is None:
        return lib.scan()
    with progress() as bar:
        task = bar.add_task("ocr", total=None)
        return lib.scan(on_progress=lambda d, t: bar.update(task, completed=d, total=t))


def _summary(docs: list[dict[str, Any]], pages: int, seconds: float) -> dict[str, Any]:
    n = len(docs)

    def mean(key: str) -> float:
        return round(sum(d[key] for d in docs) / n, 4) if n else 0.0

    return {
        "n": n, "pages": pages, "cer": mean("cer"), "wer": mean("wer"),
        "recall": mean("recall"),
        "pages_per_second": round(pages / seconds, 3) if seconds else 0.0,
        "failed": sum(1 for d in docs if d["state"] != "done"),
    }


def print_report(result: dict[str, Any], console: Any) -> None:
    from rich.table import Table

    s = result["settings"]
    table = Table(title=f"engine {s['engine']}, languages {s['languages']}, model {s['model']}, "
                        f"passes {s['passes']}, dpi {s['dpi']}")
    for column in ("set", "docs", "pages", "CER", "WER", "recall", "pages/s"):
        table.add_column(column, justify="left" if column == "set" else "right")
    rows = list(result["sets"].items()) + [("overall", result["overall"])]
    for name, r in rows:
        table.add_row(name, str(r["n"]), str(r["pages"]), f"{r['cer']:.3f}", f"{r['wer']:.3f}",
                      f"{r['recall']:.3f}", f"{r['pages_per_second']:.2f}")
    console.print(table)
    for d in result["documents"]:
        if d["state"] != "done":
            console.print(f"  {d['set']}/{d['file']}: {d['state']} — {d['error']}")
    for u in result["unusable"]:
        console.print(f"  not scored: {u['file']}: {u['reason']}")
