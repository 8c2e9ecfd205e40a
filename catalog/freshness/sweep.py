"""The sweep: every active entry's freshness status at one moment, all at once.

``swept(store, at)`` evaluates all active entries at moment ``at`` (one vectorised DuckDB query,
``warehouse.freshness_sweep``, over catalogue columns the store hands over) and yields the
result to query: one row per entry with its status, last update, deadline, delay … The current
status uses each entry's 最近更新时间; a past moment uses the update events (``entry_updates``)
up to it, so the status on any past day can be recomputed. ``save_day`` keeps a day's sweep as
``freshness/daily/<day>.parquet``: the daily history.

The rule and the cycles' default windows are the domain's (``sla``): this module hands the SQL
one ``CycleWindow`` per tracked label. Python's ``sla.Policy.status`` is the reference; tests
compare both on hand-computed cases.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from catalog.freshness.sla import Status, default_grace, default_soon
from schemas.cycles import parse_update_cycle
from schemas.entry import catalogue_now, catalogue_time
from warehouse.freshness_sweep import COLUMNS, CycleWindow, FreshnessSweep
from warehouse.store import Store
from warehouse.workspace import Workspace

# A moment this close to now is "now": the entries' 最近更新时间 is the last update.
_NOW_SLACK = dt.timedelta(minutes=1)


def daily_dir(workspace: Workspace) -> Path:
    return workspace.sweeps_dir


def cycle_windows(labels: Iterable[str]) -> list[CycleWindow]:
    """The tracked ones among ``labels``, with their period and default windows."""
    windows = []
    for label in sorted(labels):
        try:
            cycle = parse_update_cycle(label)
        except ValueError:
            continue  # stored labels are canonical; an unknown one is simply not tracked
        if cycle.tracked and cycle.unit is not None:
            windows.append(
                CycleWindow(
                    label,
                    cycle.every or 1,
                    cycle.unit,
                    default_grace(cycle).total_seconds(),
                    default_soon(cycle).total_seconds(),
                )
            )
    return windows


def moment(at: dt.datetime | None) -> dt.datetime:
    """``at`` (default now) in catalogue time: an aware moment (``…Z``, ``+08:00``) is converted,
    a naive one is taken as catalogue time already."""
    return catalogue_now() if at is None else catalogue_time(at)


@contextlib.contextmanager
def swept(
    store: Store,
    at: dt.datetime | None = None,
    *,
    from_events: bool | None = None,
    history: bool = False,
) -> Iterator[FreshnessSweep]:
    """Every active entry evaluated at ``at`` (default now), ready to query.

    ``from_events``: take each entry's last update from the update events up to ``at``
    (default: only when ``at`` is in the past); otherwise from its 最近更新时间. ``history``:
    keep the update events at hand (the scorecard needs them) even for a sweep of now.
    """
    at = moment(at)
    if from_events is None:
        from_events = at < catalogue_now() - _NOW_SLACK
    with FreshnessSweep.open(
        store, events_until=at if from_events else None, history=history
    ) as sweep:
        sweep.run(at, cycle_windows(sweep.cycle_labels()))
        yield sweep


def save_day(store: Store, workspace: Workspace, day: dt.date) -> Path:
    """Sweep at the end of ``day`` and keep it as ``freshness/daily/<day>.parquet``."""
    at = min(dt.datetime.combine(day, dt.time(23, 59, 59)), catalogue_now())
    with swept(store, at, from_events=day < catalogue_now().date()) as sweep:
        return sweep.save(day, daily_dir(workspace) / f"{day.isoformat()}.parquet")


def statuses(
    store: Store,
    *,
    at: dt.datetime | None = None,
    org: str | None = None,
    status: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Entries with their status at ``at`` (default now), filtered by organisation (code or
    name) and status; most overdue first."""
    wanted = Status(status).value if status else None
    with swept(store, at) as sweep:
        return sweep.statuses(org=org, status=wanted, limit=limit)


def summary(store: Store, *, at: dt.datetime | None = None) -> dict[str, int]:
    """{status: entries} at ``at``."""
    with swept(store, at) as sweep:
        return sweep.summary()


__all__ = [
    "COLUMNS",
    "cycle_windows",
    "daily_dir",
    "moment",
    "save_day",
    "statuses",
    "summary",
    "swept",
]
