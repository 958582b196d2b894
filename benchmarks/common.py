"""Helpers shared by the benchmarks: where the corpus is, timing, printing."""

from __future__ import annotations

import os
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CORPUS = Path(os.environ.get("TEXTLENS_CORPUS", REPO.parent / "shared" / "corpus"))
WORK = Path(os.environ.get("TEXTLENS_BENCH_DIR", "/tmp/textlens-bench"))


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def summary(values: list[float]) -> str:
    return (f"p50 {percentile(values, 50):.2f}  p95 {percentile(values, 95):.2f}  "
            f"max {max(values):.2f}  mean {statistics.fmean(values):.2f}")


def say(*parts: object) -> None:
    print(*parts, flush=True)


def textlens_cli() -> str:
    return str(Path(sys.executable).parent / "textlens")
