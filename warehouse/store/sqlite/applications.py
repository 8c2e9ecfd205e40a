"""Applications (共享申请, issue 13): applications and application_events."""

from __future__ import annotations

from warehouse.store.sqlite.database import Database


class SqliteApplications:
    def __init__(self, db: Database) -> None:
        self.db = db
