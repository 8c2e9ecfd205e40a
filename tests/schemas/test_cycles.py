"""更新周期: ISO repeating intervals, fractional periods cut down (never rounded up), and
Chinese reasons for values that cannot be read."""

from __future__ import annotations

import json

import pytest

from schemas.cycles import parse_update_cycle
from schemas.messages import ReasonError


@pytest.mark.parametrize(
    ("raw", "label", "every", "unit"),
    [
        ("R/P1D", "每日", 1, "day"),
        ("R/PT1S", "实时", 1, "hour"),
        ("R/PT30M", "实时", 1, "hour"),
        ("R/P1W", "每周", 1, "week"),
        ("R/P2W", "每2周", 2, "week"),
        ("R/P14D", "每2周", 2, "week"),
        ("R/P1M", "每月", 1, "month"),
        ("R/P3M", "每季度", 3, "month"),
        ("R/P6M", "每半年", 6, "month"),
        ("R/P1Y", "每年", 1, "year"),
        ("R/P10Y", "每10年", 10, "year"),
        ("R/PT1H", "每小时", 1, "hour"),
        ("R/PT36H", "每36小时", 36, "hour"),
        ("R/PT48H", "每2日", 2, "day"),
        ("r/p1d", "每日", 1, "day"),
        ("R5/P1W", "每周", 1, "week"),
        ("R/2020-01-01/P1M", "每月", 1, "month"),
        ("P1Y", "每年", 1, "year"),
        ("R/P1Y6M", "每18月", 18, "month"),
        ("按月", "每月", 1, "month"),
        ("每月更新", "每月", 1, "month"),
        ("年更新", "每年", 1, "year"),
    ],
)
def test_iso_and_chinese_spellings(raw, label, every, unit):
    cycle = parse_update_cycle(raw)
    assert (cycle.label, cycle.every, cycle.unit) == (label, every, unit)


@pytest.mark.parametrize(
    ("raw", "label"),
    [
        ("R/P3.5D", "每3日"),  # not 每4日: a deadline is never later than promised
        ("R/P3,5D", "每3日"),
        ("R/P0.5D", "每12小时"),
        ("R/P1.5W", "每10日"),  # 10.5 days
        ("R/P0.5M", "每15日"),
        ("R/P1.5M", "每45日"),
        ("R/P1.5Y", "每18月"),
        ("R/P0.25Y", "每季度"),
        ("R/P1DT12H", "每日"),
        ("R/PT1.5H", "每小时"),
        ("R/PT0.5H", "实时"),
    ],
)
def test_fractional_periods_are_cut_down_never_rounded_up(raw, label):
    assert parse_update_cycle(raw).label == label


def test_labels_of_fractional_cycles_read_back_as_themselves():
    for raw in ("R/P3.5D", "R/P0.5D", "R/P1.5Y", "R/PT36H"):
        cycle = parse_update_cycle(raw)
        assert parse_update_cycle(cycle.label) == cycle
        assert parse_update_cycle(cycle.iso) == cycle


@pytest.mark.parametrize(
    "bad", ["每 null null", "null", "看心情", "", "R/P", "R/PT", "R/P0D", "R/P1X", "3月", "每0日"]
)
def test_unreadable_cycles_raise_a_chinese_reason(bad):
    with pytest.raises(ReasonError) as info:
        parse_update_cycle(bad)
    assert info.value.reason.code == "unknown_cycle"
    assert info.value.reason.params == {"value": bad}
    assert str(info.value).startswith(f"无法识别的更新周期 '{bad}'")
    assert "unrecognised update cycle" in info.value.reason.text("en")


def test_every_accrual_periodicity_in_the_real_dcat_us_files_parses(real_data):
    seen = set()
    for path in sorted((real_data / "dcat-us").glob("*.json")):
        for dataset in json.loads(path.read_text(encoding="utf-8"))["dataset"]:
            for key in ("accrualPeriodicity", "modified"):
                value = dataset.get(key)
                if value and (key == "accrualPeriodicity" or str(value).startswith("R/")):
                    seen.add(value)
                    assert parse_update_cycle(value).label
    assert {"R/PT1S", "R/P1D", "R/P3M", "irregular"} <= seen


def test_repeating_intervals_are_told_from_dates():
    from schemas.cycles import is_repeating_interval

    for value in ("R/P1D", "R/PT1S", " r/p3.5d ", "R5/P1W"):
        assert is_repeating_interval(value)
    for value in ("2023", "2023-01-05", "P1D", "每日", "", None, 5):
        assert not is_repeating_interval(value)


@pytest.mark.parametrize(
    "endless", ["R/P99999999D", "R/P101Y", "R/P1213M", "R/PT876001H", "每101年", "每5300周"]
)
def test_a_period_beyond_a_hundred_years_is_no_cycle(endless):
    with pytest.raises(ReasonError) as info:
        parse_update_cycle(endless)
    assert info.value.reason.code == "unknown_cycle"


def test_the_longest_cycle_still_gives_a_deadline():
    import datetime as dt

    from catalog.freshness.sla import add_period

    for longest in ("R/P100Y", "每100年", "R/P36500D", "R/P1200M"):
        cycle = parse_update_cycle(longest)
        assert add_period(dt.datetime(9899, 12, 31, 12, 0), cycle).year <= 9999


@pytest.mark.parametrize(
    ("raw", "label", "every", "unit"),
    [
        ("每两周", "每2周", 2, "week"),
        ("每两个星期", "每2周", 2, "week"),
        ("每两年", "每2年", 2, "year"),
        ("每旬", "每10日", 10, "day"),  # a 旬 is ten days
        ("按旬", "每10日", 10, "day"),
        ("每两旬", "每20日", 20, "day"),
        ("每半月", "每15日", 15, "day"),
        ("每半个月", "每15日", 15, "day"),
        ("每十天", "每10日", 10, "day"),
        ("每十五天", "每15日", 15, "day"),
        ("每三个月", "每季度", 3, "month"),
        ("每3个月", "每季度", 3, "month"),
        ("每个月", "每月", 1, "month"),
        ("每二日", "每2日", 2, "day"),
        ("每十二个月", "每年", 1, "year"),
        ("每二十四小时", "每日", 1, "day"),
        ("每3个小时", "每3小时", 3, "hour"),
        ("每两周更新一次", "每2周", 2, "week"),
        ("每一百年", "每100年", 100, "year"),
    ],
)
def test_chinese_numerals_and_ge_between_count_and_unit(raw, label, every, unit):
    cycle = parse_update_cycle(raw)
    assert (cycle.label, cycle.every, cycle.unit) == (label, every, unit)
    assert parse_update_cycle(cycle.label) == cycle


@pytest.mark.parametrize(
    "bad", ["每一百零一年", "每五千年", "每零日", "每二二日", "每十十日", "每半周", "每两"]
)
def test_malformed_or_endless_chinese_counts_are_unknown(bad):
    with pytest.raises(ReasonError) as info:
        parse_update_cycle(bad)
    assert info.value.reason.code == "unknown_cycle"
