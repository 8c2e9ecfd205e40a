"""更新周期 (update cycle): parse the many spellings portals use into one canonical cycle.

Known values come from the 2017 编制指南 and real portals (实时, 每日, 每周, 每月, 每季度, 每半年,
每年, 不定期, 自定义, 每N日, 按月, 每月更新 …) and from DCAT (ISO-8601 ``R/P…``, ``irregular``).
Anything else raises ``ReasonError("unknown_cycle", value=…)`` (无法识别的更新周期 '…', with the
accepted forms), so a typo never silently becomes "untracked"; an importer turns that into a
warning and leaves the optional field empty.

ISO-8601 repeating durations (``R/P1D``, ``R5/P1W``, ``R/2020-01-01/P1M`` and a bare ``P1Y``;
any mix of Y M W D and T H M S; ``.`` or ``,`` decimals):

- whole months or years give months (``R/P3M`` 每季度, ``R/P6M`` 每半年, ``R/P1.5Y`` 每18月);
- under one hour is 实时 (``R/PT1S`` is DCAT-US for "continuously updated");
- a time-only period of whole hours gives hours (``R/PT1H`` 每小时, ``R/PT48H`` 每2日);
- anything else is counted in days (a month is 30 days, a year 365, as the SLA counts) and, if
  that is not a whole number, **cut down, never rounded up**: to whole days from one day up,
  to whole hours below one day. So ``R/P3.5D`` is 每3日, ``R/P0.5D`` 每12小时, ``R/P1.5W``
  (10.5 days) 每10日, ``R/P0.5M`` 每15日, ``R/P1.5M`` 每45日. A source promising an update
  every 3½ days is late after 3, never first after 4: the deadline is never later than promised.
- Counts are shown in the largest whole unit: 24 hours is 每日, 14 days 每2周, 24 months 每2年.

Chinese counts are read in digits or Chinese numerals (每两周, 每三个月, 每二日, 每十二个月,
每二十四小时, 每一百年), with 个 allowed between count and unit; 每旬 is 10 days (a 旬 is a
third of a month, which the SLA counts as 30 days) and 每半月 15 days. No cycle may be longer
than 100 years.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from schemas.messages import ReasonError

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
    "日更": "每日",
    "daily": "每日",
    "每周": "每周",
    "每星期": "每周",
    "周": "每周",
    "周更新": "每周",
    "weekly": "每周",
    "每月": "每月",
    "月": "每月",
    "月度": "每月",
    "月更新": "每月",
    "monthly": "每月",
    "每季度": "每季度",
    "每季": "每季度",
    "季度": "每季度",
    "季度更新": "每季度",
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
    "年更新": "每年",
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
    "旬": "xun",
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
_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5}
_CN_DIGITS |= {"六": 6, "七": 7, "八": 8, "九": 9}
_CN_TENS = {"十": 10, "百": 100, "千": 1000}
# 每N日, 每 5 年, 每两周, 每三个月, 按月, 每月更新, 月更新, 每旬, 每半月 …
_EVERY_N = re.compile(
    r"^(?:每|按)\s*(\d*|[零〇一二两三四五六七八九十百千]+|半)\s*个?\s*"
    r"(小时|时|日|天|周|星期|月|季度|季|年|旬)\s*(?:更新)?(?:一次)?$"
)
_NUMBER = r"(\d+(?:[.,]\d+)?)"
# R/P…, R5/P…, R/<start>/P… and a bare P… (DCAT-AP); any mix of Y M W D and T H M S.
_ISO = re.compile(
    rf"^(?:R\d*/(?:[^/]+/)?)?P(?:{_NUMBER}Y)?(?:{_NUMBER}M)?(?:{_NUMBER}W)?(?:{_NUMBER}D)?"
    rf"(?:T(?:{_NUMBER}H)?(?:{_NUMBER}M)?(?:{_NUMBER}S)?)?$"
)
# For periods that are not a whole number of months: the lengths the SLA uses elsewhere.
_DAYS_PER_YEAR = Decimal(365)
_DAYS_PER_MONTH = Decimal(30)
_HOURS_PER_DAY = Decimal(24)
# The longest period a cycle may have: longer ones (R/P99999999D) are no promise a deadline can
# be computed from (freshness would pass the last year a date can hold).
_LONGEST_DAYS = 100 * 365
_DAYS_PER_UNIT = {"hour": 1 / 24, "day": 1, "week": 7, "month": 365 / 12, "year": 365}


def _chinese_number(text: str) -> int | None:
    """A count in digits or Chinese numerals (三, 十二, 二十四, 一百零五); None if malformed."""
    if text.isdigit():
        return int(text)
    total, digit, previous = 0, None, ""
    for char in text:
        if char in _CN_DIGITS:
            if previous in _CN_DIGITS and previous not in "零〇":
                return None  # 二二 is no number
            digit = _CN_DIGITS[char]
        elif previous in _CN_TENS:
            return None  # 十十
        else:
            total += (1 if digit is None else digit) * _CN_TENS[char]
            digit = None
        previous = char
    return total + (digit or 0)


def _from_count(count: int, unit: str) -> UpdateCycle:
    """The cycle of ``count`` ``unit``s, in the largest unit that keeps it whole (24 hours is
    每日, 14 days 每2周, 12 months 每年), the standard cycle when there is one."""
    if unit == "xun":  # a 旬 is ten days
        count, unit = count * 10, "day"
    if unit == "quarter":
        count, unit = count * 3, "month"
    if unit == "hour" and count % 24 == 0:
        count, unit = count // 24, "day"
    if unit == "day" and count % 7 == 0:
        count, unit = count // 7, "week"
    if unit == "month" and count % 12 == 0:
        count, unit = count // 12, "year"
    for label, cycle in STANDARD_CYCLES.items():
        if cycle.every == count and cycle.unit == unit and label != "实时":
            return cycle
    label = f"每{_UNITS[unit][0]}" if count == 1 else f"每{count}{_UNITS[unit][0]}"
    return UpdateCycle(label, count, unit)


def _whole(value: Decimal) -> bool:
    return value == value.to_integral_value()


def _from_days(days: Decimal) -> UpdateCycle:
    """A period in days cut down, never rounded up, to whole days (whole hours below one day,
    实时 below one hour): the deadline never falls later than the source promised."""
    if days >= 1:
        return _from_count(int(days), "day")  # int() truncates: 3.5 days -> 3
    hours = days * _HOURS_PER_DAY
    return _from_count(int(hours), "hour") if hours >= 1 else REALTIME


def _from_iso(text: str, match: re.Match[str]) -> UpdateCycle:
    years, months, weeks, days, hours, minutes, seconds = (
        Decimal(part.replace(",", ".")) if part else Decimal(0) for part in match.groups()
    )
    calendar_months = years * 12 + months
    clock_hours = (weeks * 7 + days) * _HOURS_PER_DAY + hours + minutes / 60 + seconds / 3600
    if calendar_months == 0 and clock_hours == 0:
        raise ReasonError("unknown_cycle", value=text)
    if clock_hours == 0 and _whole(calendar_months):
        return _from_count(int(calendar_months), "month")  # R/P1Y, R/P3M, R/P1.5Y = 18 months
    if calendar_months == 0 and clock_hours < 1:
        return REALTIME  # R/PT1S is DCAT-US for "continuously updated"
    if calendar_months == 0 and weeks + days == 0 and _whole(clock_hours):
        return _from_count(int(clock_hours), "hour")  # R/PT1H, R/PT36H
    total_days = years * _DAYS_PER_YEAR + months * _DAYS_PER_MONTH + clock_hours / _HOURS_PER_DAY
    if _whole(total_days):
        return _from_count(int(total_days), "day")  # R/P1W, R/P0.5M = 15 days
    return _from_days(total_days)  # R/P3.5D -> 每3日, R/P0.5D -> 每12小时


def parse_update_cycle(raw: str) -> UpdateCycle:
    """Normalise a 更新周期 / accrualPeriodicity value.

    Raises ``ReasonError("unknown_cycle", value=…)`` (a ValueError; Chinese message
    无法识别的更新周期 '…') for anything it cannot read, blank included, and for a period
    longer than 100 years."""
    text = str(raw).strip()
    cycle = _parse(text)
    if cycle.unit is not None and (cycle.every or 0) * _DAYS_PER_UNIT[cycle.unit] > _LONGEST_DAYS:
        raise ReasonError("unknown_cycle", value=text)
    return cycle


def _parse(text: str) -> UpdateCycle:
    key = text.lower().replace("_", " ")
    if key in _ALIASES:
        return STANDARD_CYCLES[_ALIASES[key]]
    if key.replace(" ", "") in _ALIASES:
        return STANDARD_CYCLES[_ALIASES[key.replace(" ", "")]]
    if match := _EVERY_N.match(text):
        number, unit = match.group(1), _CN_UNIT[match.group(2)]
        if number == "半":  # 每半月 is 15 days, 每半年 6 months, 每半旬 5 days
            half = {"month": (15, "day"), "year": (6, "month"), "xun": (5, "day")}
            if unit in half:
                return _from_count(*half[unit])
        else:
            count = _chinese_number(number) if number else 1
            if count:
                return _from_count(count, unit)
    if match := _ISO.match(text.upper().replace(" ", "")):
        return _from_iso(text, match)
    raise ReasonError("unknown_cycle", value=text)


def is_repeating_interval(value: object) -> bool:
    """True for an ISO-8601 repeating interval (``R/P1D``, ``R/PT1S``): DCAT-US agencies write
    one in ``modified``, where it is the update cycle, not a date."""
    text = str(value).strip().upper().replace(" ", "") if isinstance(value, str) else ""
    return text.startswith("R") and _ISO.match(text) is not None


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
