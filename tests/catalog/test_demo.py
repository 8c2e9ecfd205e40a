"""The demo district: shape, codes, determinism, update behaviour, idempotent loading."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict

import pytest

from catalog.demo import District, build_demo, generate_district
from catalog.directory import Directory
from schemas.codes import is_valid_uscc, parse_resource_code
from schemas.cycles import parse_update_cycle
from schemas.entry import CatalogueEntry
from warehouse.workspace import Workspace

SEED = 2024
TODAY = dt.date(2026, 11, 15)
# Generous period lengths, so "on time" never depends on how a month is counted.
PERIOD_DAYS = {"hour": 1 / 24, "day": 1, "week": 7, "month": 31, "year": 366}


@pytest.fixture(scope="module")
def district() -> District:
    return generate_district(SEED, today=TODAY)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A real workspace with the demo loaded twice, and both summaries."""
    workspace = Workspace(tmp_path_factory.mktemp("demo") / "ws")
    directory = Directory.open(workspace, user="tester")
    first = build_demo(directory, seed=SEED, today=TODAY)
    second = build_demo(directory, seed=SEED, today=TODAY)
    yield directory, first, second, workspace
    directory.close()


def period_days(label: str) -> float | None:
    cycle = parse_update_cycle(label)
    return None if cycle.unit is None else cycle.every * PERIOD_DAYS[cycle.unit]


def on_time_share(entries, as_of: dt.datetime, providers: set[str], *, inside: bool) -> float:
    """Share of tracked, updated entries whose 最近更新时间 is within one cycle of ``as_of``."""
    on_time = total = 0
    for entry in entries:
        period = period_days(entry["update_cycle"])
        if period is None or entry["updated_at"] is None:
            continue
        if (entry["provider_code"] in providers) != inside:
            continue
        age = as_of - dt.datetime.fromisoformat(entry["updated_at"])
        total += 1
        on_time += age.total_seconds() <= period * 86_400
    return on_time / total


def test_organisations_match_the_district_office(district: District):
    orgs = district.organisations
    assert len(orgs) == 343
    kinds = Counter(o.kind for o in orgs)
    assert kinds == {"区级部门": 40, "街道/乡镇": 15, "村居": 288}
    streets = {o.code for o in orgs if o.kind == "街道/乡镇"}
    assert all(o.parent_code in streets for o in orgs if o.kind == "村居")
    assert all(
        o.name.startswith("示范区") and o.contact_name and o.contact_phone and o.contact_email
        for o in orgs
    )
    assert len({o.name for o in orgs}) == 343


def test_organisation_codes_are_valid_uscc(district: District):
    codes = [o.code for o in district.organisations]
    assert all(len(code) == 18 and is_valid_uscc(code) for code in codes)
    assert len(set(codes)) == 343
    departments = [o.code for o in district.organisations if o.kind == "区级部门"]
    assert all(code.startswith("11320399") for code in departments)  # 机关, region 320399


def test_entry_counts_are_realistic(district: District):
    assert len(district.entries) == 35_700
    per_org = Counter(e["provider_code"] for e in district.entries)
    by_name = {o.code: o for o in district.organisations}
    assert set(per_org) == set(by_name)
    for short in ("人社局", "市场监管局", "公安分局", "卫健委"):
        code = next(o.code for o in district.organisations if o.name == "示范区" + short)
        assert 1_000 <= per_org[code] <= 2_500
    villages = [n for code, n in per_org.items() if by_name[code].kind == "村居"]
    assert min(villages) >= 20
    assert max(villages) <= 60


