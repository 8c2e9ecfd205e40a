"""The quality repository in SQLite (being moved here from the modules that held its SQL)."""

from __future__ import annotations

from warehouse.store.sqlite.database import Database


class SqliteQuality:
    def __init__(self, db: Database) -> None:
        self.db = db
