"""`textlens` commands. Each parses its options, calls one Library method and prints the result."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from ..errors import ConflictError, LanguageDataError, NotFoundError, SettingsError
from ..library import Library, default_library_path, parse_id
from ..settings import SETTINGS, Settings, lookup, split_languages
from ..types import ScanReport
from ..web.serve import DEFAULT_RATE_LIMIT, MAX_UPLOAD_BYTES
from . import render
from .errors import run_guarded

app = typer.Typer(
    help="textlens: OCR the text inside your images and PDFs, offline, and search it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
config_app = typer.Typer(help="Show or change settings.", invoke_without_command=True)
app.add_typer(config_app, name="config")
langs_app = typer.Typer(help="Tesseract language data: what is here, fetch more, clear the cache.",
                        invoke_without_command=True)
app.add_typer(langs_app, name="langs")
import_app = typer.Typer(help="Import records made elsewhere.", no_args_is_help=True)
app.add_typer(import_app, name="import")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


class _State:
    library: Path | None = None
    overrides: dict[str, Any] = {}


state = _State()


@app.callback()
def main(
    library: Annotated[Path | None, typer.Option(
        "--library", "-L", envvar="TEXTLENS_LIBRARY",
        help="Library folder (default: a library in your user data folder).")] = None,
    set_: Annotated[list[str] | None, typer.Option(
        "--set", help="Override a setting for this command: NAME=VALUE (repeatable).")] = None,
) -> None:
    state.library = library
    state.overrides = {}
    for item in set_ or []:
        name, sep, value = item.partition("=")
        if not sep:
            raise SettingsError(f"--set takes NAME=VALUE, not {item!r}")
        state.overrides[lookup(name).name] = value


def _library_path() -> Path:
    return state.library or default_library_path()


def _settings(**overrides: Any) -> Settings:
    """Effective settings for commands that need no library (it may not exist yet)."""
    path = _library_path()
    merged = {**state.overrides, **{k: v for k, v in overrides.items() if v is not None}}
    return Settings.load(path if path.exists() else None, merged)


def _open(create: bool = False, **overrides: Any) -> Library:
    merged = {**state.overrides, **{k: v for k, v in overrides.items() if v is not None}}
    return Library.open(state.library, merged, create=create)


@app.command()
def init() -> None:
    """Create a library (a folder with its database, files, index and textlens.toml)."""
    lib = Library.init(state.library)
    render.out.print(f"library ready at {lib.path}")


@app.command()
def add(
    paths: Annotated[list[Path], typer.Argument(help="Files to attach (or one folder with --each).")],
    title: Annotated[str | None, typer.Option(help="Record title (default: the file name).")] = None,
    body: Annotated[str, typer.Option(help="Record text.")] = "",
    each: Annotated[bool, typer.Option("--each", help="One record per file found in the folder(s), recursively.")] = False,
    link: Annotated[bool, typer.Option("--link", help="Reference files in place instead of copying them.")] = False,
    catalog_number: Annotated[str | None, typer.Option(help="Make the record a specimen with this catalog number.")] = None,
    status: Annotated[str | None, typer.Option("--status", help="The specimen's processing status, e.g. unprocessed.")] = None,
    collection: Annotated[str, typer.Option(help="The specimen's collection.")] = "",
    json_: JsonOpt = False,
) -> None:
    """Add a record with these files attached (OCR happens on the next scan)."""
    with _open(create=True) as lib:
        errors: list[tuple[str, str]] = []
        specimen = catalog_number is not None or status is not None
        if specimen and each:
            raise typer.BadParameter("--catalog-number and --status describe one record; not with --each (see `textlens import records`)")
        catalog_number, collection = (catalog_number or "").strip() or None, collection.strip()
        taken = lib.specimens(catalog_number, collection) if catalog_number else []
        if taken:  # checked before the files are copied in, so a refusal leaves nothing behind
            raise ConflictError(f"catalog number {catalog_number} is already record {taken[0].id} in collection {collection!r}; use another number or collection")
        if each:
            records = [r for folder in paths for r in lib.add_each(folder, link=link,
                                                                   errors=errors)]
        else:
            records = [lib.add(paths, title=title, body=body, link=link)]
            if specimen:
                records = [lib.set_specimen(records[0].id, catalog_number=catalog_number,
                                            processing_status=status, collection=collection)]
        if json_:
            render.print_json({"records": [
                {"id": r.id, "title": r.title,
                 "attachments": [{"id": a.id, "name": a.name, "state": a.state} for a in r.attachments]}
                for r in records
            ], "errors": [{"path": path, "reason": reason} for path, reason in errors]})
        else:
            render.print_records(records)
            if lib.settings.ocr and records:
                render.err.print("run `textlens scan` to OCR them")
        for path, reason in errors:
            render.err.print(f"[red]not added[/] {escape(path)}: {escape(reason)}")
        if errors:
            raise typer.Exit(1)


@app.command()
def scan(
    limit: Annotated[int | None, typer.Option(min=1, help="OCR at most this many files.")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes (default: setting `workers`, 0 = all cores).")] = None,
    languages: Annotated[str | None, typer.Option(help="Languages for this scan, e.g. eng+fra.")] = None,
    watch: Annotated[bool, typer.Option("--watch", help="Keep going: scan again whenever there is new work.")] = False,
    json_: JsonOpt = False,
) -> None:
    """OCR everything pending, with a progress bar; each file is searchable once it is done."""
    with _open(workers=workers, languages=languages) as lib:
        if watch:
            from ..workflows.watch import scan_forever

            scan_forever(lib, render.progress_bar)
            return
        report = _scan_with_progress(lib, limit=limit, quiet=json_)
        if json_:
            render.print_json(report.to_dict())
        else:
            render.out.print(
                f"{report.pages_done} pages OCR'd in {report.seconds:.1f} s "
                f"({report.pages_per_second:.2f} pages/s); {_files(report.attachments_done)} "
                f"done, {report.attachments_failed} failed"
                + (f", {report.attachments_waiting} waiting" if report.attachments_waiting else "")
            )
            if report.attachments_skipped:
                n = report.attachments_skipped
                render.out.print(f"{n} file{'s' if n > 1 else ''} in the library "
                                 f"{'are' if n > 1 else 'is'} skipped (not an image or PDF): "
                                 "`textlens status --failures` says why")
            for f in report.failures:
                render.out.print(f"  [red]failed[/] {escape(f['name'])}: {escape(f['reason'])}")
            render.print_waiting(report.waiting)


def _files(n: int) -> str:
    return f"{n} file" + ("" if n == 1 else "s")


def _scan_with_progress(lib: Library, quiet: bool = False, target: str | None = None,
                        **kwargs: Any) -> ScanReport:
    if target is not None:
        lib.targets(target, ocrable=True)  # a bad id fails before a progress bar is drawn
    progress = render.progress_bar()
    progress.disable = quiet
    with progress:
        task = progress.add_task("ocr", total=None)

        def update(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        try:
            if target is not None:
                return lib.ocr(target, on_progress=update, **kwargs)
            return lib.scan(on_progress=update, **kwargs)
        except KeyboardInterrupt:
            progress.stop()
            render.err.print("interrupted: the pages done so far are saved; run the same "
                             "command again to go on")
            raise typer.Exit(130) from None


@app.command()
def ocr(
    target: Annotated[str, typer.Argument(help="Record id (12) or attachment id (a7).")],
    engine: Annotated[str | None, typer.Option(help="Engine for this OCR.")] = None,
    languages: Annotated[str | None, typer.Option(help="Languages for this OCR, e.g. eng+deu.")] = None,
    json_: JsonOpt = False,
) -> None:
    """OCR one record or attachment now, again if it was done before."""
    with _open() as lib:
        report = _scan_with_progress(lib, quiet=json_, target=target, engine=engine,
                                     languages=languages)
        if json_:
            render.print_json(report.to_dict())
        else:
            render.out.print(f"{report.pages_done} pages OCR'd, {report.pages_failed} failed")
            for f in report.failures:
                render.out.print(f"  [red]failed[/] {escape(f['name'])}: {escape(f['reason'])}")
            render.print_waiting(report.waiting)
        if report.attachments_waiting:
            # You asked for this file now; a script must be able to tell it did not happen.
            raise typer.Exit(LanguageDataError.exit_code)


@app.command()
def status(
    failures: Annotated[bool, typer.Option("--failures", help="List failed, skipped and waiting files with the reason.")] = False,
    by_status: Annotated[bool, typer.Option("--by-status", help="Specimen records per processing status: with images, with OCR for all, some or none.")] = False,
    collection: Annotated[str | None, typer.Option(help="Only this collection (with --by-status).")] = None,
    json_: JsonOpt = False,
) -> None:
    """Attachments and pages by OCR state; or records by processing status (--by-status)."""
    with _open() as lib:
        if by_status:
            rows = lib.status_by_processing_status(collection)
            render.print_json(rows) if json_ else render.print_by_status(rows)
            return
        result = lib.status(failures=failures or json_)
        if json_:
            render.print_json(result)
        else:
            render.print_status(result)


@app.command()
def batch(
    status: Annotated[str, typer.Option("--status", help='Processing status of the records to OCR ("none": records without one).')],
    limit: Annotated[int, typer.Option(min=1, help="Most records to OCR.")] = 100,
    collection: Annotated[str | None, typer.Option(help="Only records of this collection.")] = None,
    json_: JsonOpt = False,
) -> None:
    """OCR the images of up to LIMIT records in a processing status that lack OCR."""
    with _open() as lib:
        progress = render.progress_bar()
        progress.disable = json_
        with progress:
            task = progress.add_task("ocr", total=None)
            try:
                result = lib.batch(status, limit=limit, collection=collection, on_progress=lambda d, t: progress.update(task, completed=d, total=t))
            except KeyboardInterrupt:
                progress.stop()
                render.err.print("interrupted: the pages done so far are saved; run the same command again to go on")
                raise typer.Exit(130) from None
        if json_:
            render.print_json(result)
            return
        render.out.print(f"{result['records']} records, {result['attachments']} attachments, {result['pages']} pages OCR'd, {result['failed']} failed"
                         + (f", {result['waiting']} waiting" if result["waiting"] else ""))
        for f in result["failures"]:
            render.out.print(f"  [red]failed[/] {escape(f['name'])}: {escape(f['reason'])}")
        if not result["records"]:
            render.out.print(f"no records in status {escape(status)!r} need OCR (`textlens status --by-status` counts them)")


# A query may begin with an exclusion (`textlens search "-draft invoice"`): not an option.
@app.command(context_settings={"ignore_unknown_options": True})
def search(
    query: Annotated[list[str], typer.Argument(help='Words, "exact phrase", a OR b, -word, prefix* (quote the query, or not)')],
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="Most records to show.")] = 20,
    fuzzy: Annotated[bool, typer.Option("--fuzzy", help="Also match words one edit away (two for 8+ letters).")] = False,
    json_: JsonOpt = False,
) -> None:
    """Search records and the text inside their attachments."""
    with _open() as lib:
        for word in query:
            if word.startswith("--"):  # unknown options are let through for `-word`s
                raise typer.BadParameter(f"no such option: {word}")
        results = lib.search(" ".join(query), limit=limit, fuzzy=fuzzy)
        if json_:
            render.print_json(results.to_dict())
        else:
            render.print_search(results)


@app.command()
def show(
    target: Annotated[str, typer.Argument(help="Record id (12) or attachment id (a7).")],
    text: Annotated[bool, typer.Option("--text", help="Include the OCR text of every page.")] = False,
    json_: JsonOpt = False,
) -> None:
    """A record or attachment with its OCR state, run details and text."""
    with _open() as lib:
        data = lib.show(target, text=text or json_)
        if json_:
            render.print_json(data)
            return
        if "record" in data:
            render.out.print(f"[bold]record {data['record']['id']}[/] {escape(data['record']['title'])}")
            r = data["record"]
            if r.get("catalog_number") or r.get("processing_status"):
                render.out.print(f"  catalog number {escape(r.get('catalog_number') or '-')} · status {escape(r.get('processing_status') or 'none')}"
                                 + (f" · collection {escape(r['collection'])}" if r.get("collection") else ""))
            if r["body"]:
                render.out.print(escape(r["body"]))
        for a in data["attachments"]:
            reason = f": {a['reason']}" if a["reason"] else ""
            render.out.print(f"\n[bold]a{a['id']}[/] {escape(a['name'])} — {a['state']}{escape(reason)}")
            run = a["ocr"]["run"]
            if run and run["source"] == "import":  # text made elsewhere: its label and date
                imported = (run.get("params") or {}).get("imported", "")
                render.out.print(f"  imported · {escape(run['engine'] or '-')} · {escape(str(imported))}")
            elif run:
                render.out.print(
                    f"  {run['source']} · {run['engine'] or '-'} {run['engine_version'] or ''} · "
                    f"languages {run['languages']} · model {escape(run['model'] or '-')}"
                )
            for p in a["ocr"]["pages"]:
                details = [p["method"], f"{p['words']} words"] if p["words"] else [p["method"]]
                if p["confidence"] is not None and p["confidence"] >= 0:
                    details.append(f"confidence {p['confidence']:.0f}")
                render.out.print(f"  page {p['page']} ({', '.join(details)})")
                if text:
                    render.out.print(escape(p["text"]))


@app.command()
def remove(target: Annotated[str, typer.Argument(help="Record id.")]) -> None:
    """Delete a record and its attachments from the library."""
    with _open() as lib:
        kind, number = parse_id(target)
        if kind != "record":  # never delete record N when the user named attachment aN
            raise NotFoundError(
                f"{target!r} is an attachment id; `textlens remove` takes a record id "
                "(see `textlens show a<N>` for the record an attachment belongs to)"
            )
        lib.remove(number)
        render.out.print(f"record {number} removed")


@app.command()
def reindex() -> None:
    """Rebuild the search index from the database."""
    with _open() as lib:
        count = lib.reindex()
        render.out.print(f"index rebuilt: {count} documents")


@app.command()
def watch(
    folder: Annotated[Path, typer.Argument(help="Folder to keep in the library (linked, not copied).")],
) -> None:
    """Keep a folder in the library: new and changed files are OCR'd, deleted ones leave."""
    from ..workflows.watch import watch_folder

    with _open(create=True) as lib:
        watch_folder(lib, folder, render.progress_bar, render.out)


