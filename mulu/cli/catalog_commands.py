"""``mulu catalog …``: import, imports, export, show, stats, history, retire, mappings."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from catalog.policies import LOCAL, SIGNED_IN, STEWARD
from mulu.cli.context import open_directory
from mulu.cli.mapping_commands import mapping_app
from mulu.cli.output import console, fail, print_json, print_table
from mulu.cli.policy import acting, requires

if TYPE_CHECKING:
    from catalog.importing.import_report import ImportReport
    from schemas.messages import Lang

app = typer.Typer(
    help="The directory of information-resource entries (信息资源目录).", no_args_is_help=True
)

JSON_OPTION = typer.Option(False, "--json", help="Print JSON instead of a table.")


@app.command("import")
@requires(STEWARD)
def import_(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="CSV, Excel or JSON (incl. DCAT-US data.json) file."),
    mapping: str | None = typer.Option(
        None,
        "--mapping",
        "-m",
        help="Shipped mapping name or a mapping YAML file; default: the shipped one that fits, "
        "else one drafted from the file's headers.",
    ),
    source: str | None = typer.Option(
        None,
        "--source",
        help="Name of the portal the file comes from (e.g. chizhou): records identified by "
        "name+provider are only the same across files of the same source.",
    ),
    lang: str = typer.Option("zh", "--lang", help="Language of the reasons: zh or en."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Import a catalogue export; good records land, problems are reported and kept.

    Exit status: 0 every record landed (warnings allowed), 3 some records were rejected (they
    are in the rejects file), 2 the file itself cannot be imported (nothing written), 8 the
    file broke off mid-way (the records before the break landed; fix the file and re-run to
    resume). Re-running an interrupted import resumes it.
    """
    from rich.progress import Progress

    from catalog.importing.importer import ImportBrokeOff, import_file
    from schemas.errors import InvalidInput

    if lang not in ("zh", "en"):
        raise InvalidInput(f"--lang: expected zh or en, not {lang!r}")
    language: Lang = "en" if lang == "en" else "zh"
    directory, workspace = open_directory(ctx, acting(ctx))
    try:
        with Progress(console=console, transient=True, disable=as_json) as progress:
            task = progress.add_task(f"importing {file.name}", total=None)
            report = import_file(
                directory,
                workspace,
                file,
                mapping=mapping,
                progress=lambda n: progress.advance(task, n),
                lang=language,
                source=source,
            )
    except ImportBrokeOff as broke:
        # Not "nothing written": say what landed, then why it stopped and how to resume.
        if as_json:
            print_json(broke.report.as_dict(language))
        else:
            _print_import(broke.report, language)
        fail(broke)
    finally:
        directory.close()
    if as_json:
        print_json(report.as_dict(language))
    else:
        _print_import(report, language)
    if report.rejected:
        raise typer.Exit(3)


def _print_import(report: ImportReport, lang: Lang) -> None:
    """The counts, then one line per problem (``file:row: field: reason``), never wrapped."""

    def line(text: str) -> None:
        console.print(text, markup=False, highlight=False, soft_wrap=True)

    if report.drafted:
        line(report.draft_hint(lang) or "")
    line(
        f"{report.file}: mapping {report.mapping}, {report.records} records → "
        f"{report.created} created, {report.updated} updated, {report.unchanged} unchanged, "
        f"{report.duplicates} duplicates merged, {report.rejected} rejected, "
        f"{report.warned} with warnings"
        + (f", {report.organisations} organisations" if report.organisations else "")
    )
    for problem in report.lines(lang, limit=50):
        line(problem)
    if report.problem_count > 50:
        line(f"… {report.problem_count - 50} more")
    if report.rejects_file:
        line(f"every problem with its record verbatim: {report.rejects_file}")


@app.command("imports")
@requires(SIGNED_IN)
def imports(
    ctx: typer.Context,
    limit: int = typer.Option(20, "--limit", "-n", help="How many, newest first."),
    as_json: bool = JSON_OPTION,
) -> None:
    """The latest imports: file, mapping, state (running, finished, failed, interrupted), counts.

    An import whose process died is shown as interrupted; re-run it to resume."""
    from catalog.importing.importer import mark_interrupted

    directory, _ = open_directory(ctx, acting(ctx))
    try:
        mark_interrupted(directory)
        rows = directory.store.imports.recent(limit)
    finally:
        directory.close()
    shown = [
        {
            key: row.get(key)
            for key in (
                "id",
                "file",
                "mapping",
                "status",
                "started_at",
                "finished_at",
                "records",
                "created",
                "updated",
                "unchanged",
                "duplicates",
                "rejected",
                "warned",
                "error",
                "rejects_file",
            )
        }
        for row in rows
    ]
    if as_json:
        print_json(shown)
        return
    _print_imports(shown)


# Fits an 80-column terminal: the file (and the error after a state) wrap within their columns,
# the counts print whole, one per line (records always, the others when not 0).
_IMPORT_COUNTS = ("records", "created", "updated", "unchanged", "duplicates", "rejected", "warned")


