"""What every route group shares: a metadata connection per request, errors as JSON."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator

from fastapi import HTTPException

from warehouse import metadata
from warehouse.catalog_store import row_to_entry
from warehouse.workspace import Workspace


@contextlib.contextmanager
def connection(workspace: Workspace) -> Iterator[sqlite3.Connection]:
    con = metadata.connect(workspace.metadata_db)
    try:
        yield con
    finally:
        con.close()


def entry_or_404(con: sqlite3.Connection, code: str) -> dict:
    for candidate in (code, code.replace("-", "/", 1)):
        row = con.execute("SELECT * FROM entries WHERE code = ?", (candidate,)).fetchone()
        if row is not None:
            return row_to_entry(row)
    raise HTTPException(status_code=404, detail=f"no entry {code}")


def organisation_or_404(con: sqlite3.Connection, key: str) -> dict:
    row = con.execute("SELECT * FROM organisations WHERE code = ? OR name = ? LIMIT 1",
                      (key, key)).fetchone()
    if row is None:
        raise HTTPException(status_code=404, detail=f"no organisation {key}")
    return dict(row)
