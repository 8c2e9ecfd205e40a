"""``mulu catalog …``: import, export, show, stats, history, retire, mappings."""

from __future__ import annotations

from pathlib import Path

import typer

from mulu.cli.context import open_directory
from mulu.cli.output import console, print_json, print_table

app = typer.Typer(
    help="The directory of information-resource entries (信息资源目录).", no_args_is_help=True
)

JSON_OPTION = typer.Option(False, "--json", help="Print JSON instead of a table.")


@app.command("import")
def import_(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="CSV, Excel or JSON (incl. DCAT-US data.json) file."),
    mapping: str | None = typer.Option(
        None,
        "--mapping",
        "-m",
        help="Shipped mapping name or a mapping YAML file; default: the shipped one that fits.",
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Import a catalogue export; good rows land, bad rows are reported and kept."""
    from rich.progress import Progress

    from catalog.importing.importer import import_file

    directory, workspace = open_directory(ctx)
    try:
        with Progress(console=console, transient=True, disable=as_json) as progress:
            task = progress.add_task(f"importing {file.name}", total=None)
            report = import_file(
                directory,
                workspace,
                file,
                mapping=mapping,
                progress=lambda n: progress.advance(task, n),
            )
    finally:
        directory.close()
    if as_json:
        print_json(report.as_dict())
    else:
        console.print(
            f"{report.file}: mapping [bold]{report.mapping}[/], {report.records} records → "
            f"{report.created} created, {report.updated} updated, {report.unchanged} unchanged, "
            f"{report.rejected} rejected"
        )
        if report.errors:
            print_table(
                "rejected rows",
                ["row", "field", "reason"],
                ((e.row, e.field, e.reason) for e in report.errors[:50]),
            )
            if len(report.errors) > 50:
                console.print(f"… {len(report.errors) - 50} more")
            console.print(f"all rejected rows, verbatim: {report.rejects_file}")
    if report.rejected:
        raise typer.Exit(3)


@app.command("export")
def export(
    ctx: typer.Context,
    fmt: str = typer.Option("csv", "--format", "-f", help="csv, xlsx, json or dcat (JSON-LD)."),
    output: Path = typer.Option(..., "--output", "-o", help="File to write."),
    include_retired: bool = typer.Option(False, "--include-retired"),
) -> None:
    """Export the directory as CSV, Excel, JSON or DCAT JSON-LD."""
    from catalog.exporting import export_catalogue

    directory, _ = open_directory(ctx)
    try:
        count = export_catalogue(directory, fmt, output, include_retired=include_retired)
    finally:
        directory.close()
    console.print(f"wrote {count} entries to {output}")


@app.command("show")
def show(
    ctx: typer.Context,
    code: str = typer.Argument(..., help="信息资源代码, e.g. 101001/000001"),
    history: bool = typer.Option(False, "--history", help="Also show every change."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Show one entry (and its change history)."""
    directory, _ = open_directory(ctx)
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
def stats(
    ctx: typer.Context,
    as_json: bool = JSON_OPTION,
    top: int = typer.Option(20, help="Organisations to list in the table view."),
) -> None:
    """Counts by organisation, 共享类型 and 更新周期."""
    directory, _ = open_directory(ctx)
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
def retire(ctx: typer.Context, code: str, reason: str = typer.Option("", "--reason")) -> None:
    """Retire an entry (kept, with history, but no longer active)."""
    directory, _ = open_directory(ctx)
    try:
        directory.retire(code, reason=reason)
    finally:
        directory.close()
    console.print(f"retired {code}")


@app.command("mappings")
def mappings(as_json: bool = JSON_OPTION) -> None:
    """List the shipped import mappings and what they recognise."""
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