def test_codes_are_valid_unique_and_classified(district: District):
    codes = [e["code"] for e in district.entries]
    assert len(set(codes)) == len(codes)
    kinds = {o.code: o.kind for o in district.organisations}
    item_of_kind = {"区级部门": "01", "街道/乡镇": "02", "村居": "03"}
    classes = Counter()
    for entry in district.entries:
        parsed = parse_resource_code(entry["code"])
        assert str(parsed) == entry["code"]
        assert len(parsed.sequence) == 6
        classes[parsed.resource_class] += 1
        if parsed.resource_class == "3":
            assert parsed.item == item_of_kind[kinds[entry["provider_code"]]]
        else:
            assert parsed.catalogue == "001"
    assert 0.10 <= (classes["1"] + classes["2"]) / len(codes) <= 0.20
    assert classes["1"] > 0
    assert classes["2"] > 0


@pytest.mark.slow
def test_entries_are_valid_catalogue_entries(district: District):
    for entry in district.entries:
        model = CatalogueEntry.model_validate(entry)
        assert 3 <= len(model.data_items) <= 12
        assert dt.date(2019, 1, 1) <= model.published_at <= TODAY
        if model.share_type == "不予共享":
            assert model.share_condition is None
            assert model.share_method is None
        if model.share_type == "有条件共享":
            assert model.share_condition
    item_names = Counter(i["name"] for e in district.entries for i in e["data_items"])
    for name in ("姓名", "身份证号", "统一社会信用代码", "联系电话"):
        assert item_names[name] > 1_000


def test_names_are_varied_within_each_organisation(district: District):
    names = defaultdict(list)
    for entry in district.entries:
        names[entry["provider_code"]].append(entry["name"])
    for listed in names.values():
        assert len(set(listed)) >= 0.95 * len(listed)
    village = next(o for o in district.organisations if o.kind == "村居")
    place = village.name.removeprefix("示范区").split("街道")[-1].split("镇")[-1].split("乡")[-1]
    place = place.removesuffix("居委会").removesuffix("村委会")
    assert all(name.startswith(place) for name in names[village.code])


def test_attribute_mixes(district: District):
    total = len(district.entries)
    shares = Counter(e["share_type"] for e in district.entries)
    assert abs(shares["有条件共享"] / total - 0.55) < 0.03
    assert abs(shares["无条件共享"] / total - 0.35) < 0.03
    assert abs(shares["不予共享"] / total - 0.10) < 0.02
    cycles = Counter(e["update_cycle"] for e in district.entries)
    assert abs(cycles["每月"] / total - 0.30) < 0.02
    assert abs(cycles["每年"] / total - 0.22) < 0.02
    assert {"实时", "每日", "每周", "每季度", "每半年", "不定期", "每2日", "每2月"} <= set(cycles)
    assert set(Counter(e["open_type"] for e in district.entries)) == {
        "无条件开放",
        "有条件开放",
        "不予开放",
    }
    assert {e["format_category"] for e in district.entries} == {"电子文件", "数据库", "接口"}


def test_update_history_is_consistent(district: District):
    events = defaultdict(list)
    for event in district.updates:
        assert event["source"] == "demo"
        events[event["code"]].append(event["updated_at"])
    assert len(district.updates) < 450_000
    never = [e for e in district.entries if e["updated_at"] is None]
    assert 0.02 <= len(never) / len(district.entries) <= 0.04
    assert not any(e["code"] in events for e in never)
    as_of = district.as_of.isoformat()
    for entry in district.entries:
        if entry["updated_at"] is None:
            continue
        times = events[entry["code"]]
        assert 1 <= len(times) <= 12
        assert len(set(times)) == len(times)
        assert max(times) == entry["updated_at"] < as_of
        assert min(times) >= entry["published_at"]


@pytest.mark.slow
def test_generation_is_deterministic(district: District):
    assert generate_district(SEED, today=TODAY) == district
    other = generate_district(SEED + 1, today=TODAY)
    assert other.entries != district.entries
    assert len(other.entries) == 35_700


