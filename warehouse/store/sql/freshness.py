"""Freshness (更新时效) in the store: the SLA overrides per entry and per organisation
(``freshness_policies``) and the log of notices sent (``freshness_notices``), which keeps the
same notice from going out twice. The rules (which override wins, what is late) live in
``catalog.freshness``; the sweep over every entry is DuckDB SQL in
``warehouse.freshness_sweep``."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import astuple
from typing import Any

from warehouse.store.database import Database
from warehouse.store.freshness_values import POLICY_FIELDS, NoticeKey, Override, SentNotice
from warehouse.store.sql.rows import marks


class SqlFreshness:
    def __init__(self, db: Database) -> None:
        self.db = db

    # --- overrides of the SLA ----------------------------------------------------------
    def set_policy(self, policy: dict[str, Any]) -> None:
        """Create or replace the override of ``policy['scope']`` ``policy['code']``
        (``POLICY_FIELDS``)."""
        with self.db.transaction() as con:
            con.execute(
                f"INSERT INTO freshness_policies ({', '.join(POLICY_FIELDS)}) "
                f"VALUES ({marks(len(POLICY_FIELDS))}) ON CONFLICT (scope, code) DO UPDATE SET "
                + ", ".join(f"{f} = excluded.{f}" for f in POLICY_FIELDS[2:]),
                tuple(policy.get(field) for field in POLICY_FIELDS),
            )

    def remove_policy(self, scope: str, code: str) -> bool:
        with self.db.transaction() as con:
            cursor = con.execute(
                "DELETE FROM freshness_policies WHERE scope = ? AND code = ?", (scope, code)
            )
            return cursor.rowcount > 0

    def policies(self) -> list[dict[str, Any]]:
        rows = self.db.connection().execute(
            f"SELECT {', '.join(POLICY_FIELDS)} FROM freshness_policies ORDER BY scope, code"
        )
        return [dict(row) for row in rows]

    def overrides(self) -> dict[tuple[str, str], Override]:
        """Every override by (scope, code)."""
        rows = self.db.connection().execute(
            "SELECT scope, code, cycle, grace_hours, soon_hours FROM freshness_policies"
        )
        return {(r[0], r[1]): (r[2], r[3], r[4]) for r in rows}

    def overrides_of(
        self, entry_code: str, provider_code: str | None
    ) -> tuple[Override | None, Override | None]:
        """(the entry's override, its organisation's), None where there is none."""
        rows = self.db.connection().execute(
            "SELECT scope, cycle, grace_hours, soon_hours FROM freshness_policies "
            "WHERE (scope = 'entry' AND code = ?) OR (scope = 'organisation' AND code = ?)",
            (entry_code, provider_code),
        )
        found: dict[str, Override] = {r[0]: (r[1], r[2], r[3]) for r in rows}
        return found.get("entry"), found.get("organisation")

    # --- the notices sent --------------------------------------------------------------
    def noticed(self, channels: Sequence[str]) -> set[NoticeKey]:
        """The keys of every notice sent on these channels."""
        rows = self.db.connection().execute(
            "SELECT channel, recipient, kind, entry_code, deadline FROM freshness_notices "
            f"WHERE channel IN ({marks(len(channels))})",
            tuple(channels),
        )
        return {(r[0], r[1], r[2], r[3], r[4]) for r in rows}

    def noticed_for(self, channel: str, recipient: str, org_code: str) -> set[tuple[str, str, str]]:
        """(kind, entry code, deadline) of what this recipient was told about this
        organisation on this channel."""
        rows = self.db.connection().execute(
            "SELECT kind, entry_code, deadline FROM freshness_notices WHERE channel = ? AND "
            "recipient = ? AND org_code = ?",
            (channel, recipient, org_code),
        )
        return {(r[0], r[1], r[2]) for r in rows}

    def record_notices(self, sent: Iterable[SentNotice]) -> int:
        """Log notices as sent, in one transaction; one already logged is kept as it was.
        Returns how many were new."""
        with self.db.transaction() as con:
            cursor = con.executemany(
                "INSERT INTO freshness_notices (org_code, channel, recipient, kind, "
                "entry_code, deadline, sent_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (channel, recipient, kind, entry_code, deadline) DO NOTHING",
                [astuple(notice) for notice in sent],
            )
            # executemany's rowcount sums the rows each insert wrote (none for a conflict).
            return max(cursor.rowcount, 0)

    def notices(self) -> list[SentNotice]:
        """Every notice sent, by organisation, entry and kind."""
        rows = self.db.connection().execute(
            "SELECT org_code, channel, recipient, kind, entry_code, deadline, sent_at "
            "FROM freshness_notices ORDER BY org_code, entry_code, kind, deadline"
        )
        return [SentNotice(*row) for row in rows]
