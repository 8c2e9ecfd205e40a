"""The freshness sweep's DuckDB SQL: every active entry's status at one moment, in one query.

The rule is the domain's (``catalog.freshness.sla``; ``Policy.status`` is the reference the
tests compare this with): an entry's deadline is its last update plus one period of its cycle
(calendar months and years), it is *due soon* from the deadline minus the due-soon window,
*overdue* after the deadline plus the grace. Overrides (``freshness_policies``) set the cycle,
grace or window per entry or per organisation, the entry's winning. Which labels are tracked
and their default windows are the domain's too: they arrive as ``CycleWindow`` rows.

``FreshnessSweep.open(store)`` reads the catalogue columns the sweep needs from the store
(``attach_catalogue``: Arrow, one snapshot; DuckDB never opens ``catalog.sqlite``); ``run``
fills the temp table ``freshness`` (one row per active entry: ``COLUMNS``); the other methods
query it: statuses, counts, a Parquet file of the day, the monthly scorecard and its trend.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import astuple, dataclass
from pathlib import Path
from typing import Any

import duckdb

from warehouse.catalogue_tables import TableColumns, attach_catalogue
from warehouse.lake import quote_literal
from warehouse.store import Store

CAT = "cat"
COLUMNS = (
    "code",
    "name",
    "provider_code",
    "provider_name",
    "cycle",
    "status",
    "last_update",
    "deadline",
    "due_at",
    "delay_days",
    "days_left",
)
# The statuses the sweep gives: the values of the domain's ``sla.Status`` (a test checks that
# the two agree).
FRESH, DUE_SOON, OVERDUE = "fresh", "due_soon", "overdue"
NEVER_UPDATED, NOT_TRACKED = "never_updated", "not_tracked"
STATUSES = (FRESH, DUE_SOON, OVERDUE, NEVER_UPDATED, NOT_TRACKED)

_POLICIES = ("scope", "code", "cycle", "grace_hours", "soon_hours")
_CURRENT: TableColumns = {
    "entries": (
        "code",
        "name",
        "provider_code",
        "provider_name",
        "update_cycle",
        "updated_at",
        "status",
    ),
    "freshness_policies": _POLICIES,
}
# The scorecard also needs every update event, and organisation names.
_HISTORY: TableColumns = {
    **_CURRENT,
    "entry_updates": ("code", "updated_at"),
    "organisations": ("code", "name"),
}

# One period of the cycle row ``c`` of ``_cycles`` as a DuckDB interval (calendar months/years).
_PERIOD = (
    "CASE c.unit WHEN 'hour' THEN to_hours(c.every) WHEN 'day' THEN to_days(c.every) "
    "WHEN 'week' THEN to_days(7 * c.every) WHEN 'month' THEN to_months(c.every) "
    "WHEN 'year' THEN to_years(c.every) END"
)


@dataclass(frozen=True)
class CycleWindow:
    """A tracked 更新周期 label: its period (``every`` × ``unit``: hour, day, week, month or
    year) and its default grace and due-soon window in seconds."""

    label: str
    every: int
    unit: str
    grace_s: float
    soon_s: float


class FreshnessSweep:
    """An in-memory DuckDB holding the catalogue columns the sweep reads, and its results."""

    def __init__(self, con: duckdb.DuckDBPyConnection, events_until: dt.datetime | None) -> None:
        self.con = con
        self.events_until = events_until

    @classmethod
    @contextlib.contextmanager
    def open(
        cls, store: Store, *, events_until: dt.datetime | None = None, history: bool = False
    ) -> Iterator[FreshnessSweep]:
        """Read what the sweep needs: the entries, their current 最近更新时间 and the
        overrides; with ``events_until``, each entry's latest update event up to that moment
        (a sweep of a past moment); with ``history``, every update event (the scorecard)."""
        con = duckdb.connect()
        try:
            attach_catalogue(
                con,
                store,
                _HISTORY if history else _CURRENT,
                name=CAT,
                latest_updates_until=events_until,
            )
            yield cls(con, events_until)
        finally:
            con.close()

    def cycle_labels(self) -> set[str]:
        """Every cycle label in use, by entries or by overrides."""
        rows = self.con.execute(
            f"SELECT update_cycle FROM {CAT}.entries WHERE update_cycle IS NOT NULL UNION "
            f"SELECT cycle FROM {CAT}.freshness_policies WHERE cycle IS NOT NULL"
        ).fetchall()
        return {str(label) for (label,) in rows}

    def run(self, at: dt.datetime, cycles: Sequence[CycleWindow]) -> int:
        """Evaluate every active entry at ``at`` (naive, catalogue time) into ``freshness``;
        returns the number of entries. ``cycles``: the tracked labels (any label not among
        them is not tracked). An entry's last update is its latest update event up to ``at``
        when opened with ``events_until=at``, otherwise its 最近更新时间."""
        self._cycles(cycles)
        if self.events_until is not None:
            if at != self.events_until:
                raise ValueError(f"update events were read up to {self.events_until}, not {at}")
            last = (
                f"SELECT code, CAST(updated_at AS TIMESTAMP) AS last_update "
                f"FROM {CAT}.latest_updates"
            )
        else:
            last = (
                f"SELECT code, CAST(updated_at AS TIMESTAMP) AS last_update "
                f"FROM {CAT}.entries WHERE updated_at IS NOT NULL"
            )
        self.con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE freshness AS
            WITH e AS (
                SELECT e.code, e.name, e.provider_code, e.provider_name,
                       coalesce(pe.cycle, po.cycle, e.update_cycle) AS cycle,
                       coalesce(pe.grace_hours, po.grace_hours) * 3600 AS grace_s,
                       coalesce(pe.soon_hours, po.soon_hours) * 3600 AS soon_s,
                       l.last_update
                FROM {CAT}.entries e
                LEFT JOIN {CAT}.freshness_policies pe ON pe.scope = 'entry' AND pe.code = e.code
                LEFT JOIN {CAT}.freshness_policies po
                    ON po.scope = 'organisation' AND po.code = e.provider_code
                LEFT JOIN ({last}) l ON l.code = e.code
                WHERE e.status = 'active'
            ), d AS (
                SELECT e.*, c.unit IS NOT NULL AS tracked,
                       e.last_update + {_PERIOD} AS deadline,
                       to_seconds(coalesce(e.grace_s, c.grace_s)) AS grace,
                       to_seconds(coalesce(e.soon_s, c.soon_s)) AS soon
                FROM e LEFT JOIN _cycles c ON c.label = e.cycle
            )
            SELECT code, name, provider_code, provider_name, cycle,
                   CASE WHEN NOT tracked THEN '{NOT_TRACKED}'
                        WHEN last_update IS NULL THEN '{NEVER_UPDATED}'
                        WHEN $at > deadline + grace THEN '{OVERDUE}'
                        WHEN $at >= deadline - soon THEN '{DUE_SOON}'
                        ELSE '{FRESH}' END AS status,
                   last_update, deadline, deadline + grace AS due_at,
                   CASE WHEN $at > deadline
                        THEN round(epoch($at - deadline) / 86400, 2) END AS delay_days,
                   CASE WHEN $at <= deadline
                        THEN round(epoch(deadline - $at) / 86400, 2) END AS days_left
            FROM d""",
            {"at": at},
        )
        return self._scalar("SELECT count(*) FROM freshness")

    def _cycles(self, cycles: Sequence[CycleWindow]) -> None:
        self.con.execute(
            "CREATE OR REPLACE TEMP TABLE _cycles (label VARCHAR, every INTEGER, "
            "unit VARCHAR, grace_s DOUBLE, soon_s DOUBLE)"
        )
        if cycles:
            self.con.executemany(
                "INSERT INTO _cycles VALUES (?, ?, ?, ?, ?)", [astuple(cycle) for cycle in cycles]
            )

    # --- the results -------------------------------------------------------------------
    def statuses(
        self, *, org: str | None = None, status: str | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """The swept entries (``COLUMNS``), of one organisation (code or name) and one status
        if given, most overdue first."""
        cursor = self.con.execute(
            f"SELECT {', '.join(COLUMNS)} FROM freshness "
            "WHERE ($org IS NULL OR provider_code = $org OR provider_name = $org) "
            "AND ($status IS NULL OR status = $status) "
            "ORDER BY delay_days DESC NULLS LAST, code LIMIT $limit",
            {"org": org, "status": status, "limit": limit},
        )
        return [dict(zip(COLUMNS, row, strict=True)) for row in cursor.fetchall()]

    def summary(self) -> dict[str, int]:
        """{status: entries}."""
        rows = self.con.execute("SELECT status, count(*) FROM freshness GROUP BY 1 ORDER BY 1")
        return {str(status): int(n) for status, n in rows.fetchall()}

    def save(self, day: dt.date, target: Path) -> Path:
        """The sweep as a Parquet file with a ``day`` column, written whole or not at all."""
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".part")
        self.con.execute(
            f"COPY (SELECT $day AS day, * FROM freshness) TO {quote_literal(str(partial))} "
            "(FORMAT parquet)",
            {"day": day},
        )
        partial.replace(target)
        return target

    def scorecard(
        self, start: dt.datetime, end: dt.datetime, judged_at: dt.datetime
    ) -> list[dict[str, Any]]:
        """Per organisation with tracked entries (after ``run`` at ``judged_at`` with history):
        deadlines in [start, end) and how many were met, the median delay of those missed,
        and the overdue and never-updated entries now. Most overdue first, then the lowest
        on-time rate."""
        fields = (
            "provider_code",
            "provider_name",
            "tracked",
            "due",
            "on_time",
            "on_time_rate",
            "overdue",
            "median_delay_days",
            "never_updated",
        )
        rows = self.con.execute(
            f"""
            WITH {_JUDGED}, deadlines AS (
                SELECT provider_code, met, delay_days FROM judged
                WHERE deadline >= $start AND deadline < $end
            ), per_org AS (
                SELECT provider_code, count(*) AS due, count(*) FILTER (WHERE met) AS on_time,
                       round(median(delay_days) FILTER (WHERE NOT met), 1) AS median_delay_days
                FROM deadlines GROUP BY 1
            ), state AS (
                SELECT provider_code, any_value(provider_name) AS provider_name,
                       count(*) FILTER (WHERE status <> '{NOT_TRACKED}') AS tracked,
                       count(*) FILTER (WHERE status = '{OVERDUE}') AS overdue,
                       count(*) FILTER (WHERE status = '{NEVER_UPDATED}') AS never_updated
                FROM freshness GROUP BY 1
            )
            SELECT s.provider_code, s.provider_name, s.tracked, coalesce(o.due, 0) AS due,
                   coalesce(o.on_time, 0) AS on_time,
                   CASE WHEN o.due > 0 THEN round(100.0 * o.on_time / o.due, 1) END
                       AS on_time_rate,
                   s.overdue, o.median_delay_days, s.never_updated
            FROM state s LEFT JOIN per_org o USING (provider_code)
            WHERE s.tracked > 0
            ORDER BY s.overdue DESC, on_time_rate ASC NULLS LAST, s.provider_code""",
            {"at": judged_at, "start": start, "end": end},
        ).fetchall()
        return [dict(zip(fields, row, strict=True)) for row in rows]

    def on_time_by_month(
        self, at: dt.datetime, *, months: int, org: str | None = None
    ) -> list[tuple[str, int, int]]:
        """(month, deadlines, met) for the last ``months`` months with deadlines whose grace
        ended by ``at`` (after ``run`` at ``at`` with history), of the organisations with this
        code or name (or all), newest first."""
        rows = self.con.execute(
            f"""
            WITH {_JUDGED}
            SELECT strftime(deadline, '%Y-%m') AS month, count(*) AS due,
                   count(*) FILTER (WHERE met) AS on_time
            FROM judged
            WHERE $org IS NULL OR provider_code IN (
                SELECT code FROM {CAT}.organisations WHERE code = $org OR name = $org)
            GROUP BY 1 ORDER BY 1 DESC LIMIT $months""",
            {"at": at, "org": org, "months": months},
        ).fetchall()
        return [(str(month), int(due), int(met)) for month, due, met in rows]

    def _scalar(self, sql: str) -> int:
        row = self.con.execute(sql).fetchone()
        return int(row[0]) if row else 0


