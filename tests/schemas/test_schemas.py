"""The entry model: codes, 更新周期, 共享类型 and their error messages."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from schemas.codes import is_valid_uscc, make_uscc, normalise_resource_code, parse_resource_code
from schemas.cycles import parse_update_cycle
from schemas.entry import CatalogueEntry, DataItem

BASE = {
    "code": "101001/000001",
    "name": "人口基本信息",
    "provider_name": "区公安分局",
    "share_type": "有条件共享",
}


@pytest.mark.parametrize(
    ("raw", "label", "every", "unit"),
    [
        ("实时", "实时", 1, "hour"),
        ("每日", "每日", 1, "day"),
        ("每天", "每日", 1, "day"),
        ("每周", "每周", 1, "week"),
        ("每月", "每月", 1, "month"),
        ("每季度", "每季度", 3, "month"),
        ("每半年", "每半年", 6, "month"),
        ("每年", "每年", 1, "year"),
        ("每2日", "每2日", 2, "day"),
        ("每3月", "每季度", 3, "month"),
        ("每 5 年", "每5年", 5, "year"),
        ("R/P1D", "每日", 1, "day"),
        ("R/P1W", "每周", 1, "week"),
        ("R/P3M", "每季度", 3, "month"),
        ("R/P6M", "每半年", 6, "month"),
        ("R/P1Y", "每年", 1, "year"),
        ("R/P2Y", "每2年", 2, "year"),
        ("R/PT1S", "实时", 1, "hour"),
        ("R/PT1H", "每小时", 1, "hour"),
        ("R/P0.5M", "每15日", 15, "day"),
        ("daily", "每日", 1, "day"),
        ("不定期", "不定期", None, None),
        ("irregular", "不定期", None, None),
        ("自定义", "自定义", None, None),
    ],
)
def test_update_cycles_normalise(raw, label, every, unit):
    cycle = parse_update_cycle(raw)
    assert (cycle.label, cycle.every, cycle.unit) == (label, every, unit)
    assert cycle.tracked == (unit is not None)


def test_cycle_iso_round_trips_for_standard_cycles():
    for label in ("每日", "每周", "每月", "每季度", "每半年", "每年", "实时", "不定期"):
        cycle = parse_update_cycle(label)
        assert parse_update_cycle(cycle.iso).label == label


@pytest.mark.parametrize("bad", ["偶尔", "每0日", "R/P", "sometimes", ""])
def test_unknown_update_cycle_is_rejected_with_the_accepted_values(bad):
    with pytest.raises(ValueError, match="无法识别的更新周期") as info:
        parse_update_cycle(bad)
    assert "每季度" in str(info.value)


def test_resource_code_parts_and_separator():
    code = parse_resource_code("2010010203-000123")
    assert (code.resource_class, code.item, code.catalogue, code.detail, code.sequence) == (
        "2",
        "01",
        "001",
        "0203",
        "000123",
    )
    assert normalise_resource_code(" 101001/000001 ") == "101001/000001"
    for bad in ("401001/000001", "10100/000001", "101001000001", "101001/12", "1０1001/000001"):
        with pytest.raises(ValueError, match="bad 信息资源代码"):
            parse_resource_code(bad)


def test_uscc_check_character():
    assert is_valid_uscc("91350100M000100Y43")
    assert not is_valid_uscc("91350100M000100Y44")
    assert not is_valid_uscc("91３50100M000100Y43")  # full-width digit: invalid, not an error
    built = make_uscc("11", "320399", "MB1234567"[:8])
    assert len(built) == 18
    assert is_valid_uscc(built)


def test_entry_validation_messages_name_each_problem():
    with pytest.raises(ValidationError) as info:
        CatalogueEntry.model_validate(
            {
                "code": "9/1",
                "name": " ",
                "provider_name": "",
                "share_type": "maybe",
                "update_cycle": "偶尔",
            }
        )
    text = str(info.value)
    for expected in (
        "信息资源代码 '9/1' 格式不正确",
        "缺少 信息资源名称",
        "缺少 信息资源提供方",
        "无法识别的共享类型 'maybe'",
        "无法识别的更新周期",
    ):
        assert expected in text


def test_entry_normalises_known_spellings_and_keeps_unknown_ones():
    entry = CatalogueEntry.model_validate(
        {
            **BASE,
            "share_type": "有条件",
            "open_type": "无条件开发",
            "update_cycle": "R/P3M",
            "formats": "XLS;csv;xls",
            "updated_at": "2024-02-22T12:25:27-05:00",
            "published_at": "2023-01-05T08:00:00",
            "data_items": [
                {"name": "姓名", "data_type": "C"},
                {"name": "照片", "data_type": "二进制"},
            ],
        }
    )
    assert entry.share_type == "有条件共享"
    assert entry.open_type == "无条件开放"
    assert entry.update_cycle == "每季度"
    assert entry.formats == ["xls", "csv"]
    assert entry.updated_at.isoformat() == "2024-02-23T01:25:27"  # Asia/Shanghai
    assert entry.published_at.isoformat() == "2023-01-05"
    assert [i.data_type for i in entry.data_items] == ["字符型", "二进制"]


def test_data_item_needs_a_name():
    with pytest.raises(ValidationError):
        DataItem.model_validate({"name": "", "data_type": "C"})


@pytest.mark.parametrize(
    ("cycle", "cron"),
    [
        ("实时", "0 * * * *"),
        ("每日", "0 2 * * *"),
        ("每周", "0 2 * * 1"),
        ("每月", "0 2 1 * *"),
        ("每季度", "0 2 1 1,4,7,10 *"),
        ("每半年", "0 2 1 1,7 *"),
        ("每年", "0 2 1 1 *"),
        ("每2日", "0 2 */2 * *"),
        ("每2月", "0 2 1 */2 *"),
        ("每小时", "0 */1 * * *"),
        ("不定期", None),
        ("自定义", None),
    ],
)
def test_cron_for_each_cycle(cycle, cron):
    from schemas.cycles import cron_for

    assert cron_for(parse_update_cycle(cycle)) == cron
