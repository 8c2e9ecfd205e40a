"""The web tier's shared state (issue 14), in SQL both stores accept: ``oidc_pending`` (single
sign-on logins begun, waiting for the provider to send the browser back) and ``web_keys`` (keys
every server process signs with). Several server processes answer one site, so what one
request leaves for a later one lives here, not in a process. Expiry and the login flow live in
``catalog.sharing.oidc``; this stores what it is given (the binding cookie's hash, never the
cookie)."""

from __future__ import annotations

from typing import Any

from warehouse.store.database import Database

PENDING_FIELDS = (
    "state",
    "nonce",
    "code_verifier",
    "binding_hash",
    "next_url",
    "redirect_uri",
    "started_ms",
)


class SqlWebState:
    def __init__(self, db: Database) -> None:
        self.db = db

    # --- single sign-on logins begun ---------------------------------------------------------
    def add_pending(self, pending: dict[str, Any], *, expired_before: int, most: int) -> None:
        """Keep a login begun (every ``PENDING_FIELDS``), in one write: first remove those
        begun before ``expired_before`` (ms) and, while ``most`` or more remain, the oldest."""
        with self.db.transaction() as con:
            con.execute("DELETE FROM oidc_pending WHERE started_ms < ?", (expired_before,))
            kept = int(con.execute("SELECT COUNT(*) FROM oidc_pending").fetchone()[0])
            if kept >= most:
                con.execute(
                    "DELETE FROM oidc_pending WHERE state IN (SELECT state FROM oidc_pending "
                    "ORDER BY started_ms, id LIMIT ?)",
                    (kept - most + 1,),
                )
            con.execute(
                f"INSERT INTO oidc_pending ({', '.join(PENDING_FIELDS)}) "
                f"VALUES ({', '.join('?' * len(PENDING_FIELDS))})",
                tuple(pending[field] for field in PENDING_FIELDS),
            )

    def take_pending(self, state: str) -> dict[str, Any] | None:
        """The login ``state`` names, removed: only one caller ever gets it (None: unknown or
        taken already)."""
        with self.db.transaction() as con:
            row = con.execute(
                f"SELECT {', '.join(PENDING_FIELDS)} FROM oidc_pending WHERE state = ?", (state,)
            ).fetchone()
            if row is None:
                return None
            cursor = con.execute("DELETE FROM oidc_pending WHERE state = ?", (state,))
            return dict(row) if cursor.rowcount > 0 else None

    def count_pending(self) -> int:
        row = self.db.connection().execute("SELECT COUNT(*) FROM oidc_pending").fetchone()
        return int(row[0])

    # --- shared keys -------------------------------------------------------------------------
    def key(self, name: str, candidate: str, at: str) -> str:
        """The key named ``name``: the stored one, or ``candidate`` (stored now, at ``at``) when
        there is none yet. Every process asking gets the same key, whichever asked first."""
        con = self.db.connection()
        row = con.execute("SELECT secret FROM web_keys WHERE name = ?", (name,)).fetchone()
        if row is not None:
            return str(row[0])
        with self.db.transaction() as con:
            row = con.execute("SELECT secret FROM web_keys WHERE name = ?", (name,)).fetchone()
            if row is not None:  # another process stored it meanwhile
                return str(row[0])
            con.execute(
                "INSERT INTO web_keys (name, secret, created_at) VALUES (?, ?, ?)",
                (name, candidate, at),
            )
        return candidate
