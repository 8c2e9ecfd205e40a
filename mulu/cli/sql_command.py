"""``mulu sql``: query the warehouse and the catalogue in one DuckDB session.

``mulu sql "SELECT …"`` prints a table (``--json``: a list of objects); ``mulu sql`` alone opens
a shell. Every dataset is a table by its name and the catalogue sits beside it
(``warehouse/analyst.py``, ``docs/analysts.md``). The session is read-only: a statement that
would attach a database, write or read files outside the workspace's lake, load an extension
or change a setting fails (exit status 5 for a one-off query).

Who acts decides the session (issue 13): the local admin (``--local-admin``, a workspace
without users) and signed-in admins get the full one above; any other signed-in user gets a
session of their own (``catalog.sharing.analyst``): only the datasets they may read now, PII
masked unless granted, no catalogue, rechecked before every statement and audited.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import decimal
import json
import math
import re
import sys
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import typer

from catalog.policies import ANALYST
from mulu.cli.context import options
from mulu.cli.output import console, errors, fail, print_json
from mulu.cli.policy import requires
from schemas.errors import Forbidden, MuluError, NotFound

TABLE_ROWS = 1000
# What leaves the shell, as a line of its own (psql's \q too).
QUIT_WORDS = (".quit", ".exit", ".q", "\\q", "quit", "exit")
HISTORY_FILE = ".sql_history"
HISTORY_LENGTH = 2000
SHELL_HELP = """\
End a statement with ; (it may span lines). Plain names: every dataset (di_bao …) and the
catalogue (entries, organisations, entry_history, entry_updates, imports …); raw tables as
lake.<name> and catalog.<name>.
The session only reads: no ATTACH, COPY, EXPORT, INSTALL/LOAD or SET of settings.
  .tables   what can be queried, with row counts
  .help     this text
  .quit     leave (also .exit, \\q, quit, exit or Ctrl-D)"""
GRANTED_HELP = """\
End a statement with ; (it may span lines). This session holds only the datasets granted to
{who}, each a table by its name, with the granted columns and rows; personal data (PII) is
masked unless the grant shows it. Every read is recorded in the audit log. When a grant ends
its table is removed at once (with the tables and views you made here).
No files, ATTACH, COPY, EXPORT, INSTALL/LOAD, SET of settings or catalogue tables.
  .tables   what can be queried, with row counts
  .help     this text
  .quit     leave (also .exit, \\q, quit, exit or Ctrl-D)"""


@requires(ANALYST)  # each user sees only what was granted to them
def sql(
    ctx: typer.Context,
    query: str | None = typer.Argument(
        None, help="SQL to run; without it, an interactive shell opens."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list of objects."),
    limit: int | None = typer.Option(
        None,
        "--limit",
        min=0,
        help=f"Most rows to print (default: {TABLE_ROWS} in a table, all with --json; 0: all).",
    ),
    local_admin: bool = typer.Option(
        False,
        "--local-admin",
        help="The full session (every table and the catalogue) as the local admin, as "
        "`mulu --local-admin sql`.",
    ),
) -> None:
    """Query datasets (and, for admins, the catalogue) with DuckDB SQL (a shell without QUERY).

    A signed-in user other than an admin gets a session of their own: only the datasets granted to them (共享授权), PII masked unless granted, every read recorded in the audit log."""
    import duckdb

    from catalog.sharing.analyst import full_session_for
    from mulu.cli.policy import acting
    from warehouse.analyst import SessionError, catalogue_tables_in, open_session

    if local_admin:
        options(ctx).local_admin = True
    who = acting(ctx)
    workspace = options(ctx).workspace()
    if not full_session_for(who):
        _granted(ctx, who, query, as_json, limit)
        return
    # A one-off query reads only the catalogue tables it names; the shell reads them all.
    tables = catalogue_tables_in(query) if query is not None else None
    try:
        con = open_session(workspace, catalogue=True if tables is None else tables)
    except (duckdb.Error, SessionError) as exc:
        fail(_escaped(f"cannot open the workspace {workspace.root}: {exc}"))
    try:
        if query is None:
            failed = SqlShell(con, workspace.root, limit).run()
            if failed:
                raise typer.Exit(1)
        else:
            _run_once(con, query, as_json, limit)
    finally:
        con.close()


def _granted(ctx: typer.Context, who, query: str | None, as_json: bool, limit: int | None) -> None:
    """A signed-in user's own session (``catalog.sharing.analyst``)."""
    import duckdb

    from catalog.sharing.analyst import open_session_for
    from warehouse.analyst import names_in
    from warehouse.store import Store

    workspace = options(ctx).workspace()
    # A one-off query copies only the datasets it names; the shell copies all.
    named = names_in(query) if query is not None else None
    with Store.open(workspace) as store:
        try:
            con = open_session_for(store, workspace, who, datasets=named)
        except duckdb.Error as exc:
            fail(_escaped(f"cannot open the workspace {workspace.root}: {exc}"))
        ungranted = _ungranted_hint(store, workspace, who)
        try:
            if query is None:
                failed = SqlShell(
                    con, workspace.root, limit, granted_to=who.actor, ungranted=ungranted
                ).run()
                if failed:
                    raise typer.Exit(1)
            else:
                _run_once(con, query, as_json, limit, ungranted=ungranted)
        finally:
            con.close()


