"""The sweep: every entry's freshness status in one vectorised DuckDB query.

``sweep(con, at)`` evaluates all active entries of the attached catalogue at moment ``at``
into the temp table ``freshness`` (one row per entry: status, last update, deadline, delay …).
The current status uses each entry's 最近更新时间; a past moment uses the update events
(``entry_updates``) up to it, so the status on any past day can be recomputed. ``save_day``
keeps a day's sweep as ``freshness/daily/<day>.parquet``: the daily history.

Python's ``sla.Policy.status`` is the reference; tests compare both on hand-computed cases.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb

from catalog.freshness.sla import DAY, Status, default_grace, default_soon
from schemas.cycles import parse_update_cycle
from schemas.entry import catalogue_now
from warehouse.lake import load_extension
from warehouse.workspace import Workspace

CATALOG = "cat"
COLUMNS = ("code", "name", "provider_code", "provider_name", "cycle", "status", "last_update",
           "deadline", "due_at", "delay_days", "days_left")


# One period of the cycle row ``c`` of ``_cycles`` as a DuckDB interval (calendar months/years).
PERIOD_SQL = ("CASE c.unit WHEN 'hour' THEN to_hours(c.every) WHEN 'day' THEN to_days(c.every) "
              "WHEN 'week' THEN to_days(7 * c.every) WHEN 'month' THEN to_months(c.every) "
              "WHEN 'year' THEN to_years(c.every) END")


def daily_dir(workspace: Workspace) -> Path:
    return workspace.sweeps_dir


@contextlib.contextmanager
def catalogue_connection(workspace: Workspace) -> Iterator[duckdb.DuckDBPyConnection]:
    """In-memory DuckDB with the metadata database attached read-only as ``cat``."""
    con = duckdb.connect()
    try:
        load_extension(con, "sqlite_scanner")
        path = str(workspace.metadata_db).replace("'", "''")
        con.execute(f"ATTACH '{path}' AS {CATALOG} (TYPE sqlite, READ_ONLY)")
        yield con
    finally:
        con.close()


def _cycles_table(con: duckdb.DuckDBPyConnection) -> None:
    """One row per cycle label in use (entries and policies): period and default windows."""
    labels = {row[0] for row in con.execute(
        f"SELECT DISTINCT update_cycle FROM {CATALOG}.entries WHERE update_cycle IS NOT NULL "
        f"UNION SELECT DISTINCT cycle FROM {CATALOG}.freshness_policies "
        f"WHERE cycle IS NOT NULL").fetchall()}
    rows = []
    for label in sorted(labels):
        try:
            cycle = parse_update_cycle(label)
        except ValueError:
            continue  # stored labels are canonical; an unknown one is simply not tracked
        if cycle.tracked:
            rows.append((label, cycle.every, cycle.unit,
                         default_grace(cycle).total_seconds(), default_soon(cycle).total_seconds()))
    con.execute("CREATE OR REPLACE TEMP TABLE _cycles (label VARCHAR, every INTEGER, "
                "unit VARCHAR, grace_s DOUBLE, soon_s DOUBLE)")
    if rows:
        con.executemany("INSERT INTO _cycles VALUES (?, ?, ?, ?, ?)", rows)


def sweep(con: duckdb.DuckDBPyConnection, at: dt.datetime | None = None, *,
          from_events: bool | None = None) -> int:
    """Evaluate every active entry at ``at`` (default now, catalogue time) into the temp table
    ``freshness``; returns the number of entries.

    ``from_events``: take each entry's last update from the update events up to ``at``
    (default: only when ``at`` is in the past); otherwise from its 最近更新时间.
    """
    now = catalogue_now()
    at = at or now
    if from_events is None:
        from_events = at < now - dt.timedelta(minutes=1)
    _cycles_table(con)
    at_sql = f"TIMESTAMP '{at.isoformat(sep=' ')}'"
    if from_events:
        last = (f"(SELECT code, max(CAST(updated_at AS TIMESTAMP)) AS last_update FROM "
                f"{CATALOG}.entry_updates WHERE CAST(updated_at AS TIMESTAMP) <= {at_sql} "
                f"GROUP BY code)")
    else:
        last = (f"(SELECT code, CAST(updated_at AS TIMESTAMP) AS last_update FROM "
                f"{CATALOG}.entries WHERE updated_at IS NOT NULL)")
    period = PERIOD_SQL
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE freshness AS
        WITH e AS (
            SELECT e.code, e.name, e.provider_code, e.provider_name,
                   coalesce(pe.cycle, po.cycle, e.update_cycle) AS cycle,
                   coalesce(pe.grace_hours, po.grace_hours) * 3600 AS grace_s,
                   coalesce(pe.soon_hours, po.soon_hours) * 3600 AS soon_s,
                   l.last_update
            FROM {CATALOG}.entries e
            LEFT JOIN {CATALOG}.freshness_policies pe ON pe.scope = 'entry' AND pe.code = e.code
            LEFT JOIN {CATALOG}.freshness_policies po
                ON po.scope = 'organisation' AND po.code = e.provider_code
            LEFT JOIN {last} l ON l.code = e.code
            WHERE e.status = 'active'
        ), d AS (
            SELECT e.*, c.unit IS NOT NULL AS tracked,
                   e.last_update + {period} AS deadline,
                   to_seconds(coalesce(e.grace_s, c.grace_s)) AS grace,
                   to_seconds(coalesce(e.soon_s, c.soon_s)) AS soon
            FROM e LEFT JOIN _cycles c ON c.label = e.cycle
        )
        SELECT code, name, provider_code, provider_name, cycle,
               CASE WHEN NOT tracked THEN '{Status.NOT_TRACKED}'
                    WHEN last_update IS NULL THEN '{Status.NEVER_UPDATED}'
                    WHEN {at_sql} > deadline + grace THEN '{Status.OVERDUE}'
                    WHEN {at_sql} >= deadline - soon THEN '{Status.DUE_SOON}'
                    ELSE '{Status.FRESH}' END AS status,
               last_update, deadline, deadline + grace AS due_at,
               CASE WHEN {at_sql} > deadline
                    THEN round(epoch({at_sql} - deadline) / 86400, 2) END AS delay_days,
               CASE WHEN {at_sql} <= deadline
                    THEN round(epoch(deadline - {at_sql}) / 86400, 2) END AS days_left
        FROM d""")
    return con.execute("SELECT count(*) FROM freshness").fetchone()[0]


