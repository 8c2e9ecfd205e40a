"""Printing: JSON for machines (``--json``), rich tables for people."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any, NoReturn

from rich.console import Console
from rich.table import Table
from rich.text import Text

from schemas.errors import MuluError

console = Console()
errors = Console(stderr=True)


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False, indent=2, default=str) + "\n")


def print_table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    table = Table(title=title, show_lines=False)
    for column in columns:
        table.add_column(column)
    for row in rows:
        # Text, not str: data like "[xls]" must print as written, not as rich markup.
        table.add_row(*(Text("" if v is None else str(v)) for v in row))
    console.print(table)


def print_problem(label: str, message: str, style: str = "bold red") -> None:
    """One line on stderr: a styled label, then the message exactly as written (a message is
    data: "[xls]" in it must print as written, not as rich markup)."""
    errors.print(Text.assemble((label, style), " ", message), highlight=False, soft_wrap=True)


def fail(problem: str | MuluError, code: int | None = None) -> NoReturn:
    """Print the problem in red on stderr (one line) and exit.

    A ``MuluError`` exits with its own code (NotFound 3, InvalidInput 2, Conflict 4,
    Forbidden 5, Unavailable 6, others 1) and prints its message as written (no rich markup);
    a plain string may use rich markup and exits with ``code`` (default 1)."""
    import typer

    if isinstance(problem, MuluError):
        errors.print(
            Text.assemble(("error: ", "bold red"), (problem.message, "red")),
            highlight=False,
            soft_wrap=True,  # one line however long: the terminal wraps it, not rich
        )
        raise typer.Exit(problem.exit_code if code is None else code)
    errors.print(
        f"[bold red]error:[/] [red]{problem}[/]", highlight=False, markup=True, soft_wrap=True
    )
    raise typer.Exit(1 if code is None else code)