_MISSING_TABLE = re.compile(r"Table with name (\S+?) does not exist", re.IGNORECASE)
_LOCKED_SETTING = "the configuration has been locked"


def _ungranted_hint(store, workspace, who) -> Callable[[Exception], MuluError | None]:
    """For a per-user session's failed statement: when it names a missing table that is a
    dataset of the workspace, why ``who`` cannot read it (Forbidden: no grant, and how to
    apply; NotFound: their own dataset, not published yet); else None."""
    from catalog.sharing.grants import Grants

    def hint(exc: Exception) -> MuluError | None:
        found = _MISSING_TABLE.search(str(exc))
        if found is None:
            return None
        name = found.group(1).strip("\"'`")
        grants = Grants(store, workspace)
        datasets = {key.lower(): info for key, info in grants.datasets().items()}
        info = datasets.get(name.lower())
        if info is None:
            return None
        try:
            grants.access(who, info.name)
        except MuluError:
            return Forbidden(
                f"没有数据集 {info.name} 的共享授权 (no grant for {info.name}): "
                f"申请共享 mulu sharing apply {info.entry_code}"
            )
        return NotFound(
            f"数据集 {info.name} 尚未发布，暂无可查询的数据 (not published yet): "
            f"mulu quality runs --dataset {info.name}"
        )

    return hint


def _refused(exc: Exception) -> bool:
    """A statement the session refuses (read-only, files, settings): exit status 5."""
    import duckdb

    return isinstance(exc, duckdb.PermissionException) or (
        isinstance(exc, duckdb.InvalidInputException) and _LOCKED_SETTING in str(exc)
    )


def _run_once(
    con,
    query: str,
    as_json: bool,
    limit: int | None,
    ungranted: Callable[[Exception], MuluError | None] | None = None,
) -> None:
    import duckdb

    from warehouse.analyst import run_query

    shown = _rows_to_show(limit, as_json)
    try:
        columns, rows = run_query(con, query, limit=None if shown is None else shown + 1)
    except duckdb.Error as exc:
        hint = ungranted(exc) if ungranted is not None else None
        if hint is not None:
            fail(hint)
        if _refused(exc):  # the session is read-only
            fail(_escaped(str(exc)), code=Forbidden.exit_code)
        fail(_escaped(str(exc)))
    except KeyboardInterrupt:
        fail("interrupted", code=130)
    if as_json:
        print_json(rows_as_objects(columns, rows[:shown]))
        if shown is not None and len(rows) > shown:
            errors.print(f"only the first {shown} rows were printed (--limit)", highlight=False)
    else:
        print_result(columns, rows, shown)


