"""The benchmarks' catalogues: the demo district (35,700 entries), and ×N copies of it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

TODAY = dt.date(2026, 11, 15)


def build(home: Path, copies: int, *, events: bool = True) -> int:
    """The demo district in ``home``, its entries (and, with ``events``, their update events)
    repeated ``copies`` times with new codes (``<code>.<copy>``). Returns the entry count."""
    from catalog.demo import build_demo
    from catalog.directory import Directory
    from warehouse.store.sqlite.database import SqliteDatabase as Database
    from warehouse.workspace import Workspace

    workspace = Workspace(home).ensure()
    directory = Directory.open(workspace, user="bench")
    try:
        build_demo(directory, seed=2024, today=TODAY)
    finally:
        directory.close()
    database = Database(workspace.metadata_db)
    try:
        con = database.connection()
        columns = [r[1] for r in con.execute("PRAGMA table_info(entries)")]
        for copy in range(1, copies):
            select = ", ".join(
                f"code || '.{copy}'"
                if c == "code"
                else f"source_key || '.{copy}'"
                if c == "source_key"
                else c
                for c in columns
            )
            with database.transaction():
                con.execute(
                    f"INSERT INTO entries ({', '.join(columns)}) SELECT {select} "
                    f"FROM entries WHERE code NOT LIKE '%.%'"
                )
                if events:
                    con.execute(
                        "INSERT INTO entry_updates (code, updated_at, source, reported_by, "
                        "note, recorded_at) SELECT code || ?, updated_at, source, reported_by, "
                        "note, recorded_at FROM entry_updates WHERE code NOT LIKE '%.%'",
                        (f".{copy}",),
                    )
        return con.execute("SELECT count(*) FROM entries").fetchone()[0]
    finally:
        database.close()
