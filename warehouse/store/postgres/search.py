"""The search index (目录检索) in PostgreSQL: being written (issue 14)."""

from __future__ import annotations

from warehouse.store.database import Database


class PostgresSearch:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.location = db.location
