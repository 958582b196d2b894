"""Rescan of 10,000 unchanged attachments (linked files, so every one is checked on disk).

Goal: under 2 seconds for `textlens scan` when nothing changed.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time

from common import WORK, say, textlens_cli
from synthetic import build

COUNT = 10_000


def main() -> int:
    root = WORK / "rescan"
    shutil.rmtree(root, ignore_errors=True)
    (root / "files").mkdir(parents=True)
    say(f"rescan benchmark: building a library of {COUNT:,} done attachments (linked files)...")
    lib = build(root / "library", records=COUNT, pages_per_record=1, files_dir=root / "files",
                vocab_size=5_000)
    lib.close()
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        subprocess.run([textlens_cli(), "-L", str(root / "library"), "scan", "--json"],
                       check=True, stdout=subprocess.DEVNULL)
        timings.append(time.perf_counter() - started)
    say(f"  `textlens scan` with nothing to do, {COUNT:,} linked attachments: "
        f"best {min(timings):.2f} s, worst {max(timings):.2f} s (process start included; "
        f"goal < 2 s: {'met' if max(timings) < 2 else 'MISSED'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
