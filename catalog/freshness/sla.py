"""The freshness SLA (更新时效) an entry's 更新周期 implies.

An entry with a tracked cycle must be updated again within one period of its last update
(最近更新时间): the **deadline** is ``last update + period`` in calendar terms (每月 from
01-31 → 02-28/29; 每季度 = 3 months; 每年 from 02-29 → 02-28). Around it:

* **due soon** (即将到期): from ``deadline − soon`` to ``deadline + grace``;
* **overdue** (逾期): after ``deadline + grace``; ``delay`` is counted from the deadline;
* **fresh** (正常): before ``deadline − soon``;
* **never updated** (从未更新): a tracked cycle but no update recorded;
* **not tracked** (不考核): no cycle, 不定期 or 自定义: tracked, but there is no deadline.

Grace and the due-soon window default per cycle (``default_grace``) and can be set per
organisation and per entry (``freshness_policies``; the entry's wins), as can the cycle itself.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from schemas.cycles import UpdateCycle


class Status(StrEnum):
    FRESH = "fresh"
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"
    NEVER_UPDATED = "never_updated"
    NOT_TRACKED = "not_tracked"

    @property
    def chinese(self) -> str:
        return STATUS_NAMES[self]


STATUS_NAMES = {
    Status.FRESH: "正常",
    Status.DUE_SOON: "即将到期",
    Status.OVERDUE: "逾期",
    Status.NEVER_UPDATED: "从未更新",
    Status.NOT_TRACKED: "不考核",
}

HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)


def default_grace(cycle: UpdateCycle) -> dt.timedelta:
    """How long after the deadline an update still counts as on time.

    实时/hourly: one period; 每日: 1 day; 每周: 2 days; 每月: 5 days (a working week); longer
    month cycles: 10 days (每季度), 15 (每半年); 每年: 30 days. Days scale with ``every``.
    """
    every, unit = cycle.every or 1, cycle.unit
    if unit == "hour":
        return every * HOUR
    if unit == "day":
        return every * DAY
    if unit == "week":
        return every * 2 * DAY
    if unit == "month":
        return {1: 5, 2: 7, 3: 10, 6: 15}.get(every, min(30, 5 * every)) * DAY
    return min(60, 30 * every) * DAY  # year


def default_soon(cycle: UpdateCycle) -> dt.timedelta:
    """How long before the deadline an entry is 'due soon': as long as its grace, but never
    more than a week."""
    return min(default_grace(cycle), 7 * DAY)


def add_period(moment: dt.datetime, cycle: UpdateCycle) -> dt.datetime:
    """``moment`` + one period, in calendar terms; month ends clamp (01-31 + 1 month = 02-28).
    Past year 9999 (a 9999-12-31 "never" sentinel) it is the last moment a datetime holds."""
    every, unit = cycle.every or 0, cycle.unit
    if unit == "hour":
        return later(moment, every * HOUR)
    if unit == "day":
        return later(moment, every * DAY)
    if unit == "week":
        return later(moment, every * 7 * DAY)
    months = every * (12 if unit == "year" else 1)
    if unit not in ("month", "year"):
        raise ValueError(f"cycle {cycle.label} has no period")
    month0 = moment.month - 1 + months
    year, month = moment.year + month0 // 12, month0 % 12 + 1
    if year > dt.MAXYEAR:
        return dt.datetime.max.replace(tzinfo=moment.tzinfo)
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def later(moment: dt.datetime, delta: dt.timedelta) -> dt.datetime:
    """``moment + delta``, or the last moment a datetime holds when that is past year 9999."""
    try:
        return moment + delta
    except OverflowError:
        return dt.datetime.max.replace(tzinfo=moment.tzinfo)


@dataclass(frozen=True)
class Policy:
    """The SLA of one entry: its cycle, grace and due-soon window."""

    cycle: UpdateCycle | None
    grace: dt.timedelta | None = None
    soon: dt.timedelta | None = None

    @property
    def tracked(self) -> bool:
        return self.cycle is not None and self.cycle.tracked

    def deadline(self, last_update: dt.datetime) -> dt.datetime:
        assert self.cycle is not None
        return add_period(last_update, self.cycle)

    def window(self, last_update: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
        """(due soon from, overdue after): the deadline minus the due-soon window, plus the
        grace."""
        assert self.cycle is not None
        deadline = self.deadline(last_update)
        grace = self.grace if self.grace is not None else default_grace(self.cycle)
        soon = self.soon if self.soon is not None else default_soon(self.cycle)
        return deadline - soon, later(deadline, grace)

    def status(self, last_update: dt.datetime | None, now: dt.datetime) -> Status:
        """The status at ``now`` (the reference the vectorised sweep is tested against)."""
        if not self.tracked:
            return Status.NOT_TRACKED
        if last_update is None:
            return Status.NEVER_UPDATED
        due_soon_from, overdue_after = self.window(last_update)
        if now > overdue_after:
            return Status.OVERDUE
        if now >= due_soon_from:
            return Status.DUE_SOON
        return Status.FRESH
