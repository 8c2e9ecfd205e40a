"""The audit log (审计日志, issue 13): append-only audit_log with its hash chain."""

from __future__ import annotations

from warehouse.store.sqlite.database import Database


class SqliteAudit:
    def __init__(self, db: Database) -> None:
        self.db = db
