"""Working days (工作日) for the deadlines of the sharing rules.

A working day follows China's public holidays and 调休 make-up days: the table of the pinned
``chinesecalendar`` package (``import chinese_calendar``), which ends with the last year the State
Council had announced when it was released. The data office can add a year's 放假安排 without
waiting for a release, in the workspace file ``config/holidays.yaml`` (``Workspace.holidays_file``)::

    2027:
      holidays: [2027-01-01, 2027-02-05..2027-02-11]   # 放假 (a date or an inclusive range A..B)
      workdays: [2027-02-14]                            # 调休上班

A year given in the file **replaces** the package's data for that year (so a correction is
possible): in it a day is a working day when it is listed in ``workdays``, or is Monday–Friday
and not listed in ``holidays``. A date of the neighbouring year listed under a year (a
2027-12-31 make-up day in the 2028 arrangement) overrides that one date only.

``covered_until`` is the last date the tables cover: 31 December of the package's last year,
extended by the file's years that follow it without a gap. Beyond it (and before the package's
first year) Mulu counts Monday–Friday and says so: a ``Deadline``'s ``warnings`` (Chinese and
English) and ``provisional`` flag.

Deadline rule: ``n`` working days from ``start`` end at 23:59:59 (catalogue time: naive
Asia/Shanghai) of the n-th working day **after** the day of ``start``; the day of ``start`` never
counts, so an application submitted on Friday evening or on Saturday counts from Monday (or from
the first working day after a holiday).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import chinese_calendar  # type: ignore[import-untyped]
import yaml
from chinese_calendar import constants as _package

from schemas.dates import CATALOGUE_TZ
from schemas.errors import InvalidInput
from warehouse.workspace import Workspace

DAY = dt.timedelta(days=1)
END_OF_DAY = dt.time(23, 59, 59)
_RANGE = re.compile(r"^\s*(\d{4}-\d{2}-\d{2})\s*\.\.\s*(\d{4}-\d{2}-\d{2})\s*$")
_KEYS = {"holidays": "放假", "workdays": "调休上班"}

PACKAGE_VERSION: str = getattr(chinese_calendar, "__version__", "?")
PACKAGE_FIRST_YEAR = min(_package.holidays).year
PACKAGE_LAST_YEAR = max(max(_package.holidays).year, max(_package.workdays).year)


@dataclass(frozen=True)
class YearDays:
    """One year's 放假安排 from the workspace file: holidays and make-up working days."""

    year: int
    holidays: frozenset[dt.date] = frozenset()
    workdays: frozenset[dt.date] = frozenset()


@dataclass(frozen=True)
class Deadline:
    """A deadline counted in working days; ``provisional`` when a day it counted lies outside
    the holiday tables (counted Monday–Friday), with ``warnings`` saying so."""

    at: dt.datetime
    days: int
    provisional: bool = False
    warnings: list[str] = field(default_factory=list)


def _naive(moment: dt.datetime | dt.date) -> dt.date:
    if isinstance(moment, dt.datetime):
        if moment.tzinfo is not None:
            moment = moment.astimezone(CATALOGUE_TZ).replace(tzinfo=None)
        return moment.date()
    return moment


