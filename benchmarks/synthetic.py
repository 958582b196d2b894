"""Synthetic libraries for the benchmarks: many records whose pages look OCR'd already.

Pages are written through the same store functions the scanner uses (plan, page result,
finish), so the database and the index hold exactly what a real scan would leave.
"""

from __future__ import annotations

import itertools
import random
import string
from pathlib import Path

from textlens import Library
from textlens.store import records as rec
from textlens.store import transaction, work
from textlens.types import PageResult, Word

COMMON = ("the of and to in a is that for it as was with be by on not he this are or his "
          "from at which but have an they you were her she there been one all we their has "
          "would when if so what no out up more will into do about than them can only other "
          "time new some could these two may first then any like now my such make over our "
          "even most me state after also made many did must before back see through way where "
          "get much go well your know should down work year because come people just say "
          "each those take day good how long mr own too little use us very great still men "
          "here life both between old under last never place same another think house while "
          "high right might came off find states since used give against three himself look "
          "few general hand school part small american home during number again").split()
PHRASES = ("herbarium specimen", "collected by", "lichen survey", "total amount",
           "annual report", "field notes")


def vocabulary(size: int, rng: random.Random) -> list[str]:
    words = set(COMMON)
    while len(words) < size:
        n = rng.randint(4, 11)
        words.add("".join(rng.choice(string.ascii_lowercase) for _ in range(n)))
    ordered = list(COMMON) + sorted(words - set(COMMON))
    return ordered


def page_words(vocab: list[str], cum_weights: list[float], rng: random.Random,
               chars: int = 2300) -> list[str]:
    words: list[str] = []
    length = 0
    for word in rng.choices(vocab, cum_weights=cum_weights, k=chars // 3):
        if rng.random() < 0.01:
            words += rng.choice(PHRASES).split()
        words.append(word)
        length += len(word) + 1
        if length >= chars:
            break
    return words


def layout(words: list[str]) -> tuple[str, list[Word]]:
    """Lines of ~70 characters with plausible pixel boxes (as if 300 DPI)."""
    boxes: list[Word] = []
    lines: list[str] = []
    line: list[str] = []
    x, y = 100, 100
    for w in words:
        width = 22 * len(w)
        if x + width > 2450:
            lines.append(" ".join(line))
            line, x, y = [], 100, y + 50
        boxes.append(Word(w, (x, y, x + width, y + 36), 91.0))
        line.append(w)
        x += width + 20
    lines.append(" ".join(line))
    return "\n".join(lines), boxes


def build(path: Path, *, records: int, pages_per_record: int, files_dir: Path | None = None,
          seed: int = 7, vocab_size: int = 60_000) -> Library:
    """A library of ``records`` records, each with one attachment of ``pages_per_record``
    OCR'd pages. With ``files_dir``, each attachment is a real tiny linked file there."""
    rng = random.Random(seed)
    vocab = vocabulary(vocab_size, rng)
    weights = [1 / (rank + 1) for rank in range(len(vocab))]  # Zipf, like natural text
    cum_weights = list(itertools.accumulate(weights))
    lib = Library.init(path)
    conn = lib.conn
    batch = 500
    for start in range(0, records, batch):
        with transaction(conn):
            for i in range(start, min(start + batch, records)):
                sha = f"{i:064x}"
                record_id = rec.insert_record(conn, f"Document {i}", "", None)
                if files_dir is not None:
                    file = files_dir / f"doc-{i:06}.png"
                    file.write_bytes(sha.encode())
                    stat = file.stat()
                    location, linked, size, mtime = str(file), True, stat.st_size, stat.st_mtime
                else:
                    location, linked, size, mtime = f"files/{sha}.png", False, 1, 0.0
                rec.ensure_content(conn, sha, "image/png", size, None)
                rec.insert_attachment(conn, record_id, name=f"doc-{i:06}.png", path=location,
                                      linked=linked, mime="image/png", size=size, mtime=mtime,
                                      sha256=sha)
                run_id = work.record_plan(conn, sha, ["ocr"] * pages_per_record,
                                          engine="synthetic", engine_version="1",
                                          model="synthetic", languages="eng", params={})
                for page in range(1, pages_per_record + 1):
                    text, boxes = layout(page_words(vocab, cum_weights, rng))
                    work.store_page_result(conn, run_id, sha, page,
                                           PageResult(text, boxes, 2550, 3300, 91.0))
                work.finish_contents(conn, [sha])
        if start and start % 5000 == 0:
            lib.index.catch_up(conn)
            print(f"  built {start} records", flush=True)
    lib.index.catch_up(conn)
    return lib
