"""Portal sessions and login attempts (issue 13), in SQL both stores accept: ``web_sessions``,
``login_attempts``. Both live in the store, not in a process: any server worker serves any
session, and the rate limits count every worker's attempts.

A session row is keyed by the sha256 of the cookie's secret (``id_hash``): the secret itself is
never stored. Expiry, rate limits and who may do what live in ``catalog.sharing.sessions``; this
stores and counts what it is given. Times are catalogue ISO text, compared as text.
"""

from __future__ import annotations

from typing import Any

from warehouse.store.database import Database

SESSION_FIELDS = (
    "id_hash",
    "login",
    "csrf_token",
    "via",
    "remote",
    "created_at",
    "expires_at",
    "last_seen_at",
    "ended_at",
)


class SqlSessions:
    def __init__(self, db: Database) -> None:
        self.db = db

    # --- sessions ----------------------------------------------------------------------
    def add(self, session: dict[str, Any]) -> None:
        """A new session: every ``SESSION_FIELDS`` but ``ended_at``."""
        fields = SESSION_FIELDS[:-1]
        with self.db.transaction() as con:
            con.execute(
                f"INSERT INTO web_sessions ({', '.join(fields)}) "
                f"VALUES ({', '.join('?' * len(fields))})",
                tuple(session[field] for field in fields),
            )

    def get(self, id_hash: str) -> dict[str, Any] | None:
        row = (
            self.db.connection()
            .execute(
                f"SELECT {', '.join(SESSION_FIELDS)} FROM web_sessions WHERE id_hash = ?",
                (id_hash,),
            )
            .fetchone()
        )
        return None if row is None else dict(row)

    def of_login(self, login: str, *, live_at: str | None = None) -> list[dict[str, Any]]:
        """The user's sessions, oldest first; with ``live_at`` only those neither ended nor
        expired at that time."""
        sql = f"SELECT {', '.join(SESSION_FIELDS)} FROM web_sessions WHERE login = ?"
        params: tuple[Any, ...] = (login,)
        if live_at is not None:
            sql += " AND ended_at IS NULL AND expires_at > ?"
            params = (login, live_at)
        rows = self.db.connection().execute(sql + " ORDER BY created_at, id_hash", params)
        return [dict(row) for row in rows]

    def touch(self, id_hash: str, at: str) -> None:
        with self.db.transaction() as con:
            con.execute("UPDATE web_sessions SET last_seen_at = ? WHERE id_hash = ?", (at, id_hash))

    def end(self, id_hash: str, at: str) -> bool:
        """End one session; False if it was ended already (or does not exist)."""
        with self.db.transaction() as con:
            cursor = con.execute(
                "UPDATE web_sessions SET ended_at = ? WHERE id_hash = ? AND ended_at IS NULL",
                (at, id_hash),
            )
            return cursor.rowcount > 0

    def end_all(self, login: str, at: str) -> int:
        """End every open session of ``login``; how many were open."""
        with self.db.transaction() as con:
            cursor = con.execute(
                "UPDATE web_sessions SET ended_at = ? WHERE login = ? AND ended_at IS NULL",
                (at, login),
            )
            return cursor.rowcount

    # --- login attempts ----------------------------------------------------------------
    def add_attempt(self, login: str, remote: str, at: str, ok: bool) -> int:
        """Record an attempt; its id. Inside the caller's transaction when one is open (the
        rate check counts and records a pending failure under one write lock)."""
        with self.db.transaction() as con:
            row = con.execute(
                "INSERT INTO login_attempts (login, remote, at, ok) VALUES (?, ?, ?, ?) "
                "RETURNING id",
                (login, remote, at, int(ok)),
            ).fetchone()
            return int(row[0])

    def succeed_attempt(self, attempt_id: int, at: str) -> None:
        """A pending attempt (recorded as failed before the password was checked) succeeded
        at ``at``."""
        with self.db.transaction() as con:
            con.execute("UPDATE login_attempts SET ok = 1, at = ? WHERE id = ?", (at, attempt_id))

    def failures(
        self, *, since: str, login: str | None = None, remote: str | None = None
    ) -> list[str]:
        """The times (oldest first) of failed attempts after ``since`` by ``login`` or from
        ``remote`` (exactly one of them). For a login, only failures after its last success
        count."""
        con = self.db.connection()
        if login is not None:
            rows = con.execute(
                "SELECT at FROM login_attempts WHERE login = ? AND ok = 0 AND at > ? "
                "AND at > COALESCE((SELECT MAX(at) FROM login_attempts "
                "WHERE login = ? AND ok = 1), '') ORDER BY at",
                (login, since, login),
            )
        elif remote is not None:
            rows = con.execute(
                "SELECT at FROM login_attempts WHERE remote = ? AND ok = 0 AND at > ? ORDER BY at",
                (remote, since),
            )
        else:
            raise ValueError("failures: name a login or a remote address")
        return [row[0] for row in rows]

    def attempts(self, login: str | None = None) -> list[dict[str, Any]]:
        """Every attempt (of one login, or all) in order."""
        sql = "SELECT id, login, remote, at, ok FROM login_attempts"
        con = self.db.connection()
        rows = (
            con.execute(sql + " WHERE login = ? ORDER BY id", (login,))
            if login is not None
            else con.execute(sql + " ORDER BY id")
        )
        return [{**dict(row), "ok": bool(row["ok"])} for row in rows]