class WorkingCalendar:
    """Working days: the package's table, the workspace file's years over it, Monday–Friday
    (provisional) outside both."""

    def __init__(self, years: Iterable[YearDays] = (), source: Path | None = None) -> None:
        self.source = source
        self.years: dict[int, YearDays] = {y.year: y for y in years}
        # Dates of a neighbouring year listed under a year: single-date overrides.
        self._extra: dict[dt.date, bool] = {}
        for y in self.years.values():
            for day in y.holidays:
                if day.year != y.year:
                    self._extra[day] = False
            for day in y.workdays:
                if day.year != y.year:
                    self._extra[day] = True
        last = PACKAGE_LAST_YEAR
        while last + 1 in self.years:
            last += 1
        self.covered_until = dt.date(last, 12, 31)

    @classmethod
    def from_workspace(cls, workspace: Workspace) -> WorkingCalendar:
        """The package's table plus the workspace's ``config/holidays.yaml`` (if there is one)."""
        path = workspace.holidays_file
        if not path.exists():
            return cls(source=path)
        return cls(load_holidays_file(path), source=path)

    def is_covered(self, day: dt.date | dt.datetime) -> bool:
        """Whether the tables know ``day``'s holidays (else Monday–Friday is assumed)."""
        d = _naive(day)
        return d.year in self.years or PACKAGE_FIRST_YEAR <= d.year <= PACKAGE_LAST_YEAR

    def is_working_day(self, day: dt.date | dt.datetime) -> bool:
        d = _naive(day)
        year = self.years.get(d.year)
        if year is not None:
            if d in year.workdays:
                return True
            return d.weekday() < 5 and d not in year.holidays
        if d in self._extra:
            return self._extra[d]
        if PACKAGE_FIRST_YEAR <= d.year <= PACKAGE_LAST_YEAR:
            return bool(chinese_calendar.is_workday(d))
        return d.weekday() < 5

    def deadline(self, start: dt.datetime | dt.date, n: int) -> Deadline:
        """The end (23:59:59) of the ``n``-th working day after the day of ``start``; ``n = 0``:
        the end of ``start``'s own day. Provisional (with warnings) when a counted day lies
        outside the tables."""
        if n < 0:
            raise InvalidInput(f"工作日数不能为负数：{n}（working days must not be negative）")
        day = _naive(start)
        outside: list[dt.date] = [] if self.is_covered(day) or n else [day]
        counted = 0
        while counted < n:
            day += DAY
            if not self.is_covered(day):
                outside.append(day)
            if self.is_working_day(day):
                counted += 1
        at = dt.datetime.combine(day, END_OF_DAY)
        return Deadline(at, n, bool(outside), self._warnings(outside))

    def add_working_days(self, start: dt.datetime | dt.date, n: int) -> dt.datetime:
        """``deadline(start, n).at``: see the module's rule."""
        return self.deadline(start, n).at

    def working_days_between(self, a: dt.datetime | dt.date, b: dt.datetime | dt.date) -> int:
        """Working days after the day of ``a`` up to and including the day of ``b`` (negative
        when ``b`` is before ``a``): ``working_days_between(s, add_working_days(s, n)) == n``."""
        first, last = _naive(a), _naive(b)
        if last < first:
            return -self.working_days_between(b, a)
        count, day = 0, first
        while day < last:
            day += DAY
            count += self.is_working_day(day)
        return count

    def warnings_between(self, a: dt.datetime | dt.date, b: dt.datetime | dt.date) -> list[str]:
        """The provisional-count warnings for the days from ``a`` to ``b`` (empty if covered)."""
        first, last = sorted((_naive(a), _naive(b)))
        outside = [
            first + i * DAY
            for i in range((last - first).days + 1)
            if not self.is_covered(first + i * DAY)
        ]
        return self._warnings(outside)

    def _warnings(self, outside: list[dt.date]) -> list[str]:
        if not outside:
            return []
        where = str(self.source) if self.source else "config/holidays.yaml"
        first, last = min(outside), max(outside)
        span = f"{first}" if first == last else f"{first} 至 {last}"
        span_en = f"{first}" if first == last else f"{first} to {last}"
        return [
            f"{span} 超出节假日安排表（覆盖 {PACKAGE_FIRST_YEAR}-01-01 至 {self.covered_until}），"
            f"按周一至周五计算工作日，期限为暂定；数据办可在 {where} 中补充当年放假安排。"
            f" / {span_en} is beyond the holiday tables (covering {PACKAGE_FIRST_YEAR}-01-01 to "
            f"{self.covered_until}): working days counted Monday–Friday, the deadline is "
            f"provisional; the data office can add the year's 放假安排 in {where}."
        ]


