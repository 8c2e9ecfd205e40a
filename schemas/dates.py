"""Dates and times of the catalogue: one parser for every source, one way to write them back.

The catalogue keeps time as naive Asia/Shanghai time (catalogue time). A source value may be
any of the spellings real exports use; ``parse_time`` reads it into a ``ParsedTime``: the start
of the period the source stated (``value``) and how much of it the source stated
(``precision``: year, month, day, minute or second). "2023" is the year 2023 (value
2023-01-01 00:00), never a count of seconds since 1970.

Accepted:

- a year (``2023``, ``2023年``), a month (``2023-05``, ``2023/5``, ``2023.5``, ``2023年5月``);
- a date (``2023-05-08``, ``2023/5/8``, ``2023.5.8``, ``20230508``, ``2023年5月8日``);
- a date and time, with ``T`` or a space, minutes or seconds, fractional seconds (dropped: the
  value is the start of the second), an offset (``+08:00``, ``+0800``, ``-05``, ``Z``, ``UTC``):
  a time with an offset is converted to Asia/Shanghai with the tz database; Chinese times
  (``2023年5月8日 14时30分``, ``14点30分5秒``, ``14:30``), a 12-hour clock (``下午2:30``,
  ``2:30 PM``); an hour alone counts as minute precision (``14时`` is 14:00);
- a Java ``ZonedDateTime`` (``2023-05-08T14:30:00+08:00[Asia/Shanghai]``): the offset is
  used, the bracketed zone name dropped (it needs an offset before it);
- an e-mail style date (``Wed, 14 Sep 2022 16:33:00 GMT``) and Java's ``Date.toString``
  (``Mon May 08 14:30:00 CST 2023``). ``CST`` is China Standard Time (+08:00) here, not US
  Central: a Chinese catalogue's legacy systems print their own zone with that abbreviation;
  the other zone names Java and RFC 2822 use (GMT, UTC, EST, PDT …) keep their meaning, and
  an unknown one is refused rather than guessed;
- an Excel serial number (day count since 1899-12-30, a fraction being the time of day), as
  text or a number, only from 10000 to 99999 (1927-05-18 to 2173-10-13): a bare number of 5
  digits is read as a serial, never as a Unix time;
- Unix epoch milliseconds (portal APIs' timestamps), as text or a number, only with exactly 13
  digits and before 2100 (2001-09-09 up to 2099-12-31): ``1683527400000`` is
  2023-05-08T14:30 (second precision, milliseconds dropped). Epoch *seconds* stay refused: a
  10-digit number is as likely a compact ``yyyymmddhh`` (``1999123114``) or a code, and no rule
  tells them apart safely. Other numbers (123, 1700000000) are refused as ``bad_date``. A
  4-digit number is a year, an 8-digit one a compact date;
- ``datetime.date`` and ``datetime.datetime`` objects (aware ones converted).

Anything else raises ``ReasonError("bad_date", value=...)``; a date that does not exist
(2023-02-30, 25:00) raises ``ReasonError("impossible_date", value=...)``.

``format_time`` writes the shortest text that says exactly what was stated, and
``parse_time(format_time(v, p))`` gives back ``(v, p)``. ``xsd_literal`` writes the value as
an XML Schema literal for RDF (gYear, gYearMonth, date or dateTime with the zone's offset).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any, Literal, cast
from zoneinfo import ZoneInfo

from pydantic import BeforeValidator

from schemas.date_text import email_date, java_date, offset_zone, without_zone_id
from schemas.messages import ReasonError

CATALOGUE_TZ = ZoneInfo("Asia/Shanghai")
CATALOGUE_OFFSET = dt.timezone(dt.timedelta(hours=8))  # China Standard Time

Precision = Literal["year", "month", "day", "minute", "second"]
PRECISIONS: tuple[Precision, ...] = ("year", "month", "day", "minute", "second")
DATE_PRECISIONS: tuple[Precision, ...] = ("year", "month", "day")
# Spellings of a precision a spreadsheet may carry (Mulu writes the English code).
PRECISION_ALIASES: dict[str, Precision] = {
    **{p: p for p in PRECISIONS},
    "年": "year",
    "月": "month",
    "日": "day",
    "天": "day",
    "分": "minute",
    "分钟": "minute",
    "秒": "second",
}

EXCEL_EPOCH = dt.datetime(1899, 12, 30)
EXCEL_SERIALS = (10_000, 100_000)  # [low, high): 1927-05-18 up to 2173-10-13

_TIME = (
    r"(?:[T\s]\s*|\s*)(?P<half>上午|下午|晚上|AM|PM|am|pm)?\s*"
    r"(?:(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:[.,](?P<F>\d+))?)?"
    r"|(?P<cH>\d{1,2})\s*[时點点]\s*(?:(?P<cM>\d{1,2})\s*分\s*(?:(?P<cS>\d{1,2})\s*秒)?)?)"
    r"(?:\s*(?P<half2>AM|PM|am|pm))?"
)
_AFTERNOON = {"下午", "晚上", "PM", "pm"}
_OFFSET = r"\s*(?P<Z>Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?"
_TAIL = rf"(?:{_TIME})?{_OFFSET}"
_DATE_FORMS = (
    # 2023, 2023-05, 2023-05-08, 2023/5/8, 2023.5.8 (one separator throughout)
    re.compile(
        rf"^(?P<y>\d{{4}})(?:(?P<sep>[-/.])(?P<m>\d{{1,2}})(?:(?P=sep)(?P<d>\d{{1,2}}))?)?{_TAIL}$"
    ),
    # 2023年, 2023年5月, 2023年5月8日 (or 号)
    re.compile(
        rf"^(?P<y>\d{{4}})\s*年(?:\s*(?P<m>\d{{1,2}})\s*月(?:\s*(?P<d>\d{{1,2}})\s*[日号])?)?{_TAIL}$"
    ),
    # 20230508, 20230508T1430, 20230508 14:30:05
    re.compile(
        r"^(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})"
        r"(?:T?(?P<bH>\d{2})(?P<bM>\d{2})(?P<bS>\d{2})?)?" + _OFFSET + "$"
    ),
    re.compile(rf"^(?P<y>\d{{4}})(?P<m>\d{{2}})(?P<d>\d{{2}}){_TAIL}$"),
)
_EXCEL_SERIAL = re.compile(r"^\d{5}(?:\.\d+)?$")
_EPOCH_MILLISECONDS = re.compile(r"^\d{13}$")
# [low, high) of epoch milliseconds read as a time: 13 digits (2001-09-09) up to 2100-01-01.
EPOCH_MILLISECONDS = (1_000_000_000_000, 4_102_444_800_000)


@dataclass(frozen=True, slots=True)
class ParsedTime:
    """A moment as a source stated it: the start of the stated period in catalogue time
    (naive Asia/Shanghai) and the precision it was stated to."""

    value: dt.datetime
    precision: Precision

    def date(self) -> dt.date:
        return self.value.date()

    def at(self, precision: Precision) -> ParsedTime:
        """This time stated to ``precision``, coarser or finer (a finer one keeps the value)."""
        if precision == self.precision:
            return self
        return ParsedTime(period_start(self.value, precision), precision)

    def text(self) -> str:
        return format_time(self.value, self.precision)


def parse_time(value: Any) -> ParsedTime:
    """Any source spelling of a date or time as catalogue time and its precision."""
    if type(value) is str and (fast := _plain_iso(value)) is not None:
        return fast  # most sources: plain ISO text, the quick way
    if isinstance(value, dt.datetime):
        return ParsedTime(_catalogue(value, value), "second")
    if isinstance(value, dt.date):
        return ParsedTime(dt.datetime.combine(value, dt.time()), "day")
    if isinstance(value, Decimal):  # a JSON number as a streaming JSON reader gives it
        value = int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ReasonError("bad_date", value=value)
    if isinstance(value, int | float):
        return _number(value, value)
    text = unicodedata.normalize("NFKC", value).strip()  # full-width digits and colons
    if not text:
        raise ReasonError("bad_date", value=value)
    if _EXCEL_SERIAL.match(text):
        return _excel_serial(float(text), value)
    if _EPOCH_MILLISECONDS.match(text):
        return _epoch_milliseconds(int(text), value)
    text = without_zone_id(text)  # 2023-05-08T14:30:00+08:00[Asia/Shanghai]
    for form in _DATE_FORMS:
        if match := form.match(text):
            return _from_match(match.groupdict(), value)
    if (moment := java_date(text, value)) is not None:
        return ParsedTime(_catalogue(moment, value), "second")
    if re.search(r"[A-Za-z]{3}", text):
        return ParsedTime(_catalogue(email_date(text, value), value), "second")
    raise ReasonError("bad_date", value=value)


def parse_optional_time(value: Any) -> ParsedTime | None:
    """``parse_time``, with None and blank text read as no time."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return parse_time(value)


