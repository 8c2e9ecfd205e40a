"""Grants (共享授权, issue 13): the grants table. The store keeps what it is given: lists and the
row filter as JSON text, times as catalogue ISO text; the rules (who may grant, which columns,
what a live grant is for access) are ``catalog.sharing.grants``'s."""

from __future__ import annotations

import json
from typing import Any

from warehouse.store.database import Database

GRANT_FIELDS = (
    "id",
    "dataset",
    "entry_code",
    "grantee_login",
    "grantee_org",
    "columns",
    "unmasked",
    "row_filter",
    "purpose",
    "application_id",
    "starts_at",
    "expires_at",
    "created_at",
    "created_by",
    "revoked_at",
    "revoked_by",
    "revoke_reason",
)
_JSON_FIELDS = {"columns": "[]", "unmasked": "[]", "row_filter": "{}"}
_SELECT = f"SELECT {', '.join(GRANT_FIELDS)} FROM grants"


def _grant(row: Any) -> dict[str, Any]:
    grant = dict(row)
    for field in _JSON_FIELDS:
        grant[field] = json.loads(grant[field] or _JSON_FIELDS[field])
    return grant


class SqlGrants:
    def __init__(self, db: Database) -> None:
        self.db = db

    def insert(self, grant: dict[str, Any]) -> int:
        """A new grant (``GRANT_FIELDS`` but id; lists and the row filter as Python values).
        Its id."""
        fields = [f for f in GRANT_FIELDS if f != "id" and not f.startswith("revoke")]
        values = [
            json.dumps(grant.get(f) or json.loads(_JSON_FIELDS[f]), ensure_ascii=False)
            if f in _JSON_FIELDS
            else grant.get(f)
            for f in fields
        ]
        with self.db.transaction() as con:
            row = con.execute(
                f"INSERT INTO grants ({', '.join(fields)}) "
                f"VALUES ({', '.join('?' * len(fields))}) RETURNING id",
                values,
            ).fetchone()
            return int(row[0])

    def get(self, grant_id: int) -> dict[str, Any] | None:
        row = self.db.connection().execute(f"{_SELECT} WHERE id = ?", (grant_id,)).fetchone()
        return None if row is None else _grant(row)

    def find(
        self,
        *,
        login: str | None = None,
        org: str | None = None,
        dataset: str | None = None,
        live_at: str | None = None,
    ) -> list[dict[str, Any]]:
        """Grants, newest first. ``login`` and ``org`` together: grants to either (what applies
        to a user of that organisation); ``dataset``: of that dataset; ``live_at`` (ISO text):
        only those started, not expired and not revoked at that time."""
        where: list[str] = []
        params: list[Any] = []
        grantee = []
        if login is not None:
            grantee.append("grantee_login = ?")
            params.append(login)
        if org is not None:
            grantee.append("grantee_org = ?")
            params.append(org)
        if grantee:
            where.append("(" + " OR ".join(grantee) + ")")
        if dataset is not None:
            where.append("dataset = ?")
            params.append(dataset)
        if live_at is not None:
            where.append("revoked_at IS NULL AND starts_at <= ? AND expires_at > ?")
            params.extend([live_at, live_at])
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        rows = self.db.connection().execute(f"{_SELECT}{clause} ORDER BY id DESC", params)
        return [_grant(row) for row in rows]

    def revoke(self, grant_id: int, *, at: str, by: str, reason: str) -> bool:
        """Mark the grant revoked; False if it was revoked already (or does not exist)."""
        with self.db.transaction() as con:
            cursor = con.execute(
                "UPDATE grants SET revoked_at = ?, revoked_by = ?, revoke_reason = ? "
                "WHERE id = ? AND revoked_at IS NULL",
                (at, by, reason, grant_id),
            )
            return cursor.rowcount > 0
