"""The PostgreSQL index's "updated" facet column reads a date as SQLite's strftime('%s') does."""

from __future__ import annotations

import sqlite3

import pytest

from warehouse.store.postgres.search import sqlite_epoch

VALUES = [
    "2026-12-07",
    "2026-12-07T08:30",
    "2026-12-07 08:30:15",
    "2026-12-07T08:30:15.250",
    "2026-12-07T08:30:15Z",
    "2026-12-07T08:30:15+08:00",
    "2026-12-07T08:30:15-05:30",
    "2026-02-31",  # rolls over into March, as in SQLite
    "2026-12-07T24:00",
    "1969-07-20T20:17",
    "2026-12",
    "2026",  # a bare number: a Julian day number to SQLite
    "2026.5",
    "0",
    "2026/12/07",
    "2026-13-01",
    "",
    "not a date",
]


@pytest.mark.parametrize("value", VALUES)
def test_the_same_seconds_as_sqlite(value: str):
    con = sqlite3.connect(":memory:")
    expected = con.execute("SELECT CAST(strftime('%s', ?) AS INTEGER)", (value,)).fetchone()[0]
    assert sqlite_epoch(value) == expected