# CTEs ending in ``judged``: every deadline whose grace has ended by ``$at`` (needs the sweep's
# ``freshness`` and ``_cycles``): provider_code, deadline, met, delay_days. A deadline is an
# update plus one period; it was met when the next update came by the deadline plus the grace.
_JUDGED = f"""
    updates AS (
        SELECT DISTINCT code, CAST(updated_at AS TIMESTAMP) AS t
        FROM {CAT}.entry_updates WHERE CAST(updated_at AS TIMESTAMP) <= $at
    ), chain AS (
        SELECT code, t, lead(t) OVER (PARTITION BY code ORDER BY t) AS next_t FROM updates
    ), windows AS (
        SELECT f.provider_code, ch.t + {_PERIOD} AS deadline, ch.next_t,
               coalesce(to_seconds(coalesce(p.grace_hours, o.grace_hours) * 3600),
                        to_seconds(c.grace_s)) AS grace
        FROM chain ch JOIN freshness f ON f.code = ch.code
        JOIN _cycles c ON c.label = f.cycle
        LEFT JOIN {CAT}.freshness_policies p ON p.scope = 'entry' AND p.code = f.code
        LEFT JOIN {CAT}.freshness_policies o
            ON o.scope = 'organisation' AND o.code = f.provider_code
    ), judged AS (
        SELECT provider_code, deadline,
               next_t IS NOT NULL AND next_t <= deadline + grace AS met,
               epoch(coalesce(next_t, $at) - deadline) / 86400 AS delay_days
        FROM windows WHERE deadline + grace <= $at
    )"""


def day_counts(path: Path) -> dict[str, int]:
    """{status: entries} of a day's sweep kept as Parquet (``FreshnessSweep.save``)."""
    with contextlib.closing(duckdb.connect()) as con:
        rows = con.execute(
            f"SELECT status, count(*) FROM read_parquet({quote_literal(str(path))}) GROUP BY 1"
        ).fetchall()
    return {str(status): int(n) for status, n in rows}