def _rows_to_show(limit: int | None, as_json: bool) -> int | None:
    if limit == 0:
        return None
    if limit is None:
        return None if as_json else TABLE_ROWS
    return limit


# --- the shell -----------------------------------------------------------------------------
class SqlShell:
    """Reads statements (until ``;``) and dot commands from stdin; prompts only on a terminal."""

    def __init__(
        self,
        con,
        home: Path,
        limit: int | None,
        granted_to: str | None = None,
        ungranted: Callable[[Exception], MuluError | None] | None = None,
    ):
        self.con = con
        self.ungranted = ungranted
        self.home = home
        self.granted_to = granted_to
        self.shown = _rows_to_show(limit, as_json=False)
        self.interactive = sys.stdin.isatty()
        self.failed = False

    def run(self) -> bool:
        """Run until .quit or end of input; True when some statement failed (exit status 1
        when input was piped, as sqlite3 does)."""
        history = _History(self.home) if self.interactive else None
        if self.interactive:
            console.print(
                "Mulu SQL (DuckDB). Statements end with ;  .help for help, .quit to leave.",
                highlight=False,
            )
        try:
            self._loop()
        finally:
            if history:
                history.save()
        return self.failed and not self.interactive

    def _loop(self) -> None:
        buffer: list[str] = []
        while True:
            prompt = ("mulu> " if not buffer else "  ...> ") if self.interactive else ""
            try:
                line = input(prompt)
            except EOFError:
                break
            except KeyboardInterrupt:
                buffer = []
                console.print()
                continue
            if not buffer and line.strip().lower().rstrip(";") in QUIT_WORDS:
                return
            if not buffer and line.strip().startswith((".", "\\")):
                if not self._dot_command(line.strip()):
                    return
                continue
            buffer.append(line)
            text = "\n".join(buffer)
            if statement_complete(text):
                buffer = []
                self._execute(text)
        leftover = "\n".join(buffer)
        if _has_sql(leftover):  # piped input may omit the last ;
            self._execute(leftover)

    def _dot_command(self, line: str) -> bool:
        """Run one dot command; False to leave the shell."""
        command = line.split()[0].lower()
        if command in QUIT_WORDS:
            return False
        if command == ".help":
            text = (
                SHELL_HELP if self.granted_to is None else GRANTED_HELP.format(who=self.granted_to)
            )
            console.print(text, highlight=False, markup=False)
        elif command == ".tables":
            from warehouse.analyst import describe_session

            print_session_objects(describe_session(self.con))
        else:
            self._error(f"unknown command {command}: try .help")
        return True

    def _execute(self, text: str) -> None:
        import duckdb

        from warehouse.analyst import refresh_views, run_query

        if not _has_sql(text):
            return
        try:
            refresh_views(self.con)  # tables another process added or dropped since
            columns, rows = run_query(
                self.con, text, limit=None if self.shown is None else self.shown + 1
            )
        except duckdb.Error as exc:
            self._notices()
            hint = self.ungranted(exc) if self.ungranted is not None else None
            self._error(str(exc) if hint is None else hint.message)
            return
        except KeyboardInterrupt:
            self._error("interrupted")
            return
        self._notices()
        if columns:
            print_result(columns, rows, self.shown)

    def _notices(self) -> None:
        """What a per-user session says happened before the statement (a grant ended)."""
        take = getattr(self.con, "take_notices", None)
        for notice in take() if take is not None else ():
            errors.print(f"[bold yellow]注意:[/] {_escaped(notice)}", highlight=False)

    def _error(self, message: str) -> None:
        self.failed = True
        errors.print(f"[bold red]error:[/] {_escaped(message)}", highlight=False, soft_wrap=True)


