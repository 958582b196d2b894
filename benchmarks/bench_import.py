"""Importing specimen records: 100,000 CSV rows (one in 1,000 with an image) into a new library.

Goal: the import, index catch-up included, in under 30 seconds. A second import of the same file
with every status changed measures the update path.
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

from common import WORK, say

from textlens import Library
from textlens.samples import render_text_image

ROWS = 100_000
STATUSES = ["unprocessed", "stage 1", "stage 2", "stage 3", "reviewed"]


def write_csv(folder: Path, status_shift: int) -> None:
    lines = ["catalogNumber,processingStatus,image"]
    for i in range(ROWS):
        image = f"images/{i % 10}.png" if i % 1000 == 0 else ""
        lines.append(f"BENCH-{i:07d},{STATUSES[(i + status_shift) % len(STATUSES)]},{image}")
    (folder / "records.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> int:
    folder = WORK / "import-100k"
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "images").mkdir(parents=True)
    for i in range(10):
        render_text_image([f"BENCH label {i}"]).save(folder / "images" / f"{i}.png")
    write_csv(folder, 0)
    lib = Library.init(folder / "library")
    started = time.perf_counter()
    report = lib.import_records(folder / "records.csv", collection="BENCH")
    first = time.perf_counter() - started
    say(f"import of {ROWS:,} rows: {first:.1f} s ({ROWS / first:,.0f} rows/s), "
        f"{report.created:,} created, {report.attachments_added} images attached, "
        f"{len(report.problems)} problems")
    hits = lib.search("BENCH-0099999").results
    say(f"  search finds the last record: {bool(hits)}; "
        f"outbox left: {lib.conn.execute('SELECT COUNT(*) FROM index_outbox').fetchone()[0]}")
    write_csv(folder, 1)
    started = time.perf_counter()
    report = lib.import_records(folder / "records.csv", collection="BENCH")
    second = time.perf_counter() - started
    say(f"re-import with every status changed: {second:.1f} s ({ROWS / second:,.0f} rows/s), "
        f"{report.updated:,} updated, {report.created} created")
    lib.close()
    ok = first < 30 and second < 30 and bool(hits)
    say(f"goal (100,000 rows in under 30 s): {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
