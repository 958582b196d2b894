"""Search latency over 100,000 synthetic OCR'd pages (~2,300 characters each).

Every query shape (frequent word, rare word, two words, phrase, prefix, fuzzy) asks for its first
20 results with snippets and word boxes. Goal: p95 under 30 ms for every shape. The library is
built once and kept in the bench folder (delete it to rebuild).
"""

from __future__ import annotations

import random
import sys
import time

from common import WORK, say, summary
from synthetic import COMMON, PHRASES, build, vocabulary

from textlens import Library

RECORDS, PAGES = 25_000, 4
RUNS = 40


def shapes(rng: random.Random) -> dict[str, list[str]]:
    vocab = vocabulary(60_000, random.Random(7))  # the same vocabulary the builder used
    mid = vocab[200:3000]
    rare = vocab[20_000:60_000]

    def typo(word: str) -> str:
        i = rng.randrange(len(word))
        return word[:i] + ("x" if word[i] != "x" else "y") + word[i + 1:]

    return {
        "frequent word": [rng.choice(COMMON[:20]) for _ in range(RUNS)],
        "rare word": [rng.choice(rare) for _ in range(RUNS)],
        "two words": [f"{rng.choice(mid)} {rng.choice(mid)}" for _ in range(RUNS)],
        "phrase": [f'"{rng.choice(PHRASES)}"' for _ in range(RUNS)],
        "prefix": [rng.choice(mid)[:3] + "*" for _ in range(RUNS)],
        "fuzzy": [typo(rng.choice([w for w in mid if len(w) >= 5])) for _ in range(RUNS)],
    }


def main() -> int:
    path = WORK / "search-100k"
    if not (path / "library.db").exists():
        say(f"search benchmark: building {RECORDS * PAGES:,} synthetic pages (once)...")
        started = time.perf_counter()
        build(path, records=RECORDS, pages_per_record=PAGES).close()
        say(f"  built in {time.perf_counter() - started:.0f} s")
    lib = Library.open(path)
    pages = lib.conn.execute("SELECT COUNT(*) FROM ocr_pages").fetchone()[0]
    index_mb = sum(f.stat().st_size for f in lib.index.path.iterdir()) / 1e6
    say(f"search benchmark: {pages:,} pages, index {index_mb:.0f} MB, first 20 results with "
        "snippets and boxes")
    rng = random.Random(11)
    worst = 0.0
    for shape, queries in shapes(rng).items():
        fuzzy = shape == "fuzzy"
        lib.search(queries[0], fuzzy=fuzzy)  # warm
        timings, hits = [], 0
        for q in queries:
            started = time.perf_counter()
            results = lib.search(q, limit=20, fuzzy=fuzzy)
            timings.append((time.perf_counter() - started) * 1000)
            hits += results.total
        p95 = sorted(timings)[int(0.95 * (len(timings) - 1))]
        worst = max(worst, p95)
        say(f"  {shape:14} ms: {summary(timings)}   (avg {hits / len(queries):,.0f} records)")
    say(f"  worst p95: {worst:.1f} ms (goal < 30 ms: {'met' if worst < 30 else 'MISSED'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