def parse_precision(value: Any, label: str = "精度") -> Precision | None:
    """A precision code (or its Chinese spelling); None for blank. ``label`` names the field
    in the message."""
    if value is None:
        return None
    text = str(value).strip().lower()
    if not text:
        return None
    try:
        return PRECISION_ALIASES[text]
    except KeyError:
        raise ReasonError("bad_precision", label=label, value=value) from None


def period_start(value: dt.datetime | dt.date, precision: Precision) -> dt.datetime:
    """The first moment of the ``precision`` period ``value`` lies in."""
    if not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value, dt.time())
    if precision == "year":
        return dt.datetime(value.year, 1, 1)
    if precision == "month":
        return dt.datetime(value.year, value.month, 1)
    if precision == "day":
        return dt.datetime(value.year, value.month, value.day)
    if precision == "minute":
        return value.replace(second=0, microsecond=0)
    return value.replace(microsecond=0)


def format_time(value: dt.datetime | dt.date, precision: Precision | None = None) -> str:
    """The shortest text stating ``value`` to ``precision``: 2023, 2023-05, 2023-05-08,
    2023-05-08T14:30, 2023-05-08T14:30:05. Without a precision: second for a datetime, day
    for a date."""
    if precision is None:
        precision = "second" if isinstance(value, dt.datetime) else "day"
    start = period_start(value, precision)
    if precision == "year":
        return f"{start.year:04d}"
    if precision == "month":
        return f"{start.year:04d}-{start.month:02d}"
    if precision == "day":
        return start.date().isoformat()
    return start.isoformat(timespec="minutes" if precision == "minute" else "seconds")