@app.command()
def engines(json_: JsonOpt = False) -> None:
    """The OCR engines textlens knows, and whether each can run here."""
    from ..engines import registry

    rows = registry.describe(_settings().plugins)
    if json_:
        render.print_json({"engines": rows})
        return
    for r in rows:
        mark = "[green]ok[/]" if r["available"] else "[red]unavailable[/]"
        render.out.print(f"{r['name']} {r['version']} ({r['origin']}): {mark} — "
                         f"{escape(str(r['detail']))}")


@langs_app.callback()
def langs_show(ctx: typer.Context, json_: JsonOpt = False) -> None:
    """The languages here and where each comes from, and where missing ones come from."""
    if ctx.invoked_subcommand:
        return
    with _open() as lib:
        data = lib.language_data()
    if json_:
        render.print_json(data)
    else:
        render.print_langs(data)


@langs_app.command("get")
def langs_get(
    languages: Annotated[list[str], typer.Argument(help="Language codes, e.g. fra deu (or fra+deu).")],
    json_: JsonOpt = False,
) -> None:
    """Fetch language data into the cache now (installed or cached languages are left as they are)."""
    codes = [code for arg in languages for code in split_languages(arg)]
    with _open() as lib:
        results = _with_download_progress(
            lambda hook: lib.fetch_languages(codes, on_progress=hook), quiet=json_)
    if json_:
        render.print_json({"languages": results})
    else:
        render.print_fetched(results)
    if any(r["status"] == "failed" for r in results):
        raise typer.Exit(LanguageDataError.exit_code)


