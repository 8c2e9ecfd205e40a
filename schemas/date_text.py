"""Dates written with words: Java's ``Date.toString`` and ``ZonedDateTime``, e-mail style dates,
and the zone names they carry (used by schemas.dates.parse_time).

``CST`` is China Standard Time (+08:00) here, not US Central (RFC 2822's meaning): a Chinese
catalogue's legacy systems print their own zone with that abbreviation. The other names keep
their usual meaning, and an unknown one is refused rather than guessed.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import re
from typing import Any

from schemas.messages import ReasonError

# Java ZonedDateTime.toString: an offset then the zone id in brackets; the offset is kept.
_ZONE_ID = re.compile(
    r"(?P<time>\d:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}(?::?\d{2})?))"
    r"\[[A-Za-z][A-Za-z0-9_/+\-]*\]$"
)
# Java Date.toString: "EEE MMM dd HH:mm:ss zzz yyyy" (the zone may be GMT+08:00 or absent).
_JAVA_DATE = re.compile(
    r"^(?:[A-Za-z]{3},?\s+)?(?P<mon>[A-Za-z]{3})\s+(?P<d>\d{1,2})\s+"
    r"(?P<H>\d{1,2}):(?P<M>\d{2}):(?P<S>\d{2})\s+"
    r"(?:(?P<zone>[A-Za-z]{1,5})(?P<zoff>[+-]\d{1,2}(?::?\d{2})?)?\s+)?(?P<y>\d{4})$"
)
_MONTHS = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}
# Zone abbreviations and their offsets in hours. CST is China Standard Time: in a Chinese
# catalogue a legacy system printing "CST" (Java's Date.toString on a server set to
# Asia/Shanghai) means +08:00, and reading it as US Central put every such time 14 hours late.
# The rest are the zones RFC 2822 names, and two more Java prints for East Asia.
_ZONE_HOURS = {
    "CST": 8,
    "HKT": 8,
    "JST": 9,
    "GMT": 0,
    "UT": 0,
    "UTC": 0,
    "Z": 0,
    "EST": -5,
    "EDT": -4,
    "CDT": -5,
    "MST": -7,
    "MDT": -6,
    "PST": -8,
    "PDT": -7,
}
_EMAIL_ZONE = re.compile(r"\s([A-Za-z]{1,5})$")


def without_zone_id(text: str) -> str:
    """``2023-05-08T14:30:00+08:00[Asia/Shanghai]`` without its bracketed zone id (the offset
    before it says the instant); text without an offset before the bracket is left as it is."""
    return _ZONE_ID.sub(r"\g<time>", text)


def offset_zone(text: str) -> dt.tzinfo:
    """A zone from an offset (``+08:00``, ``+0800``, ``-05``) or Z, UTC, GMT."""
    if text in ("Z", "UTC", "GMT"):
        return dt.UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
    if hours > 23 or minutes > 59:
        raise ReasonError("bad_date", value=text)
    return dt.timezone(sign * dt.timedelta(hours=hours, minutes=minutes))


def zone_named(name: str, extra: str | None, raw: Any) -> dt.tzinfo:
    """A zone abbreviation (CST is China's, see _ZONE_HOURS), maybe with an offset after it
    (Java's GMT+08:00); an unknown abbreviation is refused, not guessed."""
    hours = _ZONE_HOURS.get(name.upper())
    if hours is None:
        raise ReasonError("bad_date", value=raw)
    zone = dt.timezone(dt.timedelta(hours=hours))
    if extra:
        if hours != 0:
            raise ReasonError("bad_date", value=raw)
        sign = extra[0]
        digits = extra[1:].replace(":", "")
        hour_digits = digits[:-2] if len(digits) > 2 else digits
        minute_digits = digits[-2:] if len(digits) > 2 else "00"
        return offset_zone(f"{sign}{int(hour_digits):02d}:{minute_digits}")
    return zone


def java_date(text: str, raw: Any) -> dt.datetime | None:
    """Java's Date.toString (``Mon May 08 14:30:00 CST 2023``), aware when it names a zone;
    None for text of another shape."""
    match = _JAVA_DATE.match(text)
    if match is None:
        return None
    parts = match.groupdict()
    month = _MONTHS.get(parts["mon"].lower())
    if month is None:
        raise ReasonError("bad_date", value=raw)
    try:
        value = dt.datetime(
            int(parts["y"]),
            month,
            int(parts["d"]),
            int(parts["H"]),
            int(parts["M"]),
            int(parts["S"]),
        )
    except ValueError:
        raise ReasonError("impossible_date", value=raw) from None
    if parts["zone"]:
        value = value.replace(tzinfo=zone_named(parts["zone"], parts["zoff"], raw))
    return value


def email_date(text: str, raw: Any) -> dt.datetime:
    """An e-mail style date (``Wed, 14 Sep 2022 16:33:00 GMT``), its zone read as Mulu reads
    zone names (CST is China's)."""
    zone = _EMAIL_ZONE.search(text)
    if zone and zone.group(1).upper() not in ("AM", "PM"):  # RFC 2822 would take CST as US
        name = zone.group(1)
        offset = zone_named(name, None, raw).utcoffset(None) or dt.timedelta()
        minutes = int(offset.total_seconds()) // 60
        sign = "+" if minutes >= 0 else "-"
        text = f"{text[: zone.start(1)]}{sign}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}"
    try:
        value = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        raise ReasonError("bad_date", value=raw) from None
    return value