def xsd_literal(
    value: dt.datetime | dt.date, precision: Precision | None = None
) -> tuple[str, str]:
    """``value`` at ``precision`` as (lexical form, datatype CURIE) for RDF: xsd:gYear,
    xsd:gYearMonth, xsd:date, or xsd:dateTime with the Asia/Shanghai offset of that moment
    (+08:00; +09:00 in the summers of 1986-1991). Where the tz database knows only local mean
    time (before 1901), +08:00 is written: an offset of whole minutes is what xsd allows."""
    if precision is None:
        precision = "second" if isinstance(value, dt.datetime) else "day"
    text = format_time(value, precision)
    if precision == "year":
        return text, "xsd:gYear"
    if precision == "month":
        return text, "xsd:gYearMonth"
    if precision == "day":
        return text, "xsd:date"
    start = period_start(value, precision)
    offset = _zone_offset(start)
    return start.isoformat(timespec="seconds") + _offset_text(offset), "xsd:dateTime"


def catalogue_time(value: dt.datetime) -> dt.datetime:
    """The catalogue's own clock: naive Asia/Shanghai time; aware values are converted."""
    return _catalogue(value, value)


def _catalogue_datetime(value: Any) -> dt.datetime | None:
    parsed = parse_optional_time(value)
    return None if parsed is None else parsed.value


# A pydantic field type for a moment given by a user or a request (an API body's ``at``):
# every spelling parse_time reads, as catalogue time; pydantic's own datetime parsing would
# take "2023" for 2023 seconds after 1970. Use ``CatalogueDatetime | None`` for an optional one.
CatalogueDatetime = Annotated[dt.datetime, BeforeValidator(_catalogue_datetime)]


# --- helpers ------------------------------------------------------------------------------


def _zone_offset(local: dt.datetime) -> dt.timedelta:
    offset = local.replace(tzinfo=CATALOGUE_TZ).utcoffset() or dt.timedelta(hours=8)
    if offset.total_seconds() % 60:
        return dt.timedelta(hours=8)  # local mean time (+08:05:43): not an xsd offset
    return offset


