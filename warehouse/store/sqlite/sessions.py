"""Portal sessions and login attempts (issue 13): web_sessions, login_attempts. Owned by the web-auth work."""

from __future__ import annotations

from warehouse.store.sqlite.database import Database


class SqliteSessions:
    def __init__(self, db: Database) -> None:
        self.db = db
