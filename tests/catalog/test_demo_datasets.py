"""Demo department datasets: specs, real files read back, planted defects, determinism."""

from __future__ import annotations

import datetime as dt
import glob
import json
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest
from python_calamine import CalamineWorkbook

from catalog.demo import District, generate_district
from catalog.demo.datasets import DemoDataset, write_demo_datasets, write_next_version
from schemas.codes import is_valid_uscc
from schemas.dataset_spec import Column, DatasetSpec, load_spec
from schemas.identity import is_valid_id_card, is_valid_mobile
from warehouse.transcode import transcode_to_utf8

SEED = 2024
TODAY = dt.date(2026, 11, 15)
SCALE = 0.01

# name: (provider after 示范区, a word the catalogue entry's name holds, rows at SCALE)
EXPECTED = {
    "social_security_card_applications": ("人社局", "社保卡申领", 10_000),
    "dibao_recipients": ("民政局", "城乡低保对象", 80),
    "medical_institutions": ("卫健委", "医疗机构", 142),
    "enterprise_registrations": ("市场监管局", "企业", 500),
    "penalty_decisions": ("市场监管局", "行政处罚决定书", 97),
    "service_evaluations": ("信息管理局", "政务服务好差评", 700),
    "farm_sensor_readings": ("农业农村局", "农业物联网监测点位", 25 * 24),
    "mobile_hall_items": ("信息管理局", "掌上大厅事项", 153),
    "contactless_enforcement_cases": ("城市管理局", "数字城管案件", 1259),
    "credit_repair_records": ("发改委", "失信联合惩戒对象", 360),
    "service_station_errands": ("东城街道", "便民服务中心办件", 600),
    "medical_insurance_settlements": ("医疗保障局", "医保结算", 3 * 400 + 30),
}
CLEAN = {"penalty_decisions", "mobile_hall_items", "credit_repair_records"}
VALID = {"身份证号": is_valid_id_card, "手机号": is_valid_mobile, "统一社会信用代码": is_valid_uscc}


@pytest.fixture(scope="module")
def district() -> District:
    return generate_district(SEED, today=TODAY)


@pytest.fixture(scope="module")
def demo(district, tmp_path_factory) -> tuple[Path, dict[str, DemoDataset]]:
    root = tmp_path_factory.mktemp("demo")
    written = write_demo_datasets(root, district, seed=SEED, scale=SCALE)
    return root, {ds.name: ds for ds in written}


# --- reading the files back, as the spec says ----------------------------------------------
def source_files(spec: DatasetSpec, spec_path: Path) -> list[str]:
    """The files the spec's url matches: relative to the workspace the spec is in
    (``<workspace>/datasets/<org>/<name>.yaml``), as loads resolve it."""
    return sorted(glob.glob(str(spec_path.parents[2] / spec.source.url)))


def read_rows(spec: DatasetSpec, work: Path, spec_path: Path) -> list[dict[str, Any]]:
    """Every row of every file the spec's url matches, keyed by source column name."""
    source, rows = spec.source, []
    for path in source_files(spec, spec_path):
        if source.format == "csv":  # transcoded exactly as the pipeline will, then DuckDB
            utf8 = work / f"{Path(path).stem}.utf8.csv"
            transcode_to_utf8(Path(path), utf8, source.encoding)
            result = duckdb.sql(
                "SELECT * FROM read_csv(?, header = true, all_varchar = true, delim = ',', "
                f"quote = '\"', skip = {source.header_row - 1})",
                params=[str(utf8)],
            )
            rows += [dict(zip(result.columns, row, strict=True)) for row in result.fetchall()]
        elif source.format == "xlsx":
            book = CalamineWorkbook.from_path(path)
            cells = book.get_sheet_by_name(source.sheet).to_python()[source.header_row - 1 :]
            rows += [
                dict(zip(cells[0], (None if c == "" else c for c in row), strict=True))
                for row in cells[1:]
            ]
        elif source.format == "json":
            rows += json.loads(Path(path).read_text(encoding="utf-8"))
        elif source.format == "ndjson":
            rows += [json.loads(line) for line in Path(path).read_text("utf-8").splitlines()]
        else:
            rows += pq.read_table(path).to_pylist()
    return rows