@langs_app.command("clear-cache")
def langs_clear_cache(
    refetch: Annotated[bool, typer.Option("--refetch", help="Then fetch again the languages this library uses.")] = False,
    json_: JsonOpt = False,
) -> None:
    """Delete downloaded language data (the cache your libraries share)."""
    with _open() as lib:
        result = _with_download_progress(
            lambda hook: lib.clear_language_cache(refetch=refetch, on_progress=hook), quiet=json_)
    refetched = result.get("refetched", [])
    if json_:
        render.print_json(result)
    else:
        render.out.print(f"cache cleared: {result['files']} files, "
                         f"{result['bytes'] / 2**20:.1f} MB removed from {escape(result['cache'])}")
        render.print_fetched(refetched)
    if any(r["status"] == "failed" for r in refetched):
        raise typer.Exit(LanguageDataError.exit_code)


def _with_download_progress(action: Any, quiet: bool) -> Any:
    """Run ``action(hook)`` with a download bar per language (on stderr)."""
    progress = render.download_progress()
    progress.disable = quiet
    tasks: dict[str, Any] = {}

    def hook(lang: str, done: int, total: int | None) -> None:
        if lang not in tasks:
            tasks[lang] = progress.add_task(lang, total=total)
        progress.update(tasks[lang], completed=done, total=total)

    with progress:
        return action(hook)