def _offset_text(offset: dt.timedelta) -> str:
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _catalogue(value: dt.datetime, raw: Any) -> dt.datetime:
    """Naive catalogue time to the second; an aware value converted with the tz database."""
    if value.microsecond:
        value = value.replace(microsecond=0)
    if value.tzinfo is None:
        return value
    try:
        local = value.astimezone(CATALOGUE_TZ)
    except (OverflowError, ValueError):
        raise ReasonError("impossible_date", value=raw) from None
    offset = local.utcoffset()
    if offset is not None and offset.total_seconds() % 60:
        local = value.astimezone(CATALOGUE_OFFSET)  # before 1901 the database gives LMT
    return local.replace(tzinfo=None)


def _plain_iso(text: str) -> ParsedTime | None:
    """The common ISO shapes (2023-05-08, 2023-05-08T14:30[:05[.fff]][Z|±hh:mm]) read by
    ``datetime.fromisoformat`` in a fraction of the regexes' time; None for anything else,
    including an impossible date, which the full parser then names."""
    size = len(text)
    if size < 10 or text[4] != "-" or text[7] != "-" or not text[:4].isdigit():
        return None
    precision: Precision
    if size == 10:
        precision = "day"
    elif size >= 16 and text[10] in "T " and text[13] == ":" and text[11:13].isdigit():
        precision = "second" if size >= 19 and text[16] == ":" else "minute"
    else:
        return None
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return ParsedTime(_catalogue(value, text), precision)


def _number(number: int | float, raw: Any) -> ParsedTime:
    if isinstance(number, float) and not number.is_integer():
        return _excel_serial(number, raw)
    whole = int(number)
    if len(str(whole)) == 13:
        return _epoch_milliseconds(whole, raw)
    if 1000 <= whole <= 9999:
        return _from_match({"y": str(whole)}, raw)
    if 10_000_000 <= whole <= 99_999_999:
        text = str(whole)
        return _from_match({"y": text[:4], "m": text[4:6], "d": text[6:]}, raw)
    return _excel_serial(float(number), raw)


def _epoch_milliseconds(milliseconds: int, raw: Any) -> ParsedTime:
    low, high = EPOCH_MILLISECONDS
    if not low <= milliseconds < high:
        raise ReasonError("bad_date", value=raw)
    value = dt.datetime.fromtimestamp(milliseconds // 1000, dt.UTC)
    return ParsedTime(_catalogue(value, raw), "second")


def _excel_serial(serial: float, raw: Any) -> ParsedTime:
    low, high = EXCEL_SERIALS
    if not low <= serial < high:
        raise ReasonError("bad_date", value=raw)
    days = int(serial)
    seconds = round((serial - days) * 86_400)
    value = EXCEL_EPOCH + dt.timedelta(days=days, seconds=seconds)
    return ParsedTime(value, "day" if seconds == 0 and serial == days else "second")


def _from_match(parts: dict[str, str | None], raw: Any) -> ParsedTime:
    def number(*names: str) -> int | None:
        for name in names:
            if parts.get(name) is not None:
                return int(cast(str, parts[name]))
        return None

    year, month, day = number("y"), number("m"), number("d")
    hour, minute = number("H", "cH", "bH"), number("M", "cM", "bM")
    second = number("S", "cS", "bS")
    half = parts.get("half") or parts.get("half2")
    if half and hour is not None:  # a 12-hour clock: 下午2:30 is 14:30, 12 AM is midnight
        if not 1 <= hour <= 12:
            raise ReasonError("impossible_date", value=raw)
        hour = hour % 12 + (12 if half in _AFTERNOON else 0)
    precision: Precision
    if hour is not None:
        precision = "second" if second is not None else "minute"
    else:
        precision = "day" if day is not None else "month" if month is not None else "year"
    if hour is not None and day is None:
        raise ReasonError("bad_date", value=raw)  # a time needs a date
    try:
        value = dt.datetime(
            cast(int, year),
            1 if month is None else month,  # 2023-00-00 is impossible, not January
            1 if day is None else day,
            hour or 0,
            minute or 0,
            second or 0,
        )
    except ValueError:
        raise ReasonError("impossible_date", value=raw) from None
    zone = parts.get("Z")
    if zone and hour is not None:  # a date alone has no instant to convert
        value = _catalogue(value.replace(tzinfo=offset_zone(zone)), raw)
    return ParsedTime(value, precision)
