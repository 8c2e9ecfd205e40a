"""The audit log (审计日志, issue 13): append-only ``audit_log`` with its hash chain.

Each row's ``hash`` is the sha256 of a canonical serialisation of every other column of the row
(JSON, sorted keys, ``ensure_ascii=False``, compact separators), ``seq`` and ``prev_hash``
included; ``prev_hash`` is the previous row's ``hash`` (``GENESIS_HASH``, 64 zeros, for the
first). ``append`` reads the last row and inserts the next one inside one write transaction,
so appenders in any number of threads and processes queue on the store's write lock (SQLite's
``BEGIN IMMEDIATE``, PostgreSQL's advisory lock) and keep one unbroken chain.

``seq`` is taken one past the highest ever handed out, so rows removed from the tail leave a
gap that the next append makes visible. SQLite keeps that number in ``sqlite_sequence`` (an
``AUTOINCREMENT`` table's, kept even when its rows go); PostgreSQL in ``audit_log_top``, raised
by a trigger in the inserting transaction (a sequence would not roll back with an append that
failed, and leave a false gap).

The table's triggers refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL); someone who owns
the database can drop them, which is what the hash chain is for
(``catalog.sharing.audit.AuditLog.verify``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Generator, Mapping
from typing import Any

from warehouse.store.database import Database
from warehouse.store.fields import AUDIT_COLUMNS

GENESIS_HASH = "0" * 64

# Every column, in table order; the hash covers all but ``hash``.
COLUMNS = AUDIT_COLUMNS
HASHED = COLUMNS[:-1]
# What the caller gives ``append`` (seq, prev_hash and hash are the store's).
RECORD_FIELDS = COLUMNS[1:-2]
NO_LIMIT = 2**63 - 1  # LIMIT for "all" (SQLite has no LIMIT ALL, PostgreSQL no LIMIT -1)
# The highest seq ever handed out, by dialect (see the module doc).
TOP_SEQ = {
    "sqlite": "SELECT seq FROM sqlite_sequence WHERE name = 'audit_log'",
    "postgresql": "SELECT seq FROM audit_log_top",
}
FILTERS = ("actor", "actor_org", "dataset", "entry_code", "action", "channel", "grant_id")


def digest(row: Mapping[str, Any]) -> str:
    """The sha256 (hex) of a row's canonical serialisation: every column but ``hash``."""
    canonical = json.dumps(
        {column: row.get(column) for column in HASHED},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _where(
    filters: Mapping[str, Any], since: str | None, until: str | None
) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    for column in FILTERS:
        value = filters.get(column)
        if value is not None and value != "":
            clauses.append(f"{column} = ?")
            params.append(value)
    unknown = set(filters) - set(FILTERS)
    if unknown:
        raise ValueError(f"unknown audit filters: {sorted(unknown)}")
    if since:
        clauses.append("at >= ?")
        params.append(since)
    if until:
        clauses.append("at <= ?")
        params.append(until)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


class SqlAudit:
    def __init__(self, db: Database) -> None:
        self.db = db

    def digest(self, row: Mapping[str, Any]) -> str:
        return digest(row)

    @property
    def genesis(self) -> str:
        return GENESIS_HASH

    def append(self, record: Mapping[str, Any]) -> int:
        """Insert one row (``RECORD_FIELDS``; ``columns``/``detail`` as JSON text) chained to
        the last; returns its seq."""
        missing = [f for f in ("at", "actor", "action") if not record.get(f)]
        if missing:
            raise ValueError(f"audit record lacks {missing}")
        with self.db.transaction() as con:
            last = con.execute(
                "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1"
            ).fetchone()
            handed = con.execute(TOP_SEQ[self.db.dialect]).fetchone()
            top = max(last["seq"] if last else 0, handed[0] if handed else 0)
            row: dict[str, Any] = {field: record.get(field) for field in RECORD_FIELDS}
            if row["detail"] is None:
                row["detail"] = "{}"
            row["seq"] = top + 1
            row["prev_hash"] = last["hash"] if last else GENESIS_HASH
            row["hash"] = digest(row)
            con.execute(
                f"INSERT INTO audit_log ({', '.join(COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(COLUMNS))})",
                tuple(row[column] for column in COLUMNS),
            )
            return int(row["seq"])

    def query(
        self,
        *,
        since: str | None = None,
        until: str | None = None,
        limit: int | None = 100,
        offset: int = 0,
        newest_first: bool = True,
        **filters: Any,
    ) -> list[dict[str, Any]]:
        """Rows matching every filter given (``FILTERS`` equal; ``since``/``until`` on ``at``,
        inclusive), newest first unless told."""
        where, params = _where(filters, since, until)
        order = "DESC" if newest_first else "ASC"
        sql = f"SELECT {', '.join(COLUMNS)} FROM audit_log{where} ORDER BY seq {order}"
        if limit is not None:
            sql += " LIMIT ? OFFSET ?"
            params += [int(limit), int(offset)]
        elif offset:
            sql += " LIMIT ? OFFSET ?"
            params += [NO_LIMIT, int(offset)]
        return [dict(row) for row in self.db.connection().execute(sql, params)]

    def count(self, *, since: str | None = None, until: str | None = None, **filters: Any) -> int:
        where, params = _where(filters, since, until)
        row = self.db.connection().execute(f"SELECT count(*) FROM audit_log{where}", params)
        return int(row.fetchone()[0])

    def iterate(
        self,
        *,
        since: str | None = None,
        until: str | None = None,
        batch: int = 1000,
        **filters: Any,
    ) -> Generator[dict[str, Any], None, None]:
        """Every matching row in seq order, read in batches (keyset on seq), for verify and
        export: memory stays flat however long the log."""
        where, params = _where(filters, since, until)
        joiner = " AND " if where else " WHERE "
        after = 0
        while True:
            # This thread's connection, batch by batch, no cursor kept across a yield: a web
            # response may resume the generator on another worker thread.
            rows = (
                self.db.connection()
                .execute(
                    f"SELECT {', '.join(COLUMNS)} FROM audit_log{where}{joiner}seq > ? "
                    "ORDER BY seq LIMIT ?",
                    [*params, after, batch],
                )
                .fetchall()
            )
            if not rows:
                return
            for row in rows:
                yield dict(row)
            after = rows[-1]["seq"]

    def top_seq(self) -> int:
        """The highest seq ever handed out (kept even when rows are gone)."""
        row = self.db.connection().execute(TOP_SEQ[self.db.dialect]).fetchone()
        return int(row[0]) if row else 0

    def last(self) -> dict[str, Any] | None:
        row = (
            self.db.connection()
            .execute(f"SELECT {', '.join(COLUMNS)} FROM audit_log ORDER BY seq DESC LIMIT 1")
            .fetchone()
        )
        return dict(row) if row else None

    def get(self, seq: int) -> dict[str, Any] | None:
        row = (
            self.db.connection()
            .execute(f"SELECT {', '.join(COLUMNS)} FROM audit_log WHERE seq = ?", (seq,))
            .fetchone()
        )
        return dict(row) if row else None