def typed(column: Column, value: Any) -> Any:
    """A source value as the column's type; raises when it does not parse."""
    kind = column.type.split("(")[0]
    if kind in ("integer", "bigint"):
        assert float(value) == int(float(value))
        return int(float(value))
    if kind == "double":
        return float(value)
    if kind == "decimal":
        return Decimal(str(value))
    if kind == "date" and not isinstance(value, dt.date):
        return dt.datetime.strptime(value, column.format or "%Y-%m-%d").date()
    if kind == "timestamp" and not isinstance(value, dt.datetime):
        return dt.datetime.strptime(value, column.format or "%Y-%m-%d %H:%M:%S")
    return value


def violations(spec: DatasetSpec, rows: list[dict[str, Any]]) -> dict[str, int]:
    """Rows breaking each rule of the spec, as a suite generated from it would count them."""
    found: Counter[str] = Counter()
    for column in spec.columns:
        values = [row[column.source] for row in rows]
        present = [typed(column, v) for v in values if v not in (None, "")]
        found[f"{column.name}:nullable"] += 0 if column.nullable else len(values) - len(present)
        if column.unique or spec.primary_key == [column.name]:
            found[f"{column.name}:unique"] += len(present) - len(set(present))
        if column.allowed_values is not None:
            found[f"{column.name}:allowed_values"] += sum(
                v not in column.allowed_values for v in present
            )
        if column.format in VALID:
            found[f"{column.name}:format"] += sum(not VALID[column.format](v) for v in present)
        if column.min is not None:
            found[f"{column.name}:min"] += sum(v < column.min for v in present)
        if column.max is not None:
            found[f"{column.name}:max"] += sum(v > column.max for v in present)
    if len(spec.primary_key) > 1:
        keys = [tuple(row[spec.column(k).source] for k in spec.primary_key) for row in rows]
        found["primary_key:unique"] = len(keys) - len(set(keys))
    return {key: count for key, count in found.items() if count}


def rows_of(ds: DemoDataset, work: Path) -> list[dict[str, Any]]:
    return read_rows(load_spec(ds.spec_path), work, ds.spec_path)


def load(ds: DemoDataset, tmp_path: Path) -> tuple[DatasetSpec, list[dict[str, Any]]]:
    spec = load_spec(ds.spec_path)
    return spec, read_rows(spec, tmp_path, ds.spec_path)


# --- tests ------------------------------------------------------------------------------
def test_twelve_datasets_with_valid_specs(demo):
    root, datasets = demo
    assert list(datasets) == list(EXPECTED)
    for name, ds in datasets.items():
        spec = load_spec(ds.spec_path)
        assert (spec.name, spec.title, spec.entry_code) == (name, ds.title, ds.entry_code)
        assert ds.spec_path == root.resolve() / "datasets" / ds.org_code / f"{name}.yaml"
        assert not Path(spec.source.url).is_absolute()  # a copied workspace reads its own
        assert [Path(p) for p in source_files(spec, ds.spec_path)] == sorted(ds.files)
        assert all(f.parent == root.resolve() / "sources" / ds.org_code for f in ds.files)
        assert all(c.source and not c.source.isascii() for c in spec.columns)  # Chinese sources
        assert spec.primary_key, f"{name} has no primary key"
    formats = Counter(load_spec(ds.spec_path).source.format for ds in datasets.values())
    assert formats == {"csv": 7, "xlsx": 2, "json": 1, "ndjson": 1, "parquet": 1}


def test_entries_belong_to_the_datasets_department(demo, district):
    _, datasets = demo
    entries = {e["code"]: e for e in district.entries}
    orgs = {o.name: o.code for o in district.organisations}
    for name, ds in datasets.items():
        provider, word, _ = EXPECTED[name]
        entry = entries[ds.entry_code]
        assert entry["provider_code"] == ds.org_code == orgs["示范区" + provider]
        assert word in entry["name"] == ds.entry_name
        assert not ds.entry_fallback


@pytest.mark.parametrize("name", list(EXPECTED))
@pytest.mark.slow
def test_files_read_back_with_the_stated_row_counts(demo, tmp_path, name):
    ds = demo[1][name]
    spec, rows = load(ds, tmp_path)
    assert len(rows) == ds.rows == EXPECTED[name][2]
    assert set(rows[0]) == {c.source for c in spec.columns}