@pytest.mark.slow
def test_late_organisations_update_late(district: District):
    late = set(district.late_organisations)
    names = {o.code: o.name for o in district.organisations}
    late_names = {names[code] for code in late}
    assert {"示范区住建局", "示范区城市管理局", "示范区水务局"} <= late_names
    assert sum(1 for o in district.organisations if o.code in late and o.kind == "街道/乡镇") >= 2
    late_share = on_time_share(district.entries, district.as_of, late, inside=True)
    other_share = on_time_share(district.entries, district.as_of, late, inside=False)
    assert other_share > 0.9
    assert late_share < 0.5
    # The histories agree: late bodies skip cycles between updates, the others rarely do.
    periods = {e["code"]: period_days(e["update_cycle"]) for e in district.entries}
    providers = {e["code"]: e["provider_code"] for e in district.entries}
    times = defaultdict(list)
    for event in district.updates:
        times[event["code"]].append(dt.datetime.fromisoformat(event["updated_at"]))
    skipped, gaps = Counter(), Counter()
    for code, stamps in times.items():
        if periods[code] is None:
            continue
        group = providers[code] in late
        for before, after in zip(stamps, stamps[1:], strict=False):
            gaps[group] += 1
            skipped[group] += (after - before).total_seconds() > 1.5 * periods[code] * 86_400
    assert skipped[True] / gaps[True] > 0.3 > 0.05 > skipped[False] / gaps[False]


@pytest.mark.slow
def test_build_demo_is_idempotent(built, district: District):
    directory, first, second, _ = built
    assert (
        first
        == second
        == {"organisations": 343, "entries": 35_700, "updates": len(district.updates)}
    )
    con = directory.store.database.connection()
    assert con.execute("SELECT count(*) FROM entry_history").fetchone()[0] == 35_700  # creates
    assert con.execute("SELECT count(*) FROM organisations").fetchone()[0] == 343
    stored = directory.store.entries.get(district.entries[0]["code"])
    assert stored["name"] == district.entries[0]["name"]
    assert stored["source"] == "demo"


@pytest.mark.slow
def test_stored_stats_and_overdue_ranking(built, district: District):
    directory = built[0]
    stats = directory.stats()
    assert stats["entries"] == 35_700
    assert stats["organisations"] == 343
    assert set(stats["by_share_type"]) == {"有条件共享", "无条件共享", "不予共享"}
    assert set(stats["by_resource_class"]) == {"1", "2", "3"}
    # Ranking bodies by their share of overdue entries puts the late ones on top.
    late = set(district.late_organisations)
    overdue, tracked = Counter(), Counter()
    for entry in directory.iter_entries():
        period = period_days(entry["update_cycle"])
        if period is None:
            continue
        tracked[entry["provider_code"]] += 1
        age = (
            district.as_of - dt.datetime.fromisoformat(entry["updated_at"])
            if entry["updated_at"]
            else dt.timedelta(days=10_000)
        )
        overdue[entry["provider_code"]] += age.total_seconds() > period * 86_400
    ranking = sorted(tracked, key=lambda code: overdue[code] / tracked[code], reverse=True)
    top = set(ranking[: len(late)])
    assert len(top & late) >= 0.9 * len(late)


@pytest.mark.slow
def test_freshness_of_every_entry_and_the_late_bodies_top_the_scorecard(built, district):
    from catalog.freshness.scorecard import scorecard
    from catalog.freshness.sweep import statuses

    store = built[0].store
    every = statuses(store, at=district.as_of)
    assert len(every) == 35_700
    assert all(e["status"] for e in every)
    late = set(district.late_organisations)
    rows = scorecard(store, district.as_of.strftime("%Y-%m"), at=district.as_of)
    departments = [r["provider_code"] for r in rows[:3]]
    assert set(departments) <= late
    assert {r["provider_name"].removeprefix("示范区") for r in rows[:3]} == {
        "住建局",
        "城市管理局",
        "水务局",
    }
    judged = [r for r in rows if r["due"] >= 10]
    lowest = sorted(judged, key=lambda r: r["on_time_rate"])[
        : sum(r["provider_code"] in late for r in judged)
    ]
    assert sum(r["provider_code"] in late for r in lowest) >= 0.9 * len(lowest)
