"""Printing: JSON for machines (``--json``), rich tables for people."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Collection, Iterable, Sequence
from typing import Any, NoReturn

from rich import box
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

from schemas.errors import MuluError

console = Console()
errors = Console(stderr=True)


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False, indent=2, default=str) + "\n")


def print_table(
    title: str | None,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    wrap: Collection[str] = (),
    keep: Collection[str] = (),
) -> None:
    """A table for people. What one types next (ids, run ids, 申请编号, codes, logins, dataset
    names, times, numbers: a value without spaces) is never cut: such a column is as wide as
    its widest value and its header wraps instead. When the terminal is narrow, the free-text
    columns (values with spaces, longer Chinese text, and the columns named in ``wrap``; not
    those named in ``keep``) wrap to fit. Only when the identifiers alone are wider than the terminal do they fold onto a
    second line (still whole, never ``…``)."""
    cells = [["" if v is None else str(v) for v in row] for row in rows]
    fixed: list[int | None] = []  # an identifier column's width; None: free text
    headers: list[int | None] = []  # the same, with its header on one line
    for i, column in enumerate(columns):
        values = [row[i] for row in cells if i < len(row)]
        if column in keep or (column not in wrap and _identifier_column(column, values)):
            widest = max((_cells_wide(v) for v in values), default=0)
            word = max((_word_wide(word) for word in column.split()), default=1)
            fixed.append(max(widest, word, 1))
            headers.append(max(widest, cell_len(column), 1))
        else:
            fixed.append(None)
            headers.append(None)
    free = sum(1 for w in fixed if w is None)
    if _needed(headers, boxed=True) + free * _FREE_TEXT_ROOM <= console.width:
        fixed = headers  # room for the headers on one line too
    table = _table(title, fixed, console.width)
    fixed = _narrowed(
        fixed,
        [all(v.isascii() for v in row_values) for row_values in zip(*cells, strict=False)]
        if cells
        else [True] * len(fixed),
        console.width,
    )
    for column, width in zip(columns, fixed, strict=True):
        table.add_column(column, width=width, overflow="fold")
    for row in cells:
        # Text, not str: data like "[xls]" must print as written, not as rich markup.
        table.add_row(*(Text(v) for v in row))
    console.print(table)


_FREE_TEXT_MIN = 10  # cells a free-text column keeps, at least, when it wraps
_FREE_TEXT_ROOM = 20  # more cells it keeps before a header gets a line of its own


def _narrowed(fixed: list[int | None], ascii_only: Sequence[bool], width: int) -> list[int | None]:
    """When the identifiers do not fit even without rules and padding, let the widest of them
    fold (whole, on two lines) rather than cutting every column alike: Chinese names first
    (read, not typed), codes and ids last."""
    fixed = list(fixed)
    n = len(fixed)
    ascii_only = list(ascii_only) + [True] * (n - len(ascii_only))

    def needed() -> int:
        return sum(w if w is not None else _FREE_TEXT_MIN for w in fixed) + n - 1

    while needed() > width and any(w is not None for w in fixed):
        widest = max(
            range(n), key=lambda i: (fixed[i] is not None, not ascii_only[i], fixed[i] or 0)
        )
        fixed[widest] = None
    return fixed


def _needed(fixed: Sequence[int | None], *, boxed: bool) -> int:
    """The width a table takes: its identifiers, the least of each free-text column, and the
    rules and padding (boxed: the usual table; else the lighter one, no edge)."""
    n = len(fixed)
    content = sum(w if w is not None else _FREE_TEXT_MIN for w in fixed)
    return content + (3 * n + 1 if boxed else 3 * n - 3)


def _table(title: str | None, fixed: Sequence[int | None], width: int) -> Table:
    """The usual boxed table when its identifiers fit the terminal; else lighter rules (no
    outer edge, then no padding) so that they still fit whole."""
    if _needed(fixed, boxed=True) <= width:
        return Table(title=title, show_lines=False)
    if _needed(fixed, boxed=False) <= width:
        return Table(
            title=title, box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, show_lines=False
        )
    return Table(
        title=title,
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        padding=(0, 0),
        show_lines=False,
    )


# Headers whose values are typed again (a run id, a code, a login, a dataset, a time) even when
# one holds a space.
_IDENTIFIER_HEADER = re.compile(
    r"(^|[\s_(])(id|ids|run|code|login|dataset|table|seq|at|time|date|until|expires|since)"
    r"($|[\s_):])|编号|代码|登录名|数据集|时间|日期|期限|序号",
    re.IGNORECASE,
)
_DATETIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}:?\d{2}|Z)?)?$"
)
_LONGEST_IDENTIFIER = 48  # a value without spaces longer than this is text (a path, a URL …)
_SHORT_TEXT = 16  # cells: a short Chinese value (an organisation, a status) stays whole


def _identifier_column(header: str, values: Sequence[str]) -> bool:
    present = [v for v in values if v]
    if not present:
        return True
    if _IDENTIFIER_HEADER.search(header) and all(
        _cells_wide(v) <= _LONGEST_IDENTIFIER for v in present
    ):
        return True
    return all(_token(v) for v in present)


def _token(value: str) -> bool:
    """A value one may type again: no spaces (each line of a multi-line cell on its own), or
    a date/time."""
    lines = value.strip().splitlines()
    if len(lines) > 1:
        return all(_token(line) for line in lines if line.strip())
    if _DATETIME.match(value.strip()):
        return True
    if any(char.isspace() for char in value.strip()):
        return False
    wide = cell_len(value)
    if wide > _LONGEST_IDENTIFIER:
        return False
    return value.isascii() or wide <= _SHORT_TEXT


def _word_wide(word: str) -> int:
    """The least width a header word needs: an English word whole; Chinese may break between
    any two characters (two of them, at least)."""
    return cell_len(word) if word.isascii() else min(cell_len(word), 4)


def _cells_wide(value: str) -> int:
    return max((cell_len(line) for line in value.splitlines()), default=0)


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
