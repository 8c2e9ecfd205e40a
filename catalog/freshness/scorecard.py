"""The monthly freshness scorecard (更新及时率通报): organisations ranked by who is late.

For a month, every **deadline** that fell in it is judged: an entry updated at ``t`` with a
tracked cycle owes its next update by ``t + period`` (the deadline); it was **on time** when
the next update came by ``deadline + grace``. Its **delay** is how long after the deadline the
next update came (or, with none yet, how long ago the deadline passed). Per organisation:

* ``due``: deadlines in the month; ``on_time``: met; ``on_time_rate`` = on_time / due;
* ``overdue``: entries overdue at the month's end (or now, for the current month);
* ``median_delay_days``: median delay of the deadlines missed;
* ``sharing_*``: the month's sharing applications with the organisation as provider (issue 13,
  ``catalog.sharing.applications``): received, answered, answered on time, refused with a
  reason, and shared (grants made).

Ranked like the per-unit tables a data office publishes: most overdue entries first, then the
lowest on-time rate. Exports: CSV (UTF-8 with BOM, Chinese headers), Excel, HTML.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from catalog.freshness.sweep import moment, swept
from schemas.entry import catalogue_now
from schemas.errors import InvalidInput
from warehouse.freshness_sweep import FreshnessSweep
from warehouse.store import Store

HEADERS = {  # field: Chinese header, as exported
    "rank": "排名",
    "provider_code": "提供方代码",
    "provider_name": "提供方",
    "tracked": "考核目录数",
    "due": "应更新次数",
    "on_time": "按时更新次数",
    "on_time_rate": "按时更新率(%)",
    "overdue": "逾期目录数",
    "median_delay_days": "逾期中位天数",
    "never_updated": "从未更新目录数",
    # 共享统计 (issue 13): the organisation's sharing applications in the month, as provider.
    "sharing_received": "收到共享申请数",
    "sharing_answered": "答复共享申请数",
    "sharing_answered_on_time": "按时答复数",
    "sharing_refused_with_reason": "说明理由的拒绝数",
    "sharing_shared": "共享授权数",
}
SHARING_FIELDS = {  # scorecard field: the store's statistics field
    "sharing_received": "received",
    "sharing_answered": "answered",
    "sharing_answered_on_time": "answered_on_time",
    "sharing_refused_with_reason": "refused_with_reason",
    "sharing_shared": "shared",
}


def month_bounds(month: str) -> tuple[dt.datetime, dt.datetime]:
    """'2026-10' → (2026-10-01 00:00, 2026-11-01 00:00)."""
    try:
        start = dt.datetime.strptime(month, "%Y-%m")
    except ValueError:
        raise InvalidInput(f"bad month {month!r}: expected YYYY-MM") from None
    end = start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)
    return start, end


def scorecard(
    store: Store, month: str | None = None, *, at: dt.datetime | None = None
) -> list[dict[str, Any]]:
    """One row per organisation with tracked entries, ranked (see the module doc).

    ``at``: judge as of this moment (default now); a month still running is judged up to it.
    """
    at = min(moment(at), catalogue_now())
    month = month or at.strftime("%Y-%m")
    judged_at = _judged_at(month, at)
    with swept(store, judged_at, history=True) as sweep:
        rows = _ranked(sweep, month, judged_at)
    return _with_sharing(store, month, rows)


def on_time_trend(
    store: Store, *, months: int = 6, org: str | None = None, at: dt.datetime | None = None
) -> list[dict[str, Any]]:
    """[{month, due, on_time, on_time_rate}] for the last ``months`` months with deadlines
    (of one organisation, by code or name, or all), oldest first: one query for all months."""
    at = min(moment(at), catalogue_now())
    with swept(store, at, history=True) as sweep:
        return _trend(sweep, at, months, org)


@dataclass(frozen=True)
class Dashboard:
    """What the freshness dashboard shows: the month's scorecard, the entries by status now
    and the on-time trend."""

    month: str
    rows: list[dict[str, Any]]
    counts: dict[str, int]
    trend: list[dict[str, Any]]


def dashboard(store: Store, month: str | None = None, *, months: int = 6) -> Dashboard:
    """The dashboard from one sweep of now (the current month's scorecard, the counts and the
    trend are all judged now), plus one at a past month's end for that month's scorecard:
    reading the update history once instead of three times."""
    now = catalogue_now()
    month = month or now.strftime("%Y-%m")
    judged_at = _judged_at(month, now)
    with swept(store, now, history=True) as sweep:
        counts = sweep.summary()
        trend = _trend(sweep, now, months, None)
        rows = _ranked(sweep, month, now) if judged_at == now else None
    rows = scorecard(store, month, at=now) if rows is None else _with_sharing(store, month, rows)
    return Dashboard(month, rows, counts, trend)


def _judged_at(month: str, at: dt.datetime) -> dt.datetime:
    """The moment a month is judged at: its last second, or ``at`` while it runs."""
    return min(month_bounds(month)[1] - dt.timedelta(seconds=1), at)


def _ranked(sweep: FreshnessSweep, month: str, judged_at: dt.datetime) -> list[dict[str, Any]]:
    start, end = month_bounds(month)
    rows = sweep.scorecard(start, end, judged_at)
    return [{"rank": i, "month": month, **row} for i, row in enumerate(rows, 1)]


def _with_sharing(store: Store, month: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each row with the organisation's sharing statistics of the month (zeros when none)."""
    start, end = month_bounds(month)
    stats = {
        r["provider_org"]: r
        for r in store.applications.statistics(start.isoformat(), end.isoformat())
    }
    for row in rows:
        found = stats.get(row.get("provider_code") or "", {})
        for field, key in SHARING_FIELDS.items():
            row[field] = found.get(key, 0)
    return rows


def _trend(
    sweep: FreshnessSweep, at: dt.datetime, months: int, org: str | None
) -> list[dict[str, Any]]:
    rows = sweep.on_time_by_month(at, months=months, org=org)
    return [
        {
            "month": m,
            "due": due,
            "on_time": met,
            "on_time_rate": round(100.0 * met / due, 1) if due else None,
        }
        for m, due, met in reversed(rows)
    ]


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
        cells = "".join(
            "<tr>"
            + "".join(f"<td>{html.escape('' if v is None else str(v))}</td>" for v in row)
            + "</tr>\n"
            for row in values
        )
        path.write_text(
            '<!doctype html><html lang="zh-CN"><meta charset="utf-8">'
            f"<title>{month} 政务信息资源更新及时率通报</title>"
            "<style>body{font-family:sans-serif}table{border-collapse:collapse}"
            "td,th{border:1px solid #999;padding:2px 6px}td:nth-child(n+4){text-align:right}"
            "</style>"
            f"<h1>{month} 政务信息资源更新及时率通报</h1><table><thead><tr>"
            + "".join(f"<th>{html.escape(h)}</th>" for h in header)
            + f"</tr></thead><tbody>\n{cells}</tbody></table></html>\n",
            encoding="utf-8",
        )
    else:
        raise InvalidInput(f"unknown scorecard format {fmt!r}: csv, xlsx or html")
    return path
