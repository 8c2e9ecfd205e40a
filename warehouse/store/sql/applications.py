"""Applications (共享申请, issue 13), in SQL both stores accept: ``applications`` and their
history (``application_events``). The rules (who may act, deadlines, grants) live in
``catalog.sharing.applications``; this stores what it is given. A use case makes a state change
and its event one write with ``store.transaction()`` (every method here joins it)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from warehouse.store.database import Database

FIELDS = (
    "id",
    "number",
    "entry_code",
    "dataset",
    "columns",
    "purpose",
    "scenario",
    "period_end",
    "applicant",
    "applicant_org",
    "grantees",
    "provider_org",
    "share_type",
    "state",
    "step",
    "step_started_at",
    "due_at",
    "decided_at",
    "decided_by",
    "reason",
    "grant_id",
    "created_at",
    "updated_at",
)
_JSON_LISTS = ("columns", "grantees")
_UPDATABLE = frozenset(FIELDS) - {"id", "number", "created_at"}
EVENT_FIELDS = (
    "id",
    "application_id",
    "action",
    "from_state",
    "to_state",
    "actor",
    "at",
    "reason",
    "due_at",
    "detail",
)


def _application(row: Any) -> dict[str, Any]:
    found = dict(row)
    for key in _JSON_LISTS:
        found[key] = json.loads(found[key] or "[]")
    return found


def _stored(value: Any, key: str) -> Any:
    if key in _JSON_LISTS:
        return json.dumps(list(value or []), ensure_ascii=False)
    return value


def _true(value: Any) -> bool:
    """A JSON value as a condition: true, or a number other than 0."""
    if isinstance(value, bool):
        return value
    return isinstance(value, int | float) and value != 0


class SqlApplications:
    def __init__(self, db: Database) -> None:
        self.db = db

    def insert(self, application: Mapping[str, Any], *, number_prefix: str) -> dict[str, Any]:
        """A new application (``FIELDS`` but id and number); its 申请编号 is ``number_prefix``
        and the next four-digit sequence of that prefix (SQ20261207-0001). The stored row.
        Reading the last number and inserting the next are one write transaction: writers are
        serialised (SQLite's write lock, PostgreSQL's advisory lock), so numbers never collide."""
        fields = [f for f in FIELDS if f not in ("id", "number")]
        with self.db.transaction() as con:
            last = con.execute(
                "SELECT number FROM applications WHERE number LIKE ? ORDER BY number DESC LIMIT 1",
                (number_prefix.replace("%", "") + "%",),
            ).fetchone()
            sequence = int(last[0].rsplit("-", 1)[-1]) + 1 if last else 1
            number = f"{number_prefix}{sequence:04d}"
            inserted = con.execute(
                f"INSERT INTO applications (number, {', '.join(fields)}) "
                f"VALUES (?, {', '.join('?' * len(fields))}) RETURNING id",
                (number, *(_stored(application.get(f), f) for f in fields)),
            ).fetchone()
            found = self.get(int(inserted[0]))
        assert found is not None
        return found

    def get(self, application_id: int) -> dict[str, Any] | None:
        row = (
            self.db.connection()
            .execute(
                f"SELECT {', '.join(FIELDS)} FROM applications WHERE id = ?", (application_id,)
            )
            .fetchone()
        )
        return _application(row) if row is not None else None

    def by_number(self, number: str) -> dict[str, Any] | None:
        row = (
            self.db.connection()
            .execute(f"SELECT {', '.join(FIELDS)} FROM applications WHERE number = ?", (number,))
            .fetchone()
        )
        return _application(row) if row is not None else None

    def find(
        self,
        *,
        applicant: str | None = None,
        applicant_org: str | None = None,
        provider_org: str | None = None,
        states: Iterable[str] | None = None,
        entry_code: str | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Applications matching every filter given, newest first."""
        where: list[str] = []
        params: list[Any] = []
        for column, value in (
            ("applicant", applicant),
            ("applicant_org", applicant_org),
            ("provider_org", provider_org),
            ("entry_code", entry_code),
        ):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if states is not None:
            wanted = list(states)
            where.append(f"state IN ({', '.join('?' * len(wanted))})" if wanted else "1 = 0")
            params.extend(wanted)
        sql = f"SELECT {', '.join(FIELDS)} FROM applications"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [_application(r) for r in self.db.connection().execute(sql, params)]

    def update(self, application_id: int, changes: Mapping[str, Any], *, expect_state: str) -> bool:
        """Set ``changes`` if the application is still in ``expect_state`` (False otherwise:
        someone else moved it meanwhile)."""
        unknown = set(changes) - _UPDATABLE
        if unknown:
            raise ValueError(f"not updatable: {', '.join(sorted(unknown))}")
        keys = list(changes)
        with self.db.transaction() as con:
            cursor = con.execute(
                f"UPDATE applications SET {', '.join(f'{k} = ?' for k in keys)} "
                "WHERE id = ? AND state = ?",
                (*(_stored(changes[k], k) for k in keys), application_id, expect_state),
            )
            return cursor.rowcount > 0

    def add_event(self, event: Mapping[str, Any]) -> int:
        """One step of an application's history: application_id, action, from_state, to_state,
        actor, at, reason, due_at (the next step's deadline), detail (a dict)."""
        fields = [f for f in EVENT_FIELDS if f != "id"]
        values = [
            json.dumps(event.get(f) or {}, ensure_ascii=False, default=str)
            if f == "detail"
            else event.get(f)
            for f in fields
        ]
        with self.db.transaction() as con:
            row = con.execute(
                f"INSERT INTO application_events ({', '.join(fields)}) "
                f"VALUES ({', '.join('?' * len(fields))}) RETURNING id",
                values,
            ).fetchone()
            return int(row[0])

    def events(self, application_id: int) -> list[dict[str, Any]]:
        """The application's history, oldest first (``detail`` as a dict)."""
        rows = self.db.connection().execute(
            f"SELECT {', '.join(EVENT_FIELDS)} FROM application_events "
            "WHERE application_id = ? ORDER BY id",
            (application_id,),
        )
        found = []
        for row in rows:
            event = dict(row)
            event["detail"] = json.loads(event["detail"] or "{}")
            found.append(event)
        return found

    def statistics(self, start: str, end: str) -> list[dict[str, Any]]:
        """Per providing organisation, for ``start`` <= time < ``end`` (catalogue ISO text):
        ``received`` (applications made), ``answered`` (approve/refuse/settle decisions),
        ``answered_on_time`` (decisions whose ``detail.on_time`` is true), ``refused``,
        ``refused_with_reason`` and ``shared`` (the grants those decisions made: one per
        grantee). Organisations with none of these are left out; ordered by organisation code."""
        con = self.db.connection()
        stats: dict[str, dict[str, int]] = {}

        def row(org: str) -> dict[str, int]:
            return stats.setdefault(
                org,
                {
                    "received": 0,
                    "answered": 0,
                    "answered_on_time": 0,
                    "refused": 0,
                    "refused_with_reason": 0,
                    "shared": 0,
                },
            )

        for org, count in con.execute(
            "SELECT provider_org, count(*) FROM applications "
            "WHERE created_at >= ? AND created_at < ? GROUP BY provider_org",
            (start, end),
        ):
            row(org)["received"] = count
        # The decisions' JSON detail is read here, not in SQL: the same in both dialects.
        decided = con.execute(
            "SELECT a.provider_org, e.to_state, e.reason, e.detail "
            "FROM application_events e JOIN applications a ON a.id = e.application_id "
            "WHERE e.action IN ('approve', 'refuse', 'settle') AND e.at >= ? AND e.at < ?",
            (start, end),
        )
        for org, to_state, reason, detail in decided:
            found = row(org)
            info = json.loads(detail or "{}")
            info = info if isinstance(info, dict) else {}
            refused = to_state == "refused"
            grant_ids = info.get("grant_ids")
            found["answered"] += 1
            found["answered_on_time"] += _true(info.get("on_time"))
            found["refused"] += refused
            found["refused_with_reason"] += refused and (reason or "").strip(" ") != ""
            found["shared"] += len(grant_ids) if isinstance(grant_ids, list) else 0
        return [{"provider_org": org, **stats[org]} for org in sorted(stats)]
