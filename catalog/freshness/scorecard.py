"""The monthly freshness scorecard (更新及时率通报): organisations ranked by who is late.

For a month, every **deadline** that fell in it is judged: an entry updated at ``t`` with a
tracked cycle owes its next update by ``t + period`` (the deadline); it was **on time** when
the next update came by ``deadline + grace``. Its **delay** is how long after the deadline the
next update came (or, with none yet, how long ago the deadline passed). Per organisation:

* ``due``: deadlines in the month; ``on_time``: met; ``on_time_rate`` = on_time / due;
* ``overdue``: entries overdue at the month's end (or now, for the current month);
* ``median_delay_days``: median delay of the deadlines missed.

Ranked like the per-unit tables a data office publishes: most overdue entries first, then the
lowest on-time rate. Exports: CSV (UTF-8 with BOM, Chinese headers), Excel, HTML.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
from pathlib import Path
from typing import Any

from catalog.freshness.sweep import (
    CATALOG,
    PERIOD_SQL,
    _cycles_table,
    catalogue_connection,
    sweep,
)
from schemas.entry import catalogue_now
from warehouse.workspace import Workspace

HEADERS = {  # field: Chinese header, as exported
    "rank": "排名", "provider_code": "提供方代码", "provider_name": "提供方",
    "tracked": "考核目录数", "due": "应更新次数", "on_time": "按时更新次数",
    "on_time_rate": "按时更新率(%)", "overdue": "逾期目录数",
    "median_delay_days": "逾期中位天数", "never_updated": "从未更新目录数",
}


def month_bounds(month: str) -> tuple[dt.datetime, dt.datetime]:
    """'2026-10' → (2026-10-01 00:00, 2026-11-01 00:00)."""
    start = dt.datetime.strptime(month, "%Y-%m")
    end = start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)
    return start, end


def scorecard(workspace: Workspace, month: str | None = None, *,
              at: dt.datetime | None = None) -> list[dict[str, Any]]:
    """One row per organisation with tracked entries, ranked (see the module doc).

    ``at``: judge as of this moment (default now); a month still running is judged up to it.
    """
    now = catalogue_now()
    at = min(at or now, now)
    month = month or at.strftime("%Y-%m")
    start, end = month_bounds(month)
    judged_at = min(end - dt.timedelta(seconds=1), at)
    at_sql = f"TIMESTAMP '{judged_at.isoformat(sep=' ')}'"
    with catalogue_connection(workspace) as con:
        sweep(con, judged_at, from_events=judged_at < now - dt.timedelta(minutes=1))
        _cycles_table(con)
        rows = con.execute(f"""
            WITH {_judged_sql(at_sql)}, deadlines AS (
                SELECT provider_code, met, delay_days FROM judged
                WHERE deadline >= TIMESTAMP '{start}' AND deadline < TIMESTAMP '{end}'
            ), per_org AS (
                SELECT provider_code, count(*) AS due, count(*) FILTER (WHERE met) AS on_time,
                       round(median(delay_days) FILTER (WHERE NOT met), 1) AS median_delay_days
                FROM deadlines GROUP BY 1
            ), state AS (
                SELECT provider_code, any_value(provider_name) AS provider_name,
                       count(*) FILTER (WHERE status <> 'not_tracked') AS tracked,
                       count(*) FILTER (WHERE status = 'overdue') AS overdue,
                       count(*) FILTER (WHERE status = 'never_updated') AS never_updated
                FROM freshness GROUP BY 1
            )
            SELECT s.provider_code, s.provider_name, s.tracked, coalesce(o.due, 0) AS due,
                   coalesce(o.on_time, 0) AS on_time,
                   CASE WHEN o.due > 0 THEN round(100.0 * o.on_time / o.due, 1) END
                       AS on_time_rate,
                   s.overdue, o.median_delay_days, s.never_updated
            FROM state s LEFT JOIN per_org o USING (provider_code)
            WHERE s.tracked > 0
            ORDER BY s.overdue DESC, on_time_rate ASC NULLS LAST, s.provider_code""").fetchall()
    fields = ["provider_code", "provider_name", "tracked", "due", "on_time", "on_time_rate",
              "overdue", "median_delay_days", "never_updated"]
    return [{"rank": i, "month": month, **dict(zip(fields, row, strict=True))}
            for i, row in enumerate(rows, 1)]


def _judged_sql(at_sql: str) -> str:
    """CTEs ending in ``judged``: every deadline whose grace has ended by ``at_sql`` (needs the
    sweep's ``freshness`` and ``_cycles`` tables): provider_code, deadline, met, delay_days."""
    return f"""
        updates AS (
            SELECT DISTINCT code, CAST(updated_at AS TIMESTAMP) AS t
            FROM {CATALOG}.entry_updates WHERE CAST(updated_at AS TIMESTAMP) <= {at_sql}
        ), chain AS (
            SELECT code, t, lead(t) OVER (PARTITION BY code ORDER BY t) AS next_t FROM updates
        ), windows AS (
            SELECT f.provider_code, ch.t + {PERIOD_SQL} AS deadline, ch.next_t,
                   coalesce(to_seconds(coalesce(p.grace_hours, o.grace_hours) * 3600),
                            to_seconds(c.grace_s)) AS grace
            FROM chain ch JOIN freshness f ON f.code = ch.code
            JOIN _cycles c ON c.label = f.cycle
            LEFT JOIN {CATALOG}.freshness_policies p ON p.scope = 'entry' AND p.code = f.code
            LEFT JOIN {CATALOG}.freshness_policies o
                ON o.scope = 'organisation' AND o.code = f.provider_code
        ), judged AS (
            SELECT provider_code, deadline,
                   next_t IS NOT NULL AND next_t <= deadline + grace AS met,
                   epoch(coalesce(next_t, {at_sql}) - deadline) / 86400 AS delay_days
            FROM windows WHERE deadline + grace <= {at_sql}
        )"""


def on_time_trend(workspace: Workspace, *, months: int = 6, org: str | None = None,
                  at: dt.datetime | None = None) -> list[dict[str, Any]]:
    """[{month, due, on_time, on_time_rate}] for the last ``months`` months with deadlines
    (of one organisation, by code or name, or all), oldest first: one query for all months."""
    now = catalogue_now()
    at = min(at or now, now)
    at_sql = f"TIMESTAMP '{at.isoformat(sep=' ')}'"
    with catalogue_connection(workspace) as con:
        sweep(con, at, from_events=at < now - dt.timedelta(minutes=1))
        _cycles_table(con)
        where = ""
        params: list[Any] = []
        if org:
            where = ("WHERE provider_code IN (SELECT code FROM cat.organisations "
                     "WHERE code = ? OR name = ?)")
            params = [org, org]
        rows = con.execute(f"""
            WITH {_judged_sql(at_sql)}
            SELECT strftime(deadline, '%Y-%m') AS month, count(*) AS due,
                   count(*) FILTER (WHERE met) AS on_time
            FROM judged {where} GROUP BY 1 ORDER BY 1 DESC LIMIT {int(months)}""",
                           params).fetchall()
    return [{"month": m, "due": due, "on_time": met,
             "on_time_rate": round(100.0 * met / due, 1) if due else None}
            for m, due, met in reversed(rows)]


def export_scorecard(rows: list[dict[str, Any]], path: Path, fmt: str | None = None) -> Path:
    """Write the scorecard as CSV, XLSX or HTML (by ``fmt`` or the file's extension)."""
    fmt = (fmt or path.suffix.lstrip(".")).lower()
    header = list(HEADERS.values())
    values = [[row.get(key) for key in HEADERS] for row in rows]
    month = rows[0]["month"] if rows else ""
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        with path.open("w", encoding="utf-8-sig", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows(values)
    elif fmt == "xlsx":
        import xlsxwriter

        book = xlsxwriter.Workbook(str(path))
        sheet = book.add_worksheet(f"{month} 更新及时率" if month else "更新及时率")
        bold = book.add_format({"bold": True})
        sheet.write_row(0, 0, header, bold)
        for i, row in enumerate(values, 1):
            sheet.write_row(i, 0, ["" if v is None else v for v in row])
        sheet.set_column(1, 2, 28)
        book.close()
    elif fmt in ("html", "htm"):
        cells = "".join("<tr>" + "".join(f"<td>{html.escape('' if v is None else str(v))}</td>"
                                         for v in row) + "</tr>\n" for row in values)
        path.write_text(
            "<!doctype html><html lang=\"zh-CN\"><meta charset=\"utf-8\">"
            f"<title>{month} 政务信息资源更新及时率通报</title>"
            "<style>body{font-family:sans-serif}table{border-collapse:collapse}"
            "td,th{border:1px solid #999;padding:2px 6px}td:nth-child(n+4){text-align:right}"
            "</style>"
            f"<h1>{month} 政务信息资源更新及时率通报</h1><table><thead><tr>"
            + "".join(f"<th>{html.escape(h)}</th>" for h in header)
            + f"</tr></thead><tbody>\n{cells}</tbody></table></html>\n", encoding="utf-8")
    else:
        raise ValueError(f"unknown scorecard format {fmt!r}: csv, xlsx or html")
    return path
