"""Users (issue 13), in SQL both stores accept: ``users``, ``user_roles``, ``api_tokens`` and
the log of every change (``user_events``). Hashing, policies and expiry rules live in ``catalog.sharing``; this
stores what it is given (hashes only, never a password or a token secret)."""

from __future__ import annotations

from typing import Any

from warehouse.store.database import Database

USER_FIELDS = (
    "login",
    "display_name",
    "org_code",
    "password_hash",
    "active",
    "created_at",
    "created_by",
)
TOKEN_FIELDS = (
    "id",
    "login",
    "name",
    "created_at",
    "created_by",
    "expires_at",
    "revoked_at",
    "revoked_by",
    "last_used_at",
)


def _user(row: Any, roles: list[str]) -> dict[str, Any]:
    user = dict(row)
    user["active"] = bool(user["active"])
    user["roles"] = roles
    return user


class SqlUsers:
    def __init__(self, db: Database) -> None:
        self.db = db

    # --- users -------------------------------------------------------------------------
    def get(self, login: str) -> dict[str, Any] | None:
        """The user with its ``roles`` (sorted) and ``password_hash``, or None."""
        con = self.db.connection()
        row = con.execute(
            f"SELECT {', '.join(USER_FIELDS)} FROM users WHERE login = ?", (login,)
        ).fetchone()
        if row is None:
            return None
        return _user(row, self.roles(login))

    def all(self) -> list[dict[str, Any]]:
        """Every user in login order, with ``roles``."""
        con = self.db.connection()
        roles: dict[str, list[str]] = {}
        for login, role in con.execute("SELECT login, role FROM user_roles ORDER BY login, role"):
            roles.setdefault(login, []).append(role)
        rows = con.execute(f"SELECT {', '.join(USER_FIELDS)} FROM users ORDER BY login")
        return [_user(row, roles.get(row["login"], [])) for row in rows]

    def insert(self, user: dict[str, Any]) -> None:
        """A new user (``USER_FIELDS``); the caller checks the login is free."""
        with self.db.transaction() as con:
            con.execute(
                f"INSERT INTO users ({', '.join(USER_FIELDS)}) VALUES "
                f"({', '.join('?' * len(USER_FIELDS))})",
                tuple(user.get(field) for field in USER_FIELDS),
            )

    def set_active(self, login: str, active: bool) -> None:
        with self.db.transaction() as con:
            con.execute("UPDATE users SET active = ? WHERE login = ?", (int(active), login))

    def set_password_hash(self, login: str, password_hash: str) -> None:
        with self.db.transaction() as con:
            con.execute(
                "UPDATE users SET password_hash = ? WHERE login = ?", (password_hash, login)
            )

    # --- roles -------------------------------------------------------------------------
    def roles(self, login: str) -> list[str]:
        rows = self.db.connection().execute(
            "SELECT role FROM user_roles WHERE login = ? ORDER BY role", (login,)
        )
        return [row[0] for row in rows]

    def grant(self, login: str, role: str, at: str, by: str) -> bool:
        """Give ``role``; False if the user held it already."""
        with self.db.transaction() as con:
            cursor = con.execute(
                "INSERT INTO user_roles (login, role, granted_at, granted_by) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (login, role) DO NOTHING",
                (login, role, at, by),
            )
            return cursor.rowcount > 0

    def revoke(self, login: str, role: str) -> bool:
        """Take ``role`` away; False if the user did not hold it."""
        with self.db.transaction() as con:
            cursor = con.execute(
                "DELETE FROM user_roles WHERE login = ? AND role = ?", (login, role)
            )
            return cursor.rowcount > 0

    # --- API tokens --------------------------------------------------------------------
    def add_token(self, token: dict[str, Any]) -> int:
        """A new token: login, name, token_hash, created_at, created_by, expires_at. Its id."""
        fields = ("login", "name", "token_hash", "created_at", "created_by", "expires_at")
        with self.db.transaction() as con:
            row = con.execute(
                f"INSERT INTO api_tokens ({', '.join(fields)}) "
                f"VALUES ({', '.join('?' * len(fields))}) RETURNING id",
                tuple(token[field] for field in fields),
            ).fetchone()
            return int(row[0])

    def token(self, token_id: int) -> dict[str, Any] | None:
        row = (
            self.db.connection()
            .execute(f"SELECT {', '.join(TOKEN_FIELDS)} FROM api_tokens WHERE id = ?", (token_id,))
            .fetchone()
        )
        return None if row is None else dict(row)

    def token_by_hash(self, token_hash: str) -> dict[str, Any] | None:
        row = (
            self.db.connection()
            .execute(
                f"SELECT {', '.join(TOKEN_FIELDS)} FROM api_tokens WHERE token_hash = ?",
                (token_hash,),
            )
            .fetchone()
        )
        return None if row is None else dict(row)

    def tokens(self, login: str) -> list[dict[str, Any]]:
        """The user's tokens, oldest first (no hashes)."""
        rows = self.db.connection().execute(
            f"SELECT {', '.join(TOKEN_FIELDS)} FROM api_tokens WHERE login = ? ORDER BY id",
            (login,),
        )
        return [dict(row) for row in rows]

    def revoke_token(self, token_id: int, at: str, by: str) -> bool:
        """Mark revoked; False if it was revoked already (or does not exist)."""
        with self.db.transaction() as con:
            cursor = con.execute(
                "UPDATE api_tokens SET revoked_at = ?, revoked_by = ? "
                "WHERE id = ? AND revoked_at IS NULL",
                (at, by, token_id),
            )
            return cursor.rowcount > 0

    def touch_token(self, token_id: int, at: str) -> None:
        with self.db.transaction() as con:
            con.execute("UPDATE api_tokens SET last_used_at = ? WHERE id = ?", (at, token_id))

    # --- the log of changes ------------------------------------------------------------
    def record(self, login: str, action: str, actor: str, at: str, detail: str = "") -> None:
        with self.db.transaction() as con:
            con.execute(
                "INSERT INTO user_events (login, action, detail, actor, at) VALUES (?, ?, ?, ?, ?)",
                (login, action, detail, actor, at),
            )

    def events(self, login: str | None = None) -> list[dict[str, Any]]:
        """Changes in order (of one user, or all)."""
        con = self.db.connection()
        sql = "SELECT id, login, action, detail, actor, at FROM user_events"
        rows = (
            con.execute(sql + " WHERE login = ? ORDER BY id", (login,))
            if login is not None
            else con.execute(sql + " ORDER BY id")
        )
        return [dict(row) for row in rows]