@pytest.mark.parametrize("name", list(EXPECTED))
@pytest.mark.slow
def test_planted_defects_are_what_the_spec_catches(demo, tmp_path, name):
    ds = demo[1][name]
    spec, rows = load(ds, tmp_path)
    assert violations(spec, rows) == ds.defect_counts
    assert (name in CLEAN) == (not ds.defect_counts)
    assert len(ds.defects) >= len(ds.defect_counts)


def test_defects_of_the_brief(demo, tmp_path):
    datasets = demo[1]
    cards = rows_of(datasets["social_security_card_applications"], tmp_path)
    assert len(cards) - len({r["申领编号"] for r in cards}) == 20
    assert sum(len(r["手机号"]) == 10 for r in cards) == 50
    assert sum(r["申领日期"] > TODAY.isoformat() for r in cards) == 12
    dibao = rows_of(datasets["dibao_recipients"], tmp_path)
    assert sum(not is_valid_id_card(r["身份证号"]) for r in dibao) == 1  # 0.1% of 80, at least 1
    medical = rows_of(datasets["medical_institutions"], tmp_path)
    assert sum(r["床位数"] < 0 for r in medical) == 2
    assert sum(not is_valid_uscc(r["统一社会信用代码"]) for r in medical) == 1
    ratings = rows_of(datasets["service_evaluations"], tmp_path)
    assert Counter(r["评价等级"] for r in ratings)["一般"] == 7


def test_gbk_files_are_gbk(demo):
    datasets = demo[1]
    dibao = datasets["dibao_recipients"].files[0].read_bytes()
    with pytest.raises(UnicodeDecodeError):
        dibao.decode("utf-8")
    text = dibao.decode("gb18030")
    assert text.startswith("示范区城乡低保对象名单（2026年11月）,,")
    assert "\r\n序号,所属街道,所属村居,户主姓名,身份证号" in text
    assert text.count("\n") == 82
    assert "䶮" in text
    assert "㛃" in text
    with pytest.raises(UnicodeDecodeError):
        dibao.decode("gbk")
    errands = datasets["service_station_errands"].files[0].read_bytes()
    with pytest.raises(UnicodeDecodeError):
        errands.decode("utf-8")
    assert errands.decode("gbk").startswith("代办编号,村居,服务站,代办事项")


def test_penalties_match_the_summary(demo, tmp_path):
    rows = rows_of(demo[1]["penalty_decisions"], tmp_path)
    assert len(rows) == 97 == len({r["决定书文号"] for r in rows})
    assert sum(Decimal(str(r["处罚金额(万元)"])) for r in rows) == Decimal("969.10")
    assert min(r["处罚金额(万元)"] for r in rows) >= 0.05
    assert all(is_valid_uscc(r["统一社会信用代码"]) for r in rows)


def test_spreadsheets(demo, tmp_path):
    datasets = demo[1]
    medical = CalamineWorkbook.from_path(str(datasets["medical_institutions"].files[0]))
    assert medical.sheet_names == ["医疗机构"]
    rows = rows_of(datasets["medical_institutions"], tmp_path)
    assert {r["是否接入医保电子凭证"] for r in rows} == {"是"}  # all 142 use 医保电子凭证
    assert len({r["机构名称"] for r in rows}) == 142
    hall = rows_of(datasets["mobile_hall_items"], tmp_path)
    assert Counter(r["是否一件事一次办"] for r in hall) == {"否": 138, "是": 15}
    assert Counter(r["是否支持扫码亮证"] for r in hall) == {"是": 138, "否": 15}
    assert all(isinstance(r["上线日期"], dt.date) for r in hall)  # real Excel dates


def test_sensor_readings_are_hourly_per_point(demo):
    ds = demo[1]["farm_sensor_readings"]
    table = pq.read_table(ds.files[0])
    assert str(table.schema.field("监测时间").type) == "timestamp[ms]"  # Parquet has no seconds
    counts = Counter(table["点位编号"].to_pylist())
    assert len(counts) == 25
    assert set(counts.values()) == {24}
    times = sorted(set(table["监测时间"].to_pylist()))
    assert times[0] == dt.datetime(2026, 11, 14)
    assert times[-1] == dt.datetime(2026, 11, 14, 23)
    assert table["空气温度"].null_count > 0  # lost packets, allowed by the spec


def test_settlements_are_monthly_files_with_bom(demo):
    ds = demo[1]["medical_insurance_settlements"]
    assert [f.name for f in ds.files] == [f"医保电子凭证结算_2026{m:02d}.csv" for m in (8, 9, 10)]
    assert all(f.read_bytes().startswith("\ufeff结算流水号".encode()) for f in ds.files)