@config_app.callback()
def config_show(ctx: typer.Context, json_: JsonOpt = False) -> None:
    """Every setting: its effective value, where it came from, and what it does."""
    if ctx.invoked_subcommand:
        return
    path = _library_path()
    settings = _settings()
    if json_:
        render.print_json({"library": str(path), "settings": {
            s.name: {"value": settings.get(s.name), "source": settings.sources[s.name],
                     "default": s.default, "env": s.env_var, "help": s.help}
            for s in SETTINGS
        }})
        return
    render.out.print(f"library: {path}")
    for s in SETTINGS:
        render.out.print(f"[bold]{s.name}[/] = {settings.get(s.name)!r}  [dim]({settings.sources[s.name]}; "
                         f"env {s.env_var})[/]\n    {escape(s.help)}")


@config_app.command("set")
def config_set(name: str, value: str) -> None:
    """Write a setting into the library's textlens.toml."""
    with _open(create=True) as lib:
        stored = lib.set_setting(name, value)
        render.out.print(f"{lookup(name).name} = {stored!r} (written to {lib.path / 'textlens.toml'})")


@app.command(name="eval")
def eval_(
    folder: Annotated[Path, typer.Argument(help="Folder of <id>.<image|pdf> files with <id>.gt.txt beside them.")],
    workers: Annotated[int | None, typer.Option(help="Worker processes.")] = None,
    json_: JsonOpt = False,
) -> None:
    """Measure OCR accuracy and speed against ground-truth text, with this library's settings."""
    from ..workflows.evaluation import evaluate, print_report

    settings = _settings(workers=workers)
    result = evaluate(folder, settings, progress=None if json_ else render.progress_bar)
    if json_:
        render.print_json(result)
    else:
        print_report(result, render.out)


