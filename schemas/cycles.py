"""更新周期 (update cycle): parse the many spellings portals use into one canonical cycle.

Known values come from the 2017 编制指南 and real portals (实时, 每日, 每周, 每月, 每季度, 每半年,
每年, 不定期, 自定义, 每N日 …) and from DCAT (ISO-8601 ``R/P…``, ``irregular``). Anything else is
rejected with a message that lists what is accepted, so a typo never silently becomes "untracked".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

# unit -> (Chinese unit word, ISO designator)
_UNITS = {
    "hour": ("小时", "TH"),
    "day": ("日", "D"),
    "week": ("周", "W"),
    "month": ("月", "M"),
    "year": ("年", "Y"),
}


@dataclass(frozen=True, slots=True)
class UpdateCycle:
    """A normalised 更新周期.

    ``every``/``unit`` give the period (3 months for 每季度); both are None for cycles without a
    deadline (不定期, 自定义). 实时 (real time) is modelled as every 1 hour: a feed silent for
    longer than that is late.
    """

    label: str
    every: int | None = None
    unit: str | None = None

    @property
    def tracked(self) -> bool:
        """True when the cycle implies a deadline for the next update."""
        return self.unit is not None

    @property
    def iso(self) -> str | None:
        """ISO-8601 repeating duration as DCAT's accrualPeriodicity uses it."""
        if self.label == "实时":
            return "R/PT1S"
        if self.unit is None:
            return "irregular" if self.label == "不定期" else None
        if self.unit == "hour":
            return f"R/PT{self.every}H"
        return f"R/P{self.every}{_UNITS[self.unit][1]}"


REALTIME = UpdateCycle("实时", 1, "hour")
IRREGULAR = UpdateCycle("不定期")
CUSTOM = UpdateCycle("自定义")

# The standard labels, in order of frequency. Their periods are what the SLA uses.
STANDARD_CYCLES: dict[str, UpdateCycle] = {
    c.label: c
    for c in (
        REALTIME,
        UpdateCycle("每日", 1, "day"),
        UpdateCycle("每周", 1, "week"),
        UpdateCycle("每月", 1, "month"),
        UpdateCycle("每季度", 3, "month"),
        UpdateCycle("每半年", 6, "month"),
        UpdateCycle("每年", 1, "year"),
        IRREGULAR,
        CUSTOM,
    )
}

_ALIASES = {
    "实时": "实时",
    "实时更新": "实时",
    "realtime": "实时",
    "real-time": "实时",
    "continuous": "实时",
    "continuously": "实时",
    "每日": "每日",
    "每天": "每日",
    "日": "每日",
    "日更新": "每日",
    "daily": "每日",
    "每周": "每周",
    "每星期": "每周",
    "周": "每周",
    "weekly": "每周",
    "每月": "每月",
    "月": "每月",
    "月度": "每月",
    "monthly": "每月",
    "每季度": "每季度",
    "每季": "每季度",
    "季度": "每季度",
    "quarterly": "每季度",
    "每半年": "每半年",
    "半年": "每半年",
    "semiannual": "每半年",
    "semiannually": "每半年",
    "每年": "每年",
    "年": "每年",
    "年度": "每年",
    "每一年": "每年",
    "annual": "每年",
    "annually": "每年",
    "yearly": "每年",
    "不定期": "不定期",
    "不定时": "不定期",
    "按需": "不定期",
    "irregular": "不定期",
    "asneeded": "不定期",
    "as needed": "不定期",
    "自定义": "自定义",
    "其他": "自定义",
    "other": "自定义",
}

_CN_UNIT = {
    "小时": "hour",
    "时": "hour",
    "日": "day",
    "天": "day",
    "周": "week",
    "星期": "week",
    "月": "month",
    "个月": "month",
    "季": "quarter",
    "季度": "quarter",
    "年": "year",
}
_EVERY_N = re.compile(r"^每\s*(\d*)\s*(小时|时|日|天|周|星期|个月|月|季度|季|年)$")
_ISO = re.compile(r"^R/P(?:(\d+(?:\.\d+)?)([YMWD])|T(\d+(?:\.\d+)?)([HMS]))$")
_DAYS_PER = {"Y": Decimal(365), "M": Decimal(30), "W": Decimal(7), "D": Decimal(1)}

