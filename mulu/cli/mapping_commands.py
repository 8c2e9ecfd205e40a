"""``mulu catalog mapping …``: draft an import mapping from a file; the shipped mappings as the
table docs/mappings.md shows."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import typer

from catalog.policies import LOCAL
from mulu.cli.output import errors
from mulu.cli.policy import acting, requires

_CONTACTS = {"name": "联系人", "phone": "联系电话", "email": "联系邮箱"}
mapping_app = typer.Typer(
    help="Import mappings: draft one from a file (see docs/mappings.md).", no_args_is_help=True
)


@mapping_app.command("draft")
@requires(LOCAL)
def draft(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="CSV, Excel or JSON (incl. DCAT-US data.json) file."),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Write the mapping YAML here (default: print it)."
    ),
    name: str | None = typer.Option(
        None, "--name", help="The mapping's name (default: draft-<file name>)."
    ),
) -> None:
    """Draft a mapping YAML from FILE's headers and values; say what it placed and what not.

    The YAML goes to stdout (or -o FILE); what it placed from which column, the columns it left
    and the values it could not read go to stderr. Exits 2 when a required field (信息资源名称,
    信息资源提供方, 共享类型) has neither a column nor a default.
    """
    acting(ctx)  # reads only FILE: no one's catalogue or data
    from catalog.importing.draft import draft_mapping
    from catalog.importing.reading import read_document
    from schemas.entry import CatalogueEntry

    drafted = draft_mapping(read_document(file), name=name)
    if output is None:
        typer.echo(drafted.yaml, nl=False)
    else:
        output.write_text(drafted.yaml, encoding="utf-8")
        _say(f"wrote {output}")
    titles = {target: info.title or target for target, info in CatalogueEntry.model_fields.items()}
    titles |= {f"provider_contact_{k}": f"提供方{v}" for k, v in _CONTACTS.items()}
    rows = [(target, titles.get(target, ""), column) for target, column in drafted.placed.items()]
    rows += [
        (target, titles.get(target, ""), f"(default) {value}")
        for target, value in drafted.defaults.items()
    ]
    if rows:
        _table(f"{file.name}: entry field ← column", ["field", "字段", "column"], rows)
    _say(f"columns left: {', '.join(drafted.unplaced) or '-'}")
    for target, values in drafted.unread_values.items():
        _say(f"{target}: values it could not read: {', '.join(values)}")
    if drafted.missing:
        missing = ", ".join(f"{titles[t]} ({t})" for t in drafted.missing)
        _say(
            f"required fields it could not place: {missing}; name their column under fields: "
            "or give a value under defaults: before importing",
            style="bold red",
        )
        raise typer.Exit(2)


@mapping_app.command("table")
@requires(LOCAL)
def table(ctx: typer.Context) -> None:
    """Print the shipped mappings as the Markdown table in docs/mappings.md."""
    acting(ctx)
    from catalog.importing.mapping import shipped_mappings

    typer.echo(shipped_mappings_markdown(shipped_mappings()))


def shipped_mappings_markdown(mappings: list[Any]) -> str:
    """One row per mapping: name, what recognises a file, the key, the defaults."""

    def code(items: list[str]) -> str:
        return ", ".join(f"`{item}`" for item in items) or "-"

    lines = [
        "| name | recognised by | key | defaults |",
        "|---|---|---|---|",
    ]
    for mapping in mappings:
        recognised = [f"all of {code(mapping.detect.all_of)}"] if mapping.detect.all_of else []
        recognised += [f"one of {code(group)}" for group in mapping.detect.any_of]
        if mapping.records:
            recognised.append(f"records at `{mapping.records}`")
        key = code(mapping.key) if mapping.key else ""
        if mapping.key_fields:
            key = (key + "; " if key else "") + "entry fields " + code(mapping.key_fields)
        defaults = ", ".join(f"{k} = {v}" for k, v in mapping.defaults.items()) or "-"
        lines.append(
            f"| `{mapping.name}` | {'; '.join(recognised) or '-'} | {key or '-'} | {defaults} |"
        )
    return "\n".join(lines)


def _say(message: str, style: str | None = None) -> None:
    errors.print(message, style=style, highlight=False, markup=False, soft_wrap=True)


def _table(title: str, columns: list[str], rows: Sequence[tuple[str, ...]]) -> None:
    """A table on stderr (stdout carries the YAML); values print as written, not as markup."""
    from rich.table import Table
    from rich.text import Text

    shown = Table(title=title)
    for column in columns:
        shown.add_column(column)
    for row in rows:
        shown.add_row(*(Text(value) for value in row))
    errors.print(shown)