def save_day(workspace: Workspace, day: dt.date, *,
             con: duckdb.DuckDBPyConnection | None = None) -> Path:
    """Sweep at the end of ``day`` and keep it as ``freshness/daily/<day>.parquet``."""
    target = daily_dir(workspace) / f"{day.isoformat()}.parquet"
    target.parent.mkdir(parents=True, exist_ok=True)
    at = min(dt.datetime.combine(day, dt.time(23, 59, 59)), catalogue_now())
    with contextlib.ExitStack() as stack:
        if con is None:
            con = stack.enter_context(catalogue_connection(workspace))
        sweep(con, at, from_events=day < catalogue_now().date())
        partial = target.with_suffix(".part")
        con.execute(f"COPY (SELECT DATE '{day}' AS day, * FROM freshness) TO "
                    f"'{str(partial).replace(chr(39), chr(39) * 2)}' (FORMAT parquet)")
        partial.replace(target)
    return target


def statuses(workspace: Workspace, *, at: dt.datetime | None = None, org: str | None = None,
             status: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
    """Entries with their status at ``at`` (default now), filtered by organisation (code or
    name) and status; most overdue first."""
    with catalogue_connection(workspace) as con:
        sweep(con, at)
        where, params = [], []
        if org:
            where.append("(provider_code = ? OR provider_name = ?)")
            params += [org, org]
        if status:
            where.append("status = ?")
            params.append(Status(status).value)
        sql = (f"SELECT {', '.join(COLUMNS)} FROM freshness"
               + (" WHERE " + " AND ".join(where) if where else "")
               + " ORDER BY delay_days DESC NULLS LAST, code"
               + (f" LIMIT {int(limit)}" if limit else ""))
        cursor = con.execute(sql, params)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def summary(workspace: Workspace, *, at: dt.datetime | None = None) -> dict[str, int]:
    """{status: entries} at ``at``."""
    with catalogue_connection(workspace) as con:
        sweep(con, at)
        return dict(con.execute("SELECT status, count(*) FROM freshness GROUP BY 1 ORDER BY 1"
                                ).fetchall())


__all__ = ["COLUMNS", "DAY", "catalogue_connection", "daily_dir", "save_day", "statuses",
           "summary", "sweep"]
