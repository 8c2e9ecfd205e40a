"""Dates: one parser for every source spelling, precision kept, written back faithfully."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from schemas.dates import (
    PRECISIONS,
    ParsedTime,
    format_time,
    parse_optional_time,
    parse_precision,
    parse_time,
    period_start,
    xsd_literal,
)
from schemas.entry import ENTRY_LABELS, CatalogueEntry
from schemas.messages import ReasonError, reason_of

D = dt.datetime
BASE = {"code": "101001/000001", "name": "人口", "provider_name": "公安局", "share_type": "有条件"}


@pytest.mark.parametrize(
    ("text", "value", "precision"),
    [
        # years and months
        ("2023", D(2023, 1, 1), "year"),
        ("2023年", D(2023, 1, 1), "year"),
        (" 2023 ", D(2023, 1, 1), "year"),
        ("2023-05", D(2023, 5, 1), "month"),
        ("2023/5", D(2023, 5, 1), "month"),
        ("2023.05", D(2023, 5, 1), "month"),
        ("2023年5月", D(2023, 5, 1), "month"),
        # dates
        ("2023-05-08", D(2023, 5, 8), "day"),
        ("2023/5/8", D(2023, 5, 8), "day"),
        ("2023.5.8", D(2023, 5, 8), "day"),
        ("20230508", D(2023, 5, 8), "day"),
        ("2023年5月8日", D(2023, 5, 8), "day"),
        ("2023年5月8号", D(2023, 5, 8), "day"),
        ("２０２３年５月８日", D(2023, 5, 8), "day"),  # full-width digits
        # date and time
        ("2023-05-08 14:30", D(2023, 5, 8, 14, 30), "minute"),
        ("2023-05-08T14:30", D(2023, 5, 8, 14, 30), "minute"),
        ("2023-05-08T14:30:05", D(2023, 5, 8, 14, 30, 5), "second"),
        ("2023-05-08 14:30:05.987654", D(2023, 5, 8, 14, 30, 5), "second"),
        ("2023/5/8 9:05", D(2023, 5, 8, 9, 5), "minute"),
        ("20230508T143005", D(2023, 5, 8, 14, 30, 5), "second"),
        ("2023年5月8日 14时30分", D(2023, 5, 8, 14, 30), "minute"),
        ("2023年5月8日14点30分5秒", D(2023, 5, 8, 14, 30, 5), "second"),
        ("2023年5月8日 14:30", D(2023, 5, 8, 14, 30), "minute"),
        ("2023年5月8日 14时", D(2023, 5, 8, 14, 0), "minute"),  # an hour: minute precision
        ("2023-05-08 14：30", D(2023, 5, 8, 14, 30), "minute"),  # full-width colon
        ("2023年5月8日 下午2:30", D(2023, 5, 8, 14, 30), "minute"),
        ("2023年5月8日下午2点30分", D(2023, 5, 8, 14, 30), "minute"),
        ("2023年5月8日 上午12:05", D(2023, 5, 8, 0, 5), "minute"),
        ("2023/5/8 2:30:05 PM", D(2023, 5, 8, 14, 30, 5), "second"),
        ("2023/5/8 12:00 PM", D(2023, 5, 8, 12, 0), "minute"),
        # offsets, converted to Asia/Shanghai
        ("2022-09-14T16:33Z", D(2022, 9, 15, 0, 33), "minute"),  # across midnight
        ("2022-09-14T16:33:00.000Z", D(2022, 9, 15, 0, 33), "second"),
        ("2023-05-08T14:30:05+08:00", D(2023, 5, 8, 14, 30, 5), "second"),
        ("2023-05-08T14:30:05+0800", D(2023, 5, 8, 14, 30, 5), "second"),
        ("2024-02-22T12:25:27-05:00", D(2024, 2, 23, 1, 25, 27), "second"),
        ("2023-05-08 06:30 UTC", D(2023, 5, 8, 14, 30), "minute"),
        ("2023-12-31T23:59:59-12:00", D(2024, 1, 1, 19, 59, 59), "second"),  # across a year
        ("2023-05-08+08:00", D(2023, 5, 8), "day"),  # a date alone is not moved
        ("Wed, 14 Sep 2022 16:33:00 GMT", D(2022, 9, 15, 0, 33), "second"),
        # Excel serial numbers: days since 1899-12-30, the fraction the time of day
        ("45000", D(2023, 3, 15), "day"),
        ("45000.5", D(2023, 3, 15, 12), "second"),
        ("45000.604166667", D(2023, 3, 15, 14, 30), "second"),
    ],
)
def test_every_source_spelling(text, value, precision):
    assert parse_time(text) == ParsedTime(value, precision)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (dt.date(2023, 5, 8), ParsedTime(D(2023, 5, 8), "day")),
        (D(2023, 5, 8, 14, 30), ParsedTime(D(2023, 5, 8, 14, 30), "second")),
        (D(2022, 9, 14, 16, 33, tzinfo=dt.UTC), ParsedTime(D(2022, 9, 15, 0, 33), "second")),
        (D(2023, 5, 8, 14, 30, 5, 500_000), ParsedTime(D(2023, 5, 8, 14, 30, 5), "second")),
        (2023, ParsedTime(D(2023, 1, 1), "year")),  # a JSON number
        (20230508, ParsedTime(D(2023, 5, 8), "day")),
        (45000, ParsedTime(D(2023, 3, 15), "day")),
        (45000.5, ParsedTime(D(2023, 3, 15, 12), "second")),
        (2023.0, ParsedTime(D(2023, 1, 1), "year")),
        (Decimal("45000.5"), ParsedTime(D(2023, 3, 15, 12), "second")),  # ijson's numbers
        (Decimal("2023"), ParsedTime(D(2023, 1, 1), "year")),
    ],
)
def test_python_values_and_numbers(value, expected):
    assert parse_time(value) == expected


def test_a_year_is_never_a_unix_time():
    """pydantic reads "2023" as 2023 seconds after 1970 (1970-01-01T08:33:43 in Shanghai)."""
    assert parse_time("2023").value.year == 2023
    entry = CatalogueEntry.model_validate({**BASE, "updated_at": "2023", "published_at": 2023})
    assert entry.updated_at == D(2023, 1, 1)
    assert entry.published_at == dt.date(2023, 1, 1)
    assert (entry.updated_precision, entry.published_precision) == ("year", "year")


@pytest.mark.parametrize(
    "text",
    ["abc", "1700000000", "17000000000", "123", "99", "0", "14:30", "2023 14:30", "2023-5-"],
)
def test_unreadable_values_are_bad_dates(text):
    with pytest.raises(ReasonError) as info:
        parse_time(text)
    assert info.value.reason.code == "bad_date"
    assert info.value.reason.params["value"] == text


@pytest.mark.parametrize(
    "text",
    [
        "2023-02-29",
        "2023-02-30",
        "2023-13",
        "2023年13月",
        "2023-05-08 25:00",
        "2023-04-31",
        "2023-05-08 下午14:00",
        "2023-00-00",  # a zero month or day is no date, not January or the 1st
        "20230000",
        "2023-05-00",
    ],
)
def test_impossible_dates(text):
    with pytest.raises(ReasonError) as info:
        parse_time(text)
    assert info.value.reason.code == "impossible_date"
    assert info.value.reason.text("zh") == f"不存在的日期 '{text}'"


def test_excel_serials_only_in_a_plausible_range():
    assert parse_time("10000").value == D(1927, 5, 18)
    assert parse_time("99999").value == D(2173, 10, 13)
    for number in (9999.5, 100_000, 100_000.5, 1_700_000_000):  # an epoch is not a serial
        with pytest.raises(ReasonError, match="无法识别的日期"):
            parse_time(number)


def test_java_date_to_string_reads_cst_as_china_standard_time():
    # Java's Date.toString on a server in Asia/Shanghai: CST is +08:00, not US Central
    assert parse_time("Mon May 08 14:30:00 CST 2023") == ParsedTime(D(2023, 5, 8, 14, 30), "second")
    assert parse_time("Mon May 08 14:30:00 GMT+08:00 2023").value == D(2023, 5, 8, 14, 30)
    assert parse_time("Mon May 08 06:30:00 UTC 2023").value == D(2023, 5, 8, 14, 30)
    assert parse_time("Mon May 08 02:30:00 EDT 2023").value == D(2023, 5, 8, 14, 30)
    assert parse_time("Mon May 08 14:30:00 2023").value == D(2023, 5, 8, 14, 30)
    # the same rule in an e-mail style date
    assert parse_time("Mon, 08 May 2023 14:30:00 CST").value == D(2023, 5, 8, 14, 30)
    assert parse_time("Mon, 08 May 2023 06:30:00 GMT").value == D(2023, 5, 8, 14, 30)
    for text in ("Mon May 08 14:30:00 XYZ 2023", "Mon, 08 May 2023 14:30:00 XYZ"):
        with pytest.raises(ReasonError, match="无法识别的日期"):
            parse_time(text)  # an unknown zone is refused, not guessed
    with pytest.raises(ReasonError, match="不存在的日期"):
        parse_time("Thu Feb 30 14:30:00 CST 2023")


def test_epoch_milliseconds_in_a_plausible_range():
    moment = ParsedTime(D(2023, 5, 8, 14, 30), "second")
    assert parse_time(1683527400000) == moment
    assert parse_time("1683527400000") == moment
    assert parse_time(Decimal("1683527400123")) == moment  # milliseconds dropped
    assert parse_time(1683527400000.0) == moment
    assert parse_time("4102444799999").value == D(2100, 1, 1, 7, 59, 59)
    # 2100 and later, 12 or 14 digits, and epoch seconds are refused
    for value in ("4102444800000", "9999999999999", 1683527400, "1683527400", 168352740000):
        with pytest.raises(ReasonError, match="无法识别的日期"):
            parse_time(value)


def test_java_zoned_date_time_uses_the_offset_and_drops_the_zone_id():
    assert parse_time("2023-05-08T14:30:00+08:00[Asia/Shanghai]") == ParsedTime(
        D(2023, 5, 8, 14, 30), "second"
    )
    assert parse_time("2023-05-08T14:30:05.123+08:00[Asia/Shanghai]").value == D(
        2023, 5, 8, 14, 30, 5
    )
    assert parse_time("2023-05-08T06:30Z[UTC]") == ParsedTime(D(2023, 5, 8, 14, 30), "minute")
    assert parse_time("2023-05-08T08:30+02:00[Europe/Paris]").value == D(2023, 5, 8, 14, 30)
    for text in ("2023-05-08T14:30[Asia/Shanghai]", "2023-05-08[Asia/Shanghai]"):
        with pytest.raises(ReasonError, match="无法识别的日期"):
            parse_time(text)  # without an offset the bracket is not read


def test_bad_values_of_other_types():
    for value in (None, True, [2023], {"y": 2023}, ""):
        with pytest.raises(ReasonError):
            parse_time(value)
    assert parse_optional_time(None) is None
    assert parse_optional_time("  ") is None


@pytest.mark.parametrize(
    ("precision", "text"),
    [
        ("year", "2023"),
        ("month", "2023-05"),
        ("day", "2023-05-08"),
        ("minute", "2023-05-08T14:30"),
        ("second", "2023-05-08T14:30:05"),
    ],
)
def test_format_time_is_the_shortest_faithful_text(precision, text):
    value = D(2023, 5, 8, 14, 30, 5)
    assert format_time(value, precision) == text
    assert parse_time(text) == ParsedTime(period_start(value, precision), precision)


def test_format_time_defaults():
    assert format_time(D(2023, 5, 8, 0, 0)) == "2023-05-08T00:00:00"
    assert format_time(dt.date(2023, 5, 8)) == "2023-05-08"
    assert format_time(D(800, 1, 1), "year") == "0800"


def random_moments(count: int = 3000) -> list[tuple[dt.datetime, str]]:
    """Moments from year 1000 to 9998 (dense around China's summer times of 1986-1991 and the
    LMT years before 1901), each with a precision: a seeded sample, the same on every run."""
    rng = random.Random(12)
    spans = [(D(1000, 1, 1), D(9998, 12, 31)), (D(1850, 1, 1), D(1905, 1, 1))]
    spans.append((D(1986, 1, 1), D(1992, 1, 1)))
    found = []
    for index in range(count):
        low, high = spans[index % len(spans)]
        seconds = rng.randrange(int((high - low).total_seconds()))
        found.append((low + dt.timedelta(seconds=seconds), rng.choice(PRECISIONS)))
    return found


def test_parse_of_format_gives_back_value_and_precision():
    for moment, precision in random_moments():
        stated = ParsedTime(period_start(moment, precision), precision)
        assert parse_time(format_time(stated.value, precision)) == stated


XSD_TYPES = {
    "year": "xsd:gYear",
    "month": "xsd:gYearMonth",
    "day": "xsd:date",
    "minute": "xsd:dateTime",
    "second": "xsd:dateTime",
}


def test_xsd_literal_reads_back_as_the_same_moment():
    for moment, precision in random_moments():
        start = period_start(moment, precision)
        text, datatype = xsd_literal(start, precision)
        assert datatype == XSD_TYPES[precision]
        if datatype == "xsd:dateTime":
            # +09:00 only in China's summer times (1986-1991); never local mean time
            offset = text[-6:]
            assert offset == "+08:00" or (offset == "+09:00" and 1986 <= start.year <= 1991)
            assert parse_time(text).value == start
        else:
            assert parse_time(text) == ParsedTime(start, precision)


def test_xsd_literals_never_use_local_mean_time():
    # zoneinfo gives Asia/Shanghai +08:05:43 before 1901, which is no xsd offset.
    assert D(1850, 1, 1, tzinfo=ZoneInfo("Asia/Shanghai")).isoformat().endswith("+08:05:43")
    assert xsd_literal(D(1850, 1, 1, 10), "second") == ("1850-01-01T10:00:00+08:00", "xsd:dateTime")
    assert xsd_literal(D(1, 1, 1), "minute") == ("0001-01-01T00:00:00+08:00", "xsd:dateTime")
    assert xsd_literal(D(2023, 5, 8, 14, 30), "minute")[0] == "2023-05-08T14:30:00+08:00"
    assert xsd_literal(D(1988, 6, 1, 12), "second")[0] == "1988-06-01T12:00:00+09:00"
    assert xsd_literal(D(2023, 5, 8), "year") == ("2023", "xsd:gYear")
    assert xsd_literal(D(2023, 5, 8), "month") == ("2023-05", "xsd:gYearMonth")
    assert xsd_literal(dt.date(2023, 5, 8)) == ("2023-05-08", "xsd:date")
    # a UTC time before 1901 converts with +08:00 as well, not LMT
    assert parse_time("1850-01-01T00:00Z").value == D(1850, 1, 1, 8, 0)


def test_precision_spellings():
    assert parse_precision("Minute") == "minute"
    assert parse_precision("年") == "year"
    assert parse_precision(" ") is None
    with pytest.raises(ReasonError) as info:
        parse_precision("hour", "最近更新时间精度")
    assert info.value.reason.code == "bad_precision"
    assert "最近更新时间精度" in info.value.reason.text("zh")


# --- the entry model ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("given", "updated_at", "updated_precision", "published_at", "published_precision"),
    [
        ("2023", D(2023, 1, 1), "year", dt.date(2023, 1, 1), "year"),
        ("2023-05", D(2023, 5, 1), "month", dt.date(2023, 5, 1), "month"),
        ("2023-05-08", D(2023, 5, 8), "day", dt.date(2023, 5, 8), None),
        ("2023-05-08T14:30", D(2023, 5, 8, 14, 30), "minute", dt.date(2023, 5, 8), None),
        ("2023-05-08T14:30:05", D(2023, 5, 8, 14, 30, 5), None, dt.date(2023, 5, 8), None),
        ("2022-09-14T16:33Z", D(2022, 9, 15, 0, 33), "minute", dt.date(2022, 9, 15), None),
        (D(2023, 5, 8, 0, 0), D(2023, 5, 8), None, dt.date(2023, 5, 8), None),
        (dt.date(2023, 5, 8), D(2023, 5, 8), "day", dt.date(2023, 5, 8), None),
        ("", None, None, None, None),
    ],
)
def test_entry_keeps_the_stated_precision(
    given, updated_at, updated_precision, published_at, published_precision
):
    entry = CatalogueEntry.model_validate({**BASE, "updated_at": given, "published_at": given})
    assert (entry.updated_at, entry.updated_precision) == (updated_at, updated_precision)
    assert (entry.published_at, entry.published_precision) == (published_at, published_precision)
    # the precision is set along with the date, so an update also clears an old one
    assert {"updated_precision", "published_precision"} <= entry.model_fields_set


def test_a_stated_precision_wins_over_the_look_of_the_value():
    """Mulu's own exports carry the precision: an Excel cell at midnight reads as a bare date,
    a minute cell as a full datetime."""
    entry = CatalogueEntry.model_validate(
        {**BASE, "updated_at": "2023-05-08", "updated_precision": "second"}
    )
    assert (entry.updated_at, entry.updated_precision) == (D(2023, 5, 8), None)
    entry = CatalogueEntry.model_validate(
        {**BASE, "updated_at": D(2023, 5, 8, 14, 30), "updated_precision": "minute"}
    )
    assert (entry.updated_at, entry.updated_precision) == (D(2023, 5, 8, 14, 30), "minute")
    entry = CatalogueEntry.model_validate(  # coarser: the value is the start of the period
        {**BASE, "updated_at": "2023-05-08T14:30", "updated_precision": "month"}
    )
    assert (entry.updated_at, entry.updated_precision) == (D(2023, 5, 1), "month")
    entry = CatalogueEntry.model_validate(  # no date: no precision
        {**BASE, "updated_at": None, "updated_precision": "year", "published_precision": "day"}
    )
    assert (entry.updated_precision, entry.published_precision) == (None, None)


def test_full_precision_entries_dump_as_before():
    entry = CatalogueEntry.model_validate(
        {**BASE, "updated_at": "2024-01-15T09:30:00", "published_at": "2023-05-08"}
    )
    dumped = entry.model_dump(mode="json")
    assert dumped["updated_at"] == "2024-01-15T09:30:00"
    assert dumped["published_at"] == "2023-05-08"
    assert (dumped["updated_precision"], dumped["published_precision"]) == (None, None)
    assert CatalogueEntry.model_validate(dumped) == entry


@pytest.mark.parametrize(
    ("fields", "field", "zh", "en"),
    [
        (
            {"updated_at": "2023-02-30"},
            "updated_at",
            "不存在的日期 '2023-02-30'",
            "impossible date",
        ),
        ({"published_at": "明年"}, "published_at", "无法识别的日期 '明年'", "unrecognised date"),
        (
            {"updated_precision": "hour", "updated_at": "2023"},
            "updated_precision",
            "最近更新时间精度",
            "expected year",
        ),
        ({"name": " "}, "name", "缺少 信息资源名称", "missing 信息资源名称"),
        ({"provider_name": None}, "provider_name", "缺少 信息资源提供方", "missing"),
        ({"share_type": ""}, "share_type", "缺少 共享类型", "missing 共享类型"),
        ({"share_type": "看情况"}, "share_type", "无法识别的共享类型 '看情况'", "unknown 共享类型"),
        ({"code": "9/1"}, "code", "信息资源代码 '9/1' 格式不正确", "malformed 信息资源代码"),
        ({"code": " "}, "code", "缺少 信息资源代码", "missing 信息资源代码"),
        ({"related_codes": ["x"]}, "related_codes", "信息资源代码 'x' 格式不正确", "malformed"),
    ],
)
def test_entry_reasons_are_chinese_with_english(fields, field, zh, en):
    with pytest.raises(ValidationError) as info:
        CatalogueEntry.model_validate({**BASE, **fields})
    errors = info.value.errors()
    assert [e["loc"][0] for e in errors] == [field]
    reason = reason_of(errors[0], ENTRY_LABELS)
    assert zh in reason.text("zh")
    assert en in reason.text("en")


def test_missing_required_fields_name_their_chinese_label():
    with pytest.raises(ValidationError) as info:
        CatalogueEntry.model_validate({"code": "101001/000001"})
    texts = {reason_of(e, ENTRY_LABELS).text("zh") for e in info.value.errors()}
    assert texts == {"缺少 信息资源名称", "缺少 信息资源提供方", "缺少 共享类型"}


def test_year_9999_sentinels_parse_and_overflowing_ones_are_a_reason():
    """更新时间: 9999-12-31 is a common "never" sentinel: it is a date, not a crash."""
    assert parse_time("9999-12-31").value == dt.datetime(9999, 12, 31)
    assert parse_time("9999").precision == "year"
    for past_the_end in ("9999-12-31T23:59:59Z", "9999-12-31T20:00:00-05:00"):
        with pytest.raises(ReasonError):  # 10000-01-01 in Shanghai: no such date
            parse_time(past_the_end)
