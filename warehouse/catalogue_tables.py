"""The catalogue in DuckDB: the one function that makes catalogue tables queryable there.

DuckDB never attaches ``catalog.sqlite``: in a process that also holds the file open with
Python's sqlite3 (the web server, any command using the store), DuckDB's own SQLite library
would take POSIX locks sqlite3 cannot see, and closing either drops the other's locks; a later
checkpoint then deletes the WAL under a live connection and acknowledged writes are lost.
Instead the store reads the tables (one read transaction, only the columns asked for) and hands
them over as Arrow tables, which DuckDB scans in place.

``attach_catalogue(con, store)`` gives ``con`` a database ``catalog`` (or another name) whose
views ``<name>.<table>`` show those tables as stored (times as ISO text, lists as JSON text).
They are a copy taken when attached: later catalogue writes are not seen until attached again.
The views cannot be written to (DuckDB refuses DELETE/UPDATE on a view), and writing would only
change the copy anyway.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

import duckdb
import pyarrow as pa

from warehouse.lake import quote_identifier
from warehouse.store import Store

CATALOG = "catalog"

# {table: the columns to read, or None for all}
TableColumns = Mapping[str, Sequence[str] | None]


def attach_catalogue(
    con: duckdb.DuckDBPyConnection,
    store: Store,
    tables: TableColumns | None = None,
    *,
    name: str = CATALOG,
    latest_updates_until: dt.datetime | None = None,
) -> list[str]:
    """Make the catalogue's tables (every one, or only ``tables`` with only their columns)
    queryable in ``con`` as ``<name>.<table>``, from one consistent read of the store.
    ``latest_updates_until``: also ``<name>.latest_updates`` (code, updated_at), each entry's
    latest update event up to that moment (``SqlExport.latest_updates``).
    Attaching again replaces the tables with a fresh read. Returns the tables attached."""
    with store.snapshot():
        arrow = store.export.all_tables() if tables is None else store.export.tables(tables)
        if latest_updates_until is not None:
            arrow["latest_updates"] = store.export.latest_updates(latest_updates_until)
    _show(con, arrow, name)
    return list(arrow)


def _show(con: duckdb.DuckDBPyConnection, tables: Mapping[str, pa.Table], name: str) -> None:
    """The Arrow tables as views ``<name>.<table>`` in ``con``."""
    database = quote_identifier(name)
    attached = con.execute(
        "SELECT count(*) FROM duckdb_databases() WHERE database_name = ?", [name]
    ).fetchone()
    if not attached or not attached[0]:
        con.execute(f"ATTACH ':memory:' AS {database}")
    for table, data in tables.items():
        # The Arrow table itself is registered under a hidden name in the connection's temp
        # schema; the view in ``name`` is what SQL uses.
        hidden = f"_{name}_{table}"
        con.register(hidden, data)
        con.execute(
            f"CREATE OR REPLACE VIEW {database}.main.{quote_identifier(table)} AS "
            f"SELECT * FROM temp.main.{quote_identifier(hidden)}"
        )
