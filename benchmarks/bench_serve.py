"""The web app as a user meets it: how soon an upload is searchable, and page and API latency.

Starts `textlens serve` (a real process) over a new library, uploads label photos from the
corpus one at a time through `POST /api/records` (as a person adding notes would) and times
each until a search for a word of its OCR text finds it: the background scanner has to notice
the upload, OCR it and index it. Then times the pages and API calls a person waits for.

Goal: an upload is found by search within a few seconds (the issue says "within seconds").
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
import time

import httpx
from common import CORPUS, WORK, say, summary, textlens_cli

UPLOADS = 12
REQUESTS = 40


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_found(client: httpx.Client, record_id: int, limit: float) -> float:
    """Seconds from now until the record's attachments are OCR'd and a search for a word of
    that OCR text finds the record."""
    started = time.perf_counter()
    word = None
    while time.perf_counter() - started < limit:
        record = client.get(f"/api/records/{record_id}").raise_for_status().json()
        attachment = record["attachments"][0]
        if word is None and attachment["state"] in ("done", "failed"):
            text = client.get(f"/api/attachments/{attachment['id']}").json()["ocr"]["pages"]
            words = re.findall(r"[A-Za-z]{5,}", " ".join(p["text"] for p in text))
            word = words[0] if words else ""
        if word == "":
            return time.perf_counter() - started  # nothing to search for: OCR'd is all
        if word:
            hits = client.get("/api/search", params={"q": word, "limit": 100}
                              ).raise_for_status().json()
            if any(r["record"]["id"] == record_id for r in hits["results"]):
                return time.perf_counter() - started
        time.sleep(0.05)
    return float("inf")


def timed(client: httpx.Client, path: str, **params: object) -> list[float]:
    times = []
    for _ in range(REQUESTS):
        started = time.perf_counter()
        client.get(path, params=params).raise_for_status()  # type: ignore[arg-type]
        times.append((time.perf_counter() - started) * 1000)
    return times


def main() -> int:
    samples = sorted((CORPUS / "aocr-lichen-labels").glob("*.jpg"))[:UPLOADS]
    if not samples:
        say(f"no corpus at {CORPUS}; set TEXTLENS_CORPUS")
        return 1
    root = WORK / "serve"
    shutil.rmtree(root, ignore_errors=True)
    library = root / "library"
    subprocess.run([textlens_cli(), "-L", str(library), "init"], check=True,
                   stdout=subprocess.DEVNULL)
    port = free_port()
    # No rate limit: the benchmark polls far faster than a person clicks.
    server = subprocess.Popen([textlens_cli(), "-L", str(library), "serve", "--port",
                               str(port), "--rate-limit", "0"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            deadline = time.monotonic() + 30
            while True:
                try:
                    client.get("/api/status").raise_for_status()
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
            say(f"serve benchmark: {len(samples)} label photos uploaded one at a time "
                f"(aocr-lichen-labels), each timed until search finds it")
            latencies = []
            for path in samples:
                with open(path, "rb") as f:
                    created = client.post("/api/records", files={"files": (path.name, f)})
                created.raise_for_status()
                latencies.append(wait_until_found(client, created.json()["id"], 120))
            say(f"  upload -> found by search, seconds: {summary(latencies)}")
            record = client.get("/api/records", params={"limit": 1}).json()["records"][0]
            attachment = record["attachments"][0]["id"]
            word = "lichen"
            say(f"  response times over {REQUESTS} requests each, ms (library of "
                f"{len(samples)} records):")
            for label, path, params in [
                ("search page", "/", {"q": word}),
                ("record page", f"/records/{record['id']}", {}),
                ("attachment view with hits", f"/attachments/{attachment}", {"q": word}),
                ("toolbox", "/toolbox", {}),
                ("GET /api/search", "/api/search", {"q": word}),
                ("GET /api/scanner (polled by every page)", "/api/scanner", {}),
                ("page image (cached after the first)",
                 f"/api/attachments/{attachment}/pages/1/image", {}),
            ]:
                say(f"    {label}: {summary(timed(client, path, **params))}")
    finally:
        server.terminate()
        server.wait(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