@import_app.command("records")
def import_records(
    file: Annotated[Path, typer.Argument(help="A CSV file (catalogNumber, processingStatus, image) or a Darwin Core Archive (.zip).")],
    collection: Annotated[str, typer.Option(help="The collection the records belong to.")] = "",
    link: Annotated[bool, typer.Option("--link", help="Reference image files in place instead of copying them.")] = False,
    json_: JsonOpt = False,
) -> None:
    """Create or update specimen records (catalog number, processing status, images)."""
    with _open(create=True) as lib:
        report = lib.import_records(file, collection=collection, link=link)
    if json_:
        render.print_json(report.to_dict())
        return
    render.out.print(f"{report.created} created, {report.updated} updated, {report.unchanged} "
                     f"unchanged, {report.attachments_added} images attached")
    for p in report.problems:
        where = f"row {p.row}" + (f" ({p.catalog_number})" if p.catalog_number else "")
        what = f" {p.file}:" if p.file else ""
        render.err.print(f"[yellow]{escape(where)}[/]{escape(what)} {escape(p.reason)}")


@app.command("import-ocr")
def import_ocr(
    upload: Annotated[Path, typer.Argument(help="A .zip archive or a folder of .txt files named by catalog number.")],
    pattern: Annotated[str | None, typer.Option(help="Regex on each file's stem; its group named catalog (else its first group) is the catalog number. Default: ^(.+?)(?:_\\[a-z]+)?$")] = None,
    source: Annotated[str | None, typer.Option(help="Where the text comes from, e.g. \"ABBYY FineReader\"; shown with the text.")] = None,
    collection: Annotated[str | None, typer.Option(help="Look catalog numbers up in this collection only.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Report what would be linked; write nothing.")] = False,
    json_: JsonOpt = False,
) -> None:
    """Import OCR text made elsewhere onto specimen records' images."""
    with _open() as lib:
        report = lib.import_ocr(upload, pattern=pattern, source=source, collection=collection,
                                dry_run=dry_run)
    if json_:
        render.print_json(report.to_dict())
        return
    for f in report.files:
        where = f" -> record {f.record}, a{f.attachment}" if f.status == "linked" else ""
        why = f": {f.reason}" if f.reason else ""
        enc = f" (read as {f.encoding})" if f.encoding not in (None, "utf-8") else ""
        render.out.print(f"{escape(f.name)} {f.status}{where}{enc}{escape(why)}")
    verb = "would be linked (dry run)" if report.dry_run else "linked"
    render.out.print(f"{report.linked} of {len(report.files)} files {verb}, source "
                     f"{escape(report.source)!r}")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to bind; any but loopback needs a token.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    token: Annotated[str | None, typer.Option(envvar="TEXTLENS_TOKEN", help="Access token: API clients send `Authorization: Bearer TOKEN`; browsers sign in with it once.")] = None,
    rate_limit: Annotated[int, typer.Option(min=0, help="Requests per minute one client may make; 0: no limit.")] = DEFAULT_RATE_LIMIT,
    max_upload_mb: Annotated[int, typer.Option(min=1, help="Largest upload, in MB.")] = MAX_UPLOAD_BYTES // (1024 * 1024),
) -> None:
    """Serve the web app and REST API (OpenAPI schema at /openapi.json), OCRing new files in the
    background while it runs."""
    from ..web.serve import check_binding, serve_app

    check_binding(host, token)
    with _open():  # fail now, with the usual message, when there is no library
        pass
    shown = f"[{host}]" if ":" in host else host
    render.out.print(f"textlens serving {_library_path()} at http://{shown}:{port}/ "
                     f"(API: /api, schema: /openapi.json; "
                     f"{'token required' if token else 'no token: this machine only'})")
    serve_app(_library_path(), host, port, token, rate_limit=rate_limit,
              max_upload_mb=max_upload_mb)