class _History:
    """readline history in the workspace (``.sql_history``), when readline is available."""

    def __init__(self, home: Path):
        self.path = home / HISTORY_FILE
        try:
            import readline
        except ImportError:  # e.g. Windows without pyreadline
            self.readline = None
            return
        self.readline = readline
        readline.set_history_length(HISTORY_LENGTH)
        if self.path.exists():
            with contextlib.suppress(OSError):
                readline.read_history_file(self.path)

    def save(self) -> None:
        if self.readline is None or not self.path.parent.is_dir():
            return
        with contextlib.suppress(OSError):
            self.readline.write_history_file(self.path)


def statement_complete(text: str) -> bool:
    """True when ``text`` ends with a ``;`` outside quotes and comments."""
    state: str | None = None  # None, ', ", --, /*, $$
    last = ""
    i = 0
    while i < len(text):
        char, pair = text[i], text[i : i + 2]
        if state is None:
            if pair in ("--", "/*", "$$"):
                state = pair
                if pair == "$$":
                    last = "$"
                i += 2
                continue
            if char in "'\"":
                state = char
            if not char.isspace():
                last = char
        elif state == "--":
            if char == "\n":
                state = None
        elif state in ("/*", "$$"):
            closing = "*/" if state == "/*" else "$$"
            if pair == closing:
                state = None
                i += 2
                continue
        elif char == state:
            state = None
        i += 1
    return state in (None, "--") and last == ";"


def _has_sql(text: str) -> bool:
    stripped = "\n".join(line for line in text.splitlines() if not line.strip().startswith("--"))
    return bool(stripped.strip().strip(";").strip())


# --- printing ------------------------------------------------------------------------------
def print_result(columns: Sequence[str], rows: Sequence[Sequence[Any]], shown: int | None) -> None:
    from rich.table import Table
    from rich.text import Text

    visible = rows if shown is None else rows[:shown]
    table = Table(show_lines=False)
    for i, column in enumerate(columns):
        numeric = bool(visible) and all(_is_number(row[i]) or row[i] is None for row in visible)
        table.add_column(Text(column), justify="right" if numeric else "left")
    for row in visible:
        table.add_row(
            *(Text("NULL", style="dim") if value is None else Text(_cell(value)) for value in row)
        )
    console.print(table)
    more = shown is not None and len(rows) > shown
    count = f"first {shown} rows (--limit to see more)" if more else _plural(len(visible), "row")
    console.print(count, style="dim", highlight=False)


def print_session_objects(objects) -> None:
    from rich.table import Table
    from rich.text import Text

    table = Table(show_lines=False)
    table.add_column("name")
    table.add_column("from")
    table.add_column("rows", justify="right")
    for item in objects:
        rows = Text(f"? {item.problem}", style="red") if item.rows is None else str(item.rows)
        table.add_row(Text(item.name), Text(item.source), rows)
    console.print(table)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, decimal.Decimal)) and not isinstance(value, bool)


def _cell(value: Any) -> str:
    if isinstance(value, (list, dict)):
        return json.dumps(_jsonable(value), ensure_ascii=False)
    return str(value)


def rows_as_objects(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[dict]:
    """One JSON-ready object per row; a repeated column name gets ``_2``, ``_3`` …"""
    keys: list[str] = []
    for column in columns:
        key, n = column, 1
        while key in keys:
            n += 1
            key = f"{column}_{n}"
        keys.append(key)
    return [{key: _jsonable(value) for key, value in zip(keys, row, strict=True)} for row in rows]


def _jsonable(value: Any) -> Any:
    """Dates and times as ISO 8601, decimals as numbers (as text beyond 15 digits, which a
    float would round), blobs as base64, NaN and infinities as text, the rest as JSON."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        if not value.is_finite() or len(value.as_tuple().digits) > 15:
            return str(value)
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, (uuid.UUID, dt.timedelta)):
        return str(value)
    return str(value)


def _escaped(message: str) -> str:
    from rich.markup import escape

    return escape(message)
