"""Grants (共享授权, issue 13): the grants table."""

from __future__ import annotations

from warehouse.store.sqlite.database import Database


class SqliteGrants:
    def __init__(self, db: Database) -> None:
        self.db = db