ACCEPTED = "实时/每日/每周/每月/每季度/每半年/每年/不定期/自定义, 每N日|周|月|季度|年, ISO-8601 R/P… or irregular"


def _from_count(count: int, unit: str) -> UpdateCycle:
    if unit == "quarter":
        count, unit = count * 3, "month"
    for label, cycle in STANDARD_CYCLES.items():
        if cycle.every == count and cycle.unit == unit and label != "实时":
            return cycle
    if unit == "month" and count % 12 == 0:
        count, unit = count // 12, "year"
    if unit == "day" and count % 7 == 0:
        count, unit = count // 7, "week"
    label = f"每{_UNITS[unit][0]}" if count == 1 else f"每{count}{_UNITS[unit][0]}"
    return UpdateCycle(label, count, unit)


def _from_iso(match: re.Match[str]) -> UpdateCycle:
    amount, designator, t_amount, t_designator = match.groups()
    if t_designator is not None:
        value = Decimal(t_amount)
        if t_designator == "S" or (t_designator == "M" and value < 60):
            return REALTIME  # DCAT-US uses R/PT1S for "continuously updated"
        hours = value / 60 if t_designator == "M" else value
        return _from_count(max(1, round(hours)), "hour")
    value = Decimal(amount)
    if value == value.to_integral_value():
        unit = {"Y": "year", "M": "month", "W": "week", "D": "day"}[designator]
        return _from_count(int(value), unit)
    # Fractional periods (R/P0.5M, R/P3.5D) become whole days.
    return _from_count(max(1, round(value * _DAYS_PER[designator])), "day")


def parse_update_cycle(raw: str) -> UpdateCycle:
    """Normalise a 更新周期 / accrualPeriodicity value; raise ValueError when it is unknown."""
    text = str(raw).strip()
    key = text.lower().replace("_", " ")
    if key in _ALIASES:
        return STANDARD_CYCLES[_ALIASES[key]]
    if key.replace(" ", "") in _ALIASES:
        return STANDARD_CYCLES[_ALIASES[key.replace(" ", "")]]
    if match := _EVERY_N.match(text):
        count = int(match.group(1) or 1)
        if count > 0:
            return _from_count(count, _CN_UNIT[match.group(2)])
    if match := _ISO.match(text.upper()):
        return _from_iso(match)
    raise ValueError(f"unknown 更新周期 {text!r}: expected {ACCEPTED}")


def cycle_from_label(label: str | None) -> UpdateCycle | None:
    """The cycle for a stored canonical label (None stays None)."""
    return None if label is None else parse_update_cycle(label)


# Default run times: 02:00, after departments' nightly exports; the 1st of a period for longer
# cycles. 实时 sources are followed by the sensor, with an hourly schedule as a safety net.
_CRON_BY_LABEL = {
    "实时": "0 * * * *",
    "每日": "0 2 * * *",
    "每周": "0 2 * * 1",
    "每月": "0 2 1 * *",
    "每季度": "0 2 1 1,4,7,10 *",
    "每半年": "0 2 1 1,7 *",
    "每年": "0 2 1 1 *",
}


def cron_for(cycle: UpdateCycle) -> str | None:
    """A cron schedule that runs once per cycle; None for cycles without a deadline."""
    if cycle.label in _CRON_BY_LABEL:
        return _CRON_BY_LABEL[cycle.label]
    if cycle.every is None:  # no period, no deadline (every and unit are None together)
        return None
    if cycle.unit == "hour":
        return f"0 */{cycle.every} * * *"
    if cycle.unit == "day":
        return f"0 2 */{cycle.every} * *"
    if cycle.unit == "week":
        return (
            "0 2 * * 1"  # cron cannot say "every N weeks": weekly, the load is a no-op if unchanged
        )
    if cycle.unit == "month":
        return f"0 2 1 */{cycle.every} *" if cycle.every < 12 else "0 2 1 1 *"
    if cycle.unit == "year":
        return "0 2 1 1 *"
    return None