@app.command("export-ocr")
def export_ocr(
    file: Annotated[str, typer.Argument(help="The JSON Lines file to write; - for stdout.")],
    since: Annotated[float | None, typer.Option(help="Only runs created at or after this Unix timestamp.")] = None,
    json_: JsonOpt = False,
) -> None:
    """Write every OCR run (text, words, boxes, engine, languages) as JSON Lines, for sync."""
    with _open() as lib:
        report = lib.export_ocr(file, since=since)
    if file == "-":
        return  # stdout holds the bundle itself
    if json_:
        render.print_json(report)
        return
    render.out.print(f"{report['runs']} runs ({report['pages']} pages) written to "
                     f"{escape(file)}")


@app.command("import-ocr-bundle")
def import_ocr_bundle(
    file: Annotated[Path, typer.Argument(help="A JSON Lines file written by `textlens export-ocr`.")],
    json_: JsonOpt = False,
) -> None:
    """Load OCR runs from another library: files with the same content need no OCR."""
    with _open() as lib:
        report = lib.import_ocr_bundle(file)
    if json_:
        render.print_json(report)
        return
    render.out.print(f"{report['runs']} runs: {report['applied']} applied, "
                     f"{report['kept_for_later']} kept for files not here yet, "
                     f"{report['skipped_identical']} already here")
    for p in report["problems"]:
        render.err.print(f"[yellow]line {p['line']}[/]: {escape(p['reason'])}")


def run() -> None:
    """Console-script entry point."""
    run_guarded(app)