def _print_imports(shown: list[dict[str, Any]]) -> None:
    from rich.table import Table
    from rich.text import Text

    table = Table(title="imports", show_lines=True)
    table.add_column("id", no_wrap=True, justify="right")
    table.add_column("file", overflow="fold", ratio=3, min_width=12)
    table.add_column("mapping", overflow="fold", ratio=1, min_width=8)
    table.add_column("status", overflow="fold", ratio=1, min_width=11)
    table.add_column("started", overflow="fold", min_width=10, max_width=10)
    table.add_column("counts", no_wrap=True)
    for r in shown:
        status = str(r["status"]) if not r["error"] else f"{r['status']}: {r['error']}"
        counts = "\n".join(
            f"{r[name] or 0:,} {name}" for name in _IMPORT_COUNTS if name == "records" or r[name]
        )
        started = str(r["started_at"] or "")[:16].replace("T", " ")
        cells = [r["id"], r["file"], r["mapping"], status, started, counts]
        table.add_row(*(Text("" if v is None else str(v)) for v in cells))
    console.print(table)


@app.command("export")
@requires(SIGNED_IN)
def export(
    ctx: typer.Context,
    fmt: str = typer.Option("csv", "--format", "-f", help="csv, xlsx, json or dcat (JSON-LD)."),
    output: Path = typer.Option(..., "--output", "-o", help="File to write."),
    include_retired: bool = typer.Option(False, "--include-retired"),
) -> None:
    """Export the directory as CSV, Excel, JSON or DCAT JSON-LD."""
    from catalog.exporting import export_report

    directory, _ = open_directory(ctx, acting(ctx))
    try:
        result = export_report(directory, fmt, output, include_retired=include_retired)
    finally:
        directory.close()
    line = f"wrote {result.entries} entries to {output}"
    if result.cut_cells:
        line += (
            f"; {result.cut_cells} cells longer than Excel's 32,767 characters were cut "
            "(CSV and JSON keep every character)"
        )
    console.print(line, markup=False, highlight=False, soft_wrap=True)


@app.command("show")
@requires(SIGNED_IN)
def show(
    ctx: typer.Context,
    code: str = typer.Argument(..., help="信息资源代码, e.g. 101001/000001"),
    history: bool = typer.Option(False, "--history", help="Also show every change."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Show one entry (and its change history)."""
    directory, _ = open_directory(ctx, acting(ctx))
    try:
        entry = directory.get(code)
        changes = directory.history(code) if history else None
    finally:
        directory.close()
    if as_json:
        print_json({**entry, "history": changes} if history else entry)
        return
    from schemas.entry import CatalogueEntry

    titles = {name: f.title for name, f in CatalogueEntry.model_fields.items()}
    rows = []
    for key, value in entry.items():
        if key == "data_items":
            value = "; ".join(f"{i['name']}:{i['data_type']}" for i in value)
        elif isinstance(value, list):
            value = "; ".join(map(str, value))
        rows.append((titles.get(key, key), key, value))
    print_table(entry["name"], ["字段", "field", "value"], rows)
    if changes:
        print_table(
            "history",
            ["version", "action", "when", "who", "changes"],
            (
                (
                    h["version"],
                    h["action"],
                    h["changed_at"],
                    h["changed_by"],
                    ", ".join(f"{k}: {o!r} → {n!r}" for k, (o, n) in h["changes"].items()),
                )
                for h in changes
            ),
        )


@app.command("stats")
@requires(SIGNED_IN)
def stats(
    ctx: typer.Context,
    as_json: bool = JSON_OPTION,
    top: int = typer.Option(20, help="Organisations to list in the table view."),
) -> None:
    """Counts by organisation, 共享类型 and 更新周期."""
    directory, _ = open_directory(ctx, acting(ctx))
    try:
        result = directory.stats()
    finally:
        directory.close()
    if as_json:
        print_json(result)
        return
    console.print(
        f"[bold]{result['entries']}[/] entries ({result['retired']} retired) from "
        f"[bold]{result['organisations']}[/] organisations"
    )
    for key, title in (
        ("by_share_type", "共享类型"),
        ("by_update_cycle", "更新周期"),
        ("by_open_type", "开放属性"),
    ):
        print_table(title, [title, "entries"], result[key].items())
    print_table(
        f"top {top} organisations",
        ["code", "name", "entries"],
        ((o["code"], o["name"], o["entries"]) for o in result["by_organisation"][:top]),
    )


@app.command("retire")
@requires(STEWARD)
def retire(ctx: typer.Context, code: str, reason: str = typer.Option("", "--reason")) -> None:
    """Retire an entry (kept, with history, but no longer active)."""
    directory, _ = open_directory(ctx, acting(ctx))
    try:
        directory.retire(code, reason=reason)
    finally:
        directory.close()
    console.print(f"retired {code}")


@app.command("mappings")
@requires(LOCAL)
def mappings(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """List the shipped import mappings and what they recognise."""
    acting(ctx)
    from catalog.importing.mapping import shipped_mappings

    shipped = shipped_mappings()
    if as_json:
        print_json(
            [
                {
                    "name": m.name,
                    "title": m.title,
                    "records": m.records,
                    "requires": sorted(m.required()),
                    "any_of": m.detect.any_of,
                }
                for m in shipped
            ]
        )
    else:
        print_table(
            "shipped mappings",
            ["name", "title", "recognised by"],
            (
                (
                    m.name,
                    m.title,
                    ", ".join(sorted(m.required()))
                    or " & ".join("/".join(g) for g in m.detect.any_of),
                )
                for m in shipped
            ),
        )


app.add_typer(mapping_app, name="mapping")
