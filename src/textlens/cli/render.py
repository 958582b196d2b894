"""Turning results into terminal output (Rich) or JSON."""

from __future__ import annotations

import html
import json
import re
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table
from rich.text import Text

from ..types import RecordInfo, SearchResults

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


_BOX = re.compile(r"\[\s+(-?\d+),\s+(-?\d+),\s+(-?\d+),\s+(-?\d+)\s+\]")


def print_json(data: Any) -> None:
    text = json.dumps(data, indent=2, ensure_ascii=False, default=str)
    print(_BOX.sub(r"[\1, \2, \3, \4]", text))  # a box on one line: [x0, y0, x1, y1]


class PagesPerSecond(ProgressColumn):
    """Pages per second, averaged by Rich over the last seconds."""

    def render(self, task) -> Text:  # type: ignore[no-untyped-def]
        speed = task.finished_speed or task.speed
        return Text(f"{speed:.2f} pages/s" if speed else "… pages/s", style="cyan")


def progress_bar() -> Progress:
    # On stderr, so `--json` output on stdout stays clean.
    return Progress(
        TextColumn("[bold]OCR"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("pages"),
        PagesPerSecond(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=err,
    )


def snippet_markup(snippet: str) -> str:
    """Our HTML snippets (<b> marks hits) as Rich markup."""
    parts = re.split(r"(<b>.*?</b>)", snippet)
    out_parts = []
    for part in parts:
        if part.startswith("<b>"):
            out_parts.append(f"[bold yellow]{escape(html.unescape(part[3:-4]))}[/]")
        else:
            out_parts.append(escape(html.unescape(part)))
    return "".join(out_parts)


def print_records(records: list[RecordInfo]) -> None:
    for r in records:
        out.print(f"[bold]record {r.id}[/] {escape(r.title)}")
        for a in r.attachments:
            reason = f" — {escape(a.reason)}" if a.reason else ""
            out.print(f"  a{a.id}  {escape(a.name)}  [dim]{a.state}{reason}[/]")


def print_search(results: SearchResults) -> None:
    mode = " (fuzzy)" if results.fuzzy else ""
    out.print(f"{results.total} record(s) match [bold]{escape(results.query)}[/]{mode}")
    for hit in results.results:
        out.print(f"\n[bold]record {hit.record_id}[/] {escape(hit.title)}  [dim]score "
                  f"{hit.score:.2f}[/]")
        if hit.record_matched and hit.snippet:
            out.print(f"  note: {snippet_markup(hit.snippet)}")
        if hit.attachments:
            names = ", ".join(
                f"{a.name} ({_pages_label([p.page for p in a.pages], a.more_pages)})"
                for a in hit.attachments
            )
            out.print(f"  [green]{len(hit.attachments)} attachment(s) match:[/] {escape(names)}")
        for a in hit.attachments:
            for p in a.pages:
                out.print(f"  a{a.id} p.{p.page}: {snippet_markup(p.snippet)}  "
                          f"[dim]{len(p.boxes)} box(es)[/]")


def _pages_label(pages: list[int], more: int = 0) -> str:
    label = ("p. " if len(pages) == 1 else "pp. ") + ", ".join(str(p) for p in pages)
    return label + (f" and {more} more" if more else "")


def print_status(status: dict[str, Any]) -> None:
    table = Table(title=f"{status['records']} records", show_edge=False)
    table.add_column("")
    states = list(status["attachments"])
    for s in states:
        table.add_column(s, justify="right")
    for row in ("attachments", "pages"):
        table.add_row(row, *(str(status[row][s]) for s in states))
    out.print(table)
    if not status.get("ocr_enabled", True):
        out.print("[yellow]OCR is off[/] (textlens config set ocr true)")
    if status.get("index_backlog"):
        out.print(f"[dim]{status['index_backlog']} changes waiting for the search index[/]")
    if status.get("waiting"):
        n = status["waiting"]
        out.print(f"[yellow]{n} file{'s' if n > 1 else ''} waiting[/] for what OCR needs "
                  "(language data): `textlens status --failures` says why")
    for f in status.get("failures", []):
        state = "[yellow]waiting[/]" if f["state"] == "pending" else f"[red]{f['state']}[/]"
        out.print(f"  a{f['attachment']} {escape(f['name'])} {state}: "
                  f"{escape(f['reason'] or '')}")


def print_waiting(waiting: list[dict[str, Any]]) -> None:
    """Files a scan left waiting, one line per reason (it is often the same for many)."""
    by_reason: dict[str, list[str]] = {}
    for w in waiting:
        by_reason.setdefault(w["reason"], []).append(w["name"])
    for reason, names in by_reason.items():
        shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        out.print(f"  [yellow]waiting[/] {escape(shown)}: {escape(reason)}")


def download_progress() -> Progress:
    # On stderr, like the OCR bar, so `--json` output stays clean.
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), DownloadColumn(),
                    TransferSpeedColumn(), TimeRemainingColumn(), console=err)


def print_langs(data: dict[str, Any]) -> None:
    how = "installed data first, then " if data["installed_first"] else ""
    origin = "langdata setting" if data["source_set"] else f"default for model {data['model']}"
    out.print(f"model [bold]{data['model']}[/]; language data from {how}"
              f"{escape(data['source'])} ({origin})")
    out.print(f"cache: {escape(data['cache'])}")
    table = Table(show_edge=False)
    for column in ("language", "from", "model", "used", "where"):
        table.add_column(column)
    for r in data["languages"]:
        where = r["where"] if r["origin"] == "cache" else r["path"]
        fetched = f" ({r['fetched']})" if r["fetched"] else ""
        table.add_row(r["language"], r["origin"], r["model"] or "?",
                      "[green]yes[/]" if r["used"] else "", escape(where + fetched))
    out.print(table)
    out.print(f"this library uses: {', '.join(data['in_use'])}")
    if data["missing"]:
        missing = " ".join(data["missing"])
        out.print(f"[yellow]not here yet:[/] {missing} — the next scan fetches "
                  f"{'them' if len(data['missing']) > 1 else 'it'}, or now: "
                  f"`textlens langs get {missing}`")


def print_fetched(results: list[dict[str, Any]]) -> None:
    for r in results:
        if r["status"] == "failed":
            out.print(f"{r['language']}: [red]failed[/] — {escape(r['error'])}")
        elif r["status"] == "fetched":
            out.print(f"{r['language']}: [green]fetched[/] from {escape(r['where'])}")
        else:
            out.print(f"{r['language']}: ready ({r['origin']}) {escape(r['path'])}")


def print_by_status(rows: list[dict[str, Any]]) -> None:
    """`status --by-status`: one row per processing status."""
    table = Table(title="records by processing status")
    for column in ("status", "records", "with images", "all OCR'd", "some", "none"):
        table.add_column(column, justify="left" if column == "status" else "right")
    for r in rows:
        table.add_row(escape(r["status"]), *(str(r[k]) for k in
                      ("records", "with_images", "all_ocr", "some_ocr", "no_ocr")))
    out.print(table if rows else "no records")