def test_datasets_refer_to_each_other(demo, tmp_path):
    datasets = demo[1]
    rows = {
        name: rows_of(ds, tmp_path)
        for name, ds in datasets.items()
        if name
        in (
            "enterprise_registrations",
            "penalty_decisions",
            "credit_repair_records",
            "medical_institutions",
            "medical_insurance_settlements",
        )
    }
    firms = {r["统一社会信用代码"] for r in rows["enterprise_registrations"]}
    assert {r["统一社会信用代码"] for r in rows["penalty_decisions"]} <= firms
    decisions = {r["决定书文号"] for r in rows["penalty_decisions"]}
    repaired = {r["原决定书文号"] for r in rows["credit_repair_records"]} - {None}
    assert repaired
    assert repaired <= decisions
    institutions = {r["统一社会信用代码"] for r in rows["medical_institutions"]}
    used = {r["定点机构代码"] for r in rows["medical_insurance_settlements"]}
    assert len(used - institutions) <= 1  # the 名录's mistyped code is right in the settlements


def test_street_dataset_uses_the_streets_own_villages(demo, district):
    ds = demo[1]["service_station_errands"]
    spec = load_spec(ds.spec_path)
    villages = [o.name for o in district.organisations if o.parent_code == ds.org_code]
    allowed = spec.column("village").allowed_values
    assert len(allowed) == len(villages)
    assert all(
        any(v.endswith(place + "居委会") or v.endswith(place + "村委会") for v in villages)
        for place in allowed
    )


@pytest.mark.slow
def test_same_seed_same_bytes(demo, district, tmp_path):
    root, datasets = demo
    again = write_demo_datasets(tmp_path / "again", district, seed=SEED, scale=SCALE)
    for ds in again:
        first = datasets[ds.name]
        assert [f.read_bytes() for f in ds.files] == [f.read_bytes() for f in first.files]
        assert ds.spec_path.read_text("utf-8").replace(
            str(ds.spec_path.parents[2]), "ROOT"
        ) == first.spec_path.read_text("utf-8").replace(str(root.resolve()), "ROOT")
        assert (ds.rows, ds.defects, ds.entry_code) == (first.rows, first.defects, first.entry_code)
    other = write_demo_datasets(tmp_path / "other", district, seed=SEED + 1, scale=SCALE)
    assert other[0].files[0].read_bytes() != datasets[other[0].name].files[0].read_bytes()


@pytest.mark.slow
def test_scale_multiplies_the_big_counts(district, tmp_path):
    rows = {ds.name: ds.rows for ds in write_demo_datasets(tmp_path, district, scale=0.03)}
    assert rows["social_security_card_applications"] == 30_000
    assert rows["enterprise_registrations"] == 1500
    assert rows["service_evaluations"] == 2100
    assert rows["farm_sensor_readings"] == 25 * 24 * 1
    assert (rows["medical_institutions"], rows["penalty_decisions"]) == (142, 97)
    with pytest.raises(ValueError, match="scale"):
        write_demo_datasets(tmp_path, district, scale=0)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["social_security_card_applications", "enterprise_registrations"])
def test_next_version_changes_and_adds_rows(district, tmp_path, name):
    def first_and_next(root: Path) -> tuple[DemoDataset, list[dict], list[dict]]:
        ds = next(d for d in write_demo_datasets(root, district, scale=SCALE) if d.name == name)
        before = rows_of(ds, root)
        write_next_version(ds, seed=7)
        return ds, before, rows_of(ds, root)

    ds, before, after = first_and_next(tmp_path / "a")
    spec = load_spec(ds.spec_path)
    assert ds.version == 2
    assert ds.rows == len(after) > len(before)
    assert after[: len(before)] != before  # rows changed in place
    key = spec.column(spec.primary_key[0]).source
    assert [r[key] for r in after[: len(before)]] == [r[key] for r in before]
    assert violations(spec, after) == ds.defect_counts  # no defect gained or lost
    again, _, _ = first_and_next(tmp_path / "b")
    assert again.files[0].read_bytes() == ds.files[0].read_bytes()


def test_next_version_only_for_some_datasets(demo):
    with pytest.raises(ValueError, match="no next version for penalty_decisions"):
        write_next_version(demo[1]["penalty_decisions"], seed=1)