def _error(path: Path, node: yaml.Node | None, text: str) -> InvalidInput:
    line = f"第 {node.start_mark.line + 1} 行：" if node is not None else ""
    return InvalidInput(f"节假日文件 {path} {line}{text}")


def _date(path: Path, node: yaml.Node, text: str, where: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise _error(
            path, node, f"{where} 的“{text}”不是日期（应为 YYYY-MM-DD 或 YYYY-MM-DD..YYYY-MM-DD）"
        ) from None


def _dates(path: Path, node: yaml.Node, where: str) -> set[dt.date]:
    if isinstance(node, yaml.ScalarNode) and node.value in ("", "~", "null"):
        return set()
    if not isinstance(node, yaml.SequenceNode):
        raise _error(path, node, f"{where} 应为日期列表，如 [2027-01-01, 2027-02-05..2027-02-11]")
    days: set[dt.date] = set()
    for item in node.value:
        if not isinstance(item, yaml.ScalarNode):
            raise _error(path, item, f"{where} 的每一项应为日期或日期范围")
        match = _RANGE.match(item.value)
        if match is None:
            days.add(_date(path, item, item.value, where))
            continue
        start = _date(path, item, match.group(1), where)
        end = _date(path, item, match.group(2), where)
        if end < start:
            raise _error(path, item, f"{where} 的范围“{item.value}”结束日期早于开始日期")
        if (end - start).days > 366:
            raise _error(path, item, f"{where} 的范围“{item.value}”超过一年")
        days.update(start + i * DAY for i in range((end - start).days + 1))
    return days


def parse_holidays(text: str, path: Path) -> list[YearDays]:
    """The years of a holidays file (format: the module's docstring); ``InvalidInput`` naming
    the file, line and key of the first problem."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f"第 {mark.line + 1} 行：" if mark is not None else ""
        raise InvalidInput(f"节假日文件 {path} {line}不是有效的 YAML（{exc}）") from None
    if root is None:
        return []
    if not isinstance(root, yaml.MappingNode):
        raise _error(path, root, "顶层应为“年份: {holidays: [...], workdays: [...]}”的映射")
    years: dict[int, YearDays] = {}
    for key, value in root.value:
        text_key = str(key.value).strip()
        if not (isinstance(key, yaml.ScalarNode) and text_key.isdigit() and len(text_key) == 4):
            raise _error(path, key, f"键“{key.value}”应为四位年份，如 2027")
        year = int(text_key)
        if year in years:
            raise _error(path, key, f"年份 {year} 重复出现")
        if not isinstance(value, yaml.MappingNode):
            raise _error(path, value, f"{year} 下应为 holidays（放假）和 workdays（调休上班）")
        found: dict[str, set[dt.date]] = {"holidays": set(), "workdays": set()}
        for k, v in value.value:
            name = str(k.value)
            if name not in _KEYS:
                raise _error(
                    path,
                    k,
                    f"{year} 下的键“{name}”无法识别（可用：holidays 放假、workdays 调休上班）",
                )
            where = f"{year}.{name}（{_KEYS[name]}）"
            found[name] = _dates(path, v, where)
            for day in found[name]:
                neighbour = (day.year, day.month) in ((year - 1, 12), (year + 1, 1))
                if day.year != year and not neighbour:
                    raise _error(path, v, f"{where} 的日期 {day} 不属于 {year} 年的放假安排")
        both = found["holidays"] & found["workdays"]
        if both:
            raise _error(path, value, f"{year} 年的 {min(both)} 同时列为放假和调休上班")
        years[year] = YearDays(year, frozenset(found["holidays"]), frozenset(found["workdays"]))
    return list(years.values())


def load_holidays_file(path: Path) -> list[YearDays]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(f"节假日文件 {path} 不是 UTF-8 编码的文本") from None
    return parse_holidays(text, path)
