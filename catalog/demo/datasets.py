"""Department datasets for the demo district: the files departments deliver, one spec each.

``write_demo_datasets`` writes twelve source files (CSV in UTF-8, UTF-8 with BOM and GBK, Excel,
JSON, NDJSON, Parquet) under ``<root>/sources/<org_code>/`` and a dataset spec for each under
``<root>/datasets/<org_code>/<name>.yaml``, tied to a catalogue entry of its department. Volumes
follow the district office's 2024 summary (142 医疗机构, 97 行政处罚决定书 totalling 969.1 万元,
1,259 非接触式执法案件, 25 农业物联监测点位, 153 掌上大厅高频事项, 7 万余条好差评). Most datasets
carry realistic defects that a suite built from the spec catches; ``DemoDataset.defect_counts``
says how many rows break which rule (``column:rule``, rule = unique, nullable, format,
allowed_values, min or max).

Values come from numpy Generators seeded with ``(seed, dataset)`` and from ``district.today``:
the same seed, district and scale give byte-identical files.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import xlsxwriter
import yaml

from catalog.demo import dataset_values as dv
from catalog.demo import vocabulary as vocab
from catalog.demo.district import STREET, VILLAGE, District
from schemas.dataset_spec import load_spec

DAY = dt.timedelta(days=1)
STAMP = "%Y-%m-%d %H:%M:%S"
TODAY = "today"  # in a column rule: replaced by district.today


@dataclass
class DemoDataset:
    """One generated department dataset: its spec, files and the defects planted in it."""

    name: str
    title: str
    org_code: str
    entry_code: str
    spec_path: Path
    files: list[Path]
    rows: int
    defects: list[str]  # human readable, with counts
    defect_counts: dict[str, int] = field(default_factory=dict)  # "column:rule" -> rows
    entry_name: str = ""
    entry_fallback: bool = False  # no entry name matched: the department's first entry
    today: dt.date | None = None
    version: int = 1


class _Build:
    """State of one ``write_demo_datasets`` run, shared by the dataset builders."""

    def __init__(self, root: Path, district: District, seed: int, scale: float):
        self.root, self.district, self.seed, self.scale = root, district, seed, scale
        self.today = district.today
        self.orgs = {o.name: o for o in district.organisations}
        self.entries: dict[str, list[dict[str, Any]]] = {}
        for entry in district.entries:
            self.entries.setdefault(entry["provider_code"], []).append(entry)
        self.shared: dict[str, Any] = {}  # results later datasets reuse

    def org(self, short: str):
        return self.orgs[vocab.DISTRICT + short]

    def rows(self, full: int, minimum: int) -> int:
        return max(minimum, round(full * self.scale))

    def folder(self, org) -> Path:
        path = self.root / "sources" / org.code
        path.mkdir(parents=True, exist_ok=True)
        return path

    def entry(self, org, subjects: tuple[str, ...], aspects: tuple[str, ...]):
        """(entry, fallback): the org's entry best named ``subject + aspect``, plain names before
        year/area-prefixed ones; the org's first entry when no name holds a subject."""
        for subject in subjects:
            found = []
            for e in self.entries[org.code]:
                at = e["name"].find(subject)
                if at >= 0:
                    rest = e["name"][at + len(subject):]
                    rank = aspects.index(rest) if rest in aspects else len(aspects)
                    found.append((at > 0, rank, len(e["name"]), e["code"], e))
            if found:
                return min(found, key=lambda t: t[:4])[4], False
        return self.entries[org.code][0], True

    def villages(self, street=None) -> list[tuple[str, str]]:
        """(街道/乡镇, 村居 place name) of every 村居, or of one street's."""
        streets = {o.code: o.name for o in self.district.organisations if o.kind == STREET}
        return [(streets[o.parent_code].removeprefix(vocab.DISTRICT),
                 o.name.removeprefix(streets[o.parent_code])[:-3])  # drop 居委会 / 村委会
                for o in self.district.organisations
                if o.kind == VILLAGE and (street is None or o.parent_code == street.code)]


class _Defects:
    """Plants defects into a table and keeps their counts."""

    def __init__(self, table: pa.Table | None = None) -> None:
        self.table = table
        self.counts: dict[str, int] = {}
        self.texts: list[str] = []

    def add(self, key: str, rows: int, text: str) -> None:
        self.counts[key] = self.counts.get(key, 0) + rows
        self.texts.append(f"{rows} {text}")

    def plant(self, column: str, rows: np.ndarray, values, key: str | None, text: str) -> None:
        """Set ``column`` at ``rows`` to ``values`` (or ``values(old)``); count them under
        ``key`` (None: a defect no spec rule sees, only described)."""
        array = self.table[column].combine_chunks()
        new = values(array.take(rows)) if callable(values) else values
        self.table = self.table.set_column(self.table.column_names.index(column), column,
                                           dv.patch(array, rows, new))
        if key is None:
            self.texts.append(f"{len(rows)} {text}")
        else:
            self.add(key, len(rows), text)


# --- writers and specs -------------------------------------------------------------------
def _write_csv(path: Path, table: pa.Table, *, encoding: str = "utf-8", title: str = "",
               crlf: bool = False) -> None:
    """CSV with an unquoted header (as exports look); GBK/GB18030 is encoded by Python."""
    header = (title + "," * (table.num_columns - 1) + "\n" if title else "")
    header += ",".join(table.column_names) + "\n"
    options = pcsv.WriteOptions(include_header=False, quoting_style="none")
    if encoding.startswith("utf-8") and not crlf:  # streamed: the 1M-row file stays fast
        with path.open("wb") as out:
            out.write(header.encode(encoding))
            pcsv.write_csv(table, out, options)
        return
    body = io.BytesIO()
    pcsv.write_csv(table, body, options)
    text = header + body.getvalue().decode("utf-8")
    path.write_bytes((text.replace("\n", "\r\n") if crlf else text).encode(encoding))


def _write_xlsx(path: Path, sheet: str, header: list[str], rows: list[list[Any]], today: dt.date,
                *, title: str = "") -> None:
    with xlsxwriter.Workbook(str(path), {"in_memory": True}) as book:  # fixed zip timestamps
        book.set_properties({"created": dt.datetime.combine(today, dt.time(9))})
        ws = book.add_worksheet(sheet)
        bold, dates = book.add_format({"bold": True}), book.add_format({"num_format": "yyyy-mm-dd"})
        if title:
            ws.write(0, 0, title, bold)
        ws.write_row(int(bool(title)), 0, header, bold)
        for r, row in enumerate(rows, int(bool(title)) + 1):
            for c, value in enumerate(row):
                if isinstance(value, dt.date):
                    ws.write_datetime(r, c, dt.datetime.combine(value, dt.time()), dates)
                elif value is not None:
                    ws.write(r, c, value)


def C(name: str, source: str, kind: str = "string", **rules: Any) -> dict[str, Any]:
    """One spec column (``kind`` is its type); short, as the specs list over a hundred."""
    return {"name": name, "source": source} | ({"type": kind} if kind != "string" else {}) | rules


def _dump_spec(spec: dict[str, Any]) -> str:
    """YAML with one flow-style line per column, like docs/examples/dataset-spec.yaml."""
    def dump(data: Any, flow: bool = False) -> str:
        return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=10_000,
                              default_flow_style=flow)

    keys = list(spec)
    at = keys.index("columns")
    columns = "".join(f"  - {dump(c, True).strip()}\n" for c in spec["columns"])
    return (dump({k: spec[k] for k in keys[:at]}) + "columns:\n" + columns
            + dump({k: spec[k] for k in keys[at + 1:]}))


# How each department's data steward grades the generated rules (spec `severity`): defects in
# contact details, sensor glitches and free-text registers are reported (warning); wrong
# 身份证号 / 统一社会信用代码, out-of-range allowances and repeated settlements block the load
# (the default, error). So the demo has published, flagged and blocked loads.
DEMO_SEVERITY: dict[str, dict[str, str]] = {
    "social_security_card_applications": {"mobile:format": "warning",
                                          "applied_on:range": "warning"},
    "medical_institutions": {"beds:range": "warning", "uscc:format": "warning"},
    "service_evaluations": {"rating:allowed_values": "warning"},
    "farm_sensor_readings": {"soil_moisture:range": "warning"},
    "contactless_enforcement_cases": {"case_source:nullable": "warning"},
    "service_station_errands": {"village:allowed_values": "warning"},
}


def _finish(b: _Build, org, entry_pick, d: _Defects, *, name: str, title: str,
            description: str, files: list[Path], rows: int, columns: list[dict[str, Any]],
            source: dict[str, Any], key: list[str], mode: str, checks=None) -> DemoDataset:
    entry, fallback = entry_pick
    for column in columns:
        column.update({k: b.today for k, v in column.items() if v == TODAY})
    spec = {"name": name, "title": title, "description": description,
            "entry_code": entry["code"], "provider": org.name, "source": source,
            "columns": columns, "primary_key": key, "load": {"mode": mode}}
    if checks:
        spec["checks"] = checks
    if name in DEMO_SEVERITY:
        spec["severity"] = DEMO_SEVERITY[name]
    path = b.root / "datasets" / org.code / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"# {title}: demo dataset of {org.name} for 信息资源 {entry['code']} "
                    f"{entry['name']}.\n# Written by catalog.demo.datasets (seed {b.seed}, scale "
                    f"{b.scale}).\n" + _dump_spec(spec), encoding="utf-8")
    load_spec(path)  # an invalid spec fails the run here, naming the file and key
    return DemoDataset(
        name=name, title=title, org_code=org.code, entry_code=entry["code"], spec_path=path,
        files=files, rows=rows, defects=d.texts, defect_counts=d.counts,
        entry_name=entry["name"], entry_fallback=fallback, today=b.today)


def _row_count(expected: int) -> dict[str, Any]:
    return {"expectation": "expect_table_row_count_to_equal", "value": expected,
            "severity": "warning"}


# --- the datasets ------------------------------------------------------------------------
def _social_security_cards(b: _Build, rng) -> DemoDataset:
    org, n = b.org("人社局"), b.rows(1_000_000, 1000)
    d = _Defects(dv.card_rows(rng, n, b.today - 3 * 365 * DAY, b.today, 1))
    source, copy, short, future = dv.spots(rng, n, 20, 20, 50, 12)
    d.plant("申领编号", copy, d.table["申领编号"].take(source), "application_no:unique",
            "rows repeat an earlier 申领编号 (re-submitted applications)")
    d.plant("手机号", short, lambda old: pc.utf8_slice_codeunits(old, 0, 10), "mobile:format",
            "手机号 with 10 digits (last digit lost)")
    later = np.datetime64(b.today) + rng.integers(1, 400, len(future)).astype("timedelta64[D]")
    d.plant("申领日期", future, dv.fmt(later), "applied_on:max", "申领日期 after today")
    path = b.folder(org) / f"社保卡申领_{b.today:%Y%m%d}.csv"
    _write_csv(path, d.table)
    return _finish(
        b, org, b.entry(org, ("社保卡申领",), ("信息", "办理信息", "受理登记", "台账")), d,
        name="social_security_card_applications", title="社保卡申领信息",
        description="社保卡首次申领、补换卡和临时挂失, 经窗口、掌上大厅和银行网点办理.",
        files=[path], rows=n, source={"url": str(path)}, key=["application_no"], mode="upsert",
        columns=[
            C("application_no", "申领编号"), C("person_name", "姓名", pii="姓名", nullable=False),
            C("id_card_no", "身份证号", pii="身份证号", format="身份证号", nullable=False),
            C("mobile", "手机号", pii="手机号", format="手机号"),
            C("applied_on", "申领日期", "date", nullable=False, min=dt.date(2000, 1, 1), max=TODAY),
            C("business_type", "业务类型", allowed_values=list(dv.CARD_KINDS)),
            C("channel", "申领渠道", allowed_values=list(dv.CARD_CHANNELS), nullable=False),
            C("outlet", "办理网点"),
            C("status", "状态", allowed_values=list(dv.CARD_STATES), nullable=False)])


def _dibao(b: _Build, rng) -> DemoDataset:
    org, n = b.org("民政局"), b.rows(8000, 40)
    villages = b.villages()
    pick = rng.integers(0, len(villages), n)
    street = pc.take(pa.array([v[0] for v in villages]), pa.array(pick))
    place = pc.take(pa.array([v[1] for v in villages]), pa.array(pick))
    rural = np.array([not v[1].endswith("社区") for v in villages]).astype(int)[pick]
    size = rng.choice(6, n, p=dv.HOUSEHOLD_SIZE_WEIGHTS) + 1
    yuan = np.round(np.array(dv.DIBAO_STANDARD)[rural] * size * rng.uniform(0.35, 1.0, n))
    ids = dv.id_cards(rng, n, (1940, 2004), unique=True)
    sex = pc.cast(pc.utf8_slice_codeunits(ids, 16, 17), pa.int64()).to_numpy() % 2
    d = _Defects(pa.table({
        "序号": np.arange(1, n + 1), "所属街道": street, "所属村居": place,
        "户主姓名": dv.names(rng, n), "身份证号": ids, "性别": np.where(sex == 1, "男", "女"),
        "家庭人口": size, "保障类别": np.array(dv.DIBAO_KINDS)[rural],
        "保障金额(元)": dv.money((yuan * 100).astype(np.int64)),
        "认定日期": dv.fmt(dv.days(rng, n, dt.date(2012, 1, 1), b.today, power=0.7), "%Y/%m/%d"),
        "联系电话": pc.if_else(pa.array(rng.random(n) < 0.94), dv.mobiles(rng, n),
                           pa.nulls(n, pa.string())),
        "家庭住址": dv.join(vocab.DISTRICT, street, place, dv.text(rng.integers(1, 120, n)), "号")}))
    bad, low, high, rare = dv.spots(rng, n, max(1, round(n * 0.001)), 3, 3, 2)
    d.plant("身份证号", bad, lambda old: dv.bad_checks(rng, old.to_pylist(), "0123456789X"),
            "id_card_no:format", "身份证号 with a wrong check digit (~0.1%)")
    d.plant("保障金额(元)", low, lambda old: dv.join("-", old), "monthly_allowance:min",
            "negative 保障金额(元) (deductions typed as amounts)")
    d.plant("保障金额(元)", high, lambda old: pc.replace_substring(old, ".", "00."),
            "monthly_allowance:max",
            "保障金额(元) 100 times too high (decimal point lost)")
    d.plant("户主姓名", rare, lambda old: [s[:-1] + c for s, c in zip(
        old.to_pylist(), dv.RARE_NAME_CHARS, strict=True)], None,
        "户主姓名 with 生僻字 outside GBK (䶮, 㛃): the file is GB18030 there, as real exports are")
    path = b.folder(org) / f"城乡低保对象名单_{b.today:%Y%m}.csv"
    _write_csv(path, d.table, encoding="gb18030", crlf=True,
               title=f"{vocab.DISTRICT}城乡低保对象名单（{b.today.year}年{b.today.month}月）")
    return _finish(
        b, org, b.entry(org, ("城乡低保对象",), ("名单", "花名册", "基本信息", "信息")), d,
        name="dibao_recipients", title="城乡低保对象名单",
        description="民政局每月汇总的城乡最低生活保障对象, 一户一行 (GBK, 首行为表题).",
        files=[path], rows=n, source={"url": str(path), "encoding": "gbk", "header_row": 2},
        key=["id_card_no"], mode="replace", columns=[
            C("serial_no", "序号", "integer"),
            C("street", "所属街道", nullable=False, allowed_values=[s for s, _ in vocab.STREETS]),
            C("village", "所属村居", nullable=False),
            C("householder_name", "户主姓名", pii="姓名", nullable=False),
            C("id_card_no", "身份证号", pii="身份证号", format="身份证号"),
            C("gender", "性别", allowed_values=["男", "女"]),
            C("household_size", "家庭人口", "integer", min=1, max=10),
            C("category", "保障类别", nullable=False, allowed_values=list(dv.DIBAO_KINDS)),
            C("monthly_allowance", "保障金额(元)", "decimal(10,2)", nullable=False, min=0,
              max=6000),
            C("approved_on", "认定日期", "date", format="%Y/%m/%d", max=TODAY),
            C("mobile", "联系电话", pii="手机号", format="手机号"),
            C("address", "家庭住址", pii="地址")])


def _medical_institutions(b: _Build, rng) -> DemoDataset:
    org, streets = b.org("卫健委"), [s for s, _ in vocab.STREETS]
    urban = [s for s in streets if s.endswith("街道")]
    rows = [(name, kind, beds, "12", urban[rng.integers(len(urban))])
            for name, kind, beds in dv.HOSPITALS]
    rows += [(f"示范区{s}社区卫生服务中心", "社区卫生服务中心", int(rng.integers(0, 60)), "12", s)
             if s in urban else (f"示范区{s}卫生院", "乡镇卫生院", int(rng.integers(20, 100)), "12", s)
             for s in streets]
    rural = [v for v in b.villages() if v[1].endswith("村")]
    for i in sorted(rng.choice(len(rural), min(len(rural), 80), replace=False)):
        rows.append((f"示范区{rural[i][0]}{rural[i][1]}卫生室", "村卫生室", 0, "52", rural[i][0]))
    while len(rows) < 142:
        s, word = urban[rng.integers(len(urban))], dv.CLINIC_WORDS[rng.integers(len(dv.CLINIC_WORDS))]
        kind = "诊所" if rng.random() < 0.6 else "门诊部"
        if f"示范区{s[:2]}{word}{kind}" not in {r[0] for r in rows}:
            rows.append((f"示范区{s[:2]}{word}{kind}", kind, 0 if kind == "诊所" else
                         int(rng.integers(0, 20)), "92" if kind == "诊所" else "52", s))
    codes = [""] * len(rows)
    for registration in ("12", "52", "92"):  # 事业单位, 民办非企业单位, 个体工商户
        at = [i for i, r in enumerate(rows) if r[3] == registration]
        for i, code in zip(at, dv.usccs(rng, len(at), registration).to_pylist(), strict=True):
            codes[i] = code
    b.shared["institutions"] = [(codes[i], r[0], r[2] + 5) for i, r in enumerate(rows)]
    streets_of = pa.array([r[4] for r in rows])
    d = _Defects(pa.table({
        "序号": np.arange(1, 143), "统一社会信用代码": codes, "机构名称": [r[0] for r in rows],
        "机构类别": [r[1] for r in rows], "床位数": [r[2] for r in rows],
        "地址": dv.join(vocab.DISTRICT, streets_of, dv.take(rng, dv.ROADS, 142),
                      dv.text(rng.integers(1, 300, 142)), "号"),
        "联系电话": dv.numbered("0516-8", rng.integers(0, 10**7, 142), 7),
        "是否接入医保电子凭证": ["是"] * 142}))
    beds, code = dv.spots(rng, 142, 2, 1)
    d.plant("床位数", beds, -rng.integers(1, 60, 2), "beds:min", "negative 床位数")
    d.plant("统一社会信用代码", code, lambda old: dv.bad_checks(rng, old.to_pylist(), dv.USCC_ALPHABET),
            "uscc:format", "统一社会信用代码 with a wrong check character")
    path = b.folder(org) / "医疗机构名录.xlsx"
    _write_xlsx(path, "医疗机构", d.table.column_names, [list(r.values()) for r in d.table.to_pylist()],
                b.today, title=f"示范区医疗机构名录（截至{b.today.year}年{b.today.month}月{b.today.day}日）")
    return _finish(
        b, org, b.entry(org, ("医疗机构",), ("名录", "基本信息", "登记信息", "信息")), d,
        name="medical_institutions", title="医疗机构名录",
        description="全区 142 家医疗机构及其接入医保电子凭证结算系统的情况.", files=[path],
        rows=142, source={"url": str(path), "sheet": "医疗机构", "header_row": 2},
        key=["uscc"], mode="replace", checks=[_row_count(142)], columns=[
            C("serial_no", "序号", "integer"),
            C("uscc", "统一社会信用代码", format="统一社会信用代码"),
            C("institution_name", "机构名称", nullable=False, unique=True),
            C("category", "机构类别", nullable=False, allowed_values=list(dv.MEDICAL_KINDS)),
            C("beds", "床位数", "integer", min=0, max=3000), C("address", "地址"),
            C("phone", "联系电话"),
            C("e_voucher", "是否接入医保电子凭证", allowed_values=["是", "否"])])


def _enterprises(b: _Build, rng) -> DemoDataset:
    org, n = b.org("市场监管局"), b.rows(50_000, 500)
    d = _Defects(dv.enterprise_rows(rng, n, dt.date(1995, 1, 1), b.today - DAY))
    bad, missing = dv.spots(rng, n, 25, 12)
    d.plant("统一社会信用代码", bad, lambda old: dv.bad_checks(rng, old.to_pylist(), dv.USCC_ALPHABET),
            "uscc:format", "统一社会信用代码 with a wrong check character (typed by hand)")
    d.plant("法定代表人", missing, [None] * 12, "legal_representative:nullable", "empty 法定代表人")
    alive = np.isin(d.table["登记状态"].to_numpy(), ["存续", "在业"])
    alive[np.concatenate([bad, missing])] = False
    b.shared["companies"] = [tuple(r.values()) for r in d.table.filter(alive).select(
        ["统一社会信用代码", "企业名称", "法定代表人"]).to_pylist()]
    path = b.folder(org) / f"企业登记信息_{b.today:%Y%m%d}.csv"
    _write_csv(path, d.table)
    return _finish(
        b, org, b.entry(org, ("企业",), ("登记信息", "基本信息", "名录", "信息")), d,
        name="enterprise_registrations", title="企业登记信息",
        description="辖区企业的登记注册信息, 含存续、吊销、注销和迁出企业.", files=[path],
        rows=n, source={"url": str(path)}, key=["uscc"], mode="upsert", columns=[
            C("uscc", "统一社会信用代码", format="统一社会信用代码"),
            C("company_name", "企业名称", nullable=False),
            C("company_type", "企业类型", allowed_values=sorted({t for _, t in dv.COMPANY_FORMS})),
            C("legal_representative", "法定代表人", pii="姓名", nullable=False),
            C("registered_capital", "注册资本(万元)", "decimal(16,2)", min=0),
            C("established_on", "成立日期", "date", nullable=False, max=TODAY),
            C("status", "登记状态", nullable=False, allowed_values=list(dv.REGISTRATION_STATES)),
            C("address", "住所"), C("authority", "登记机关")])


def _penalties(b: _Build, rng) -> DemoDataset:
    org, n, companies = b.org("市场监管局"), 97, b.shared["companies"]
    decided = sorted(dv.days(rng, n, b.today - 364 * DAY, b.today - 3 * DAY).tolist())
    parties = [companies[i] for i in rng.choice(len(companies), n, replace=False)]
    share = rng.lognormal(0, 1.1, n)  # in 百元, at least 500 元 each, 969.1 万元 in all
    share = share / share.sum() * (96_910 - 5 * n)
    units = np.floor(share).astype(int) + 5
    units[np.argsort(np.floor(share) - share)[:96_910 - units.sum()]] += 1
    records, counter = [], {}
    for day, (code, party, person), amount in zip(decided, parties, units.tolist(), strict=True):
        counter[day.year] = counter.get(day.year, 0) + 1
        kind = int(rng.integers(len(dv.MARKET_VIOLATIONS)))
        records.append({
            "决定书文号": f"示市监处罚〔{day.year}〕{counter[day.year]}号", "当事人": party,
            "统一社会信用代码": code, "法定代表人": person, "违法行为": dv.MARKET_VIOLATIONS[kind],
            "处罚依据": dv.PENALTY_LAWS[kind % len(dv.PENALTY_LAWS)],
            "处罚内容": "没收违法所得并处罚款" if rng.random() < 0.3 else "罚款",
            "处罚金额(万元)": amount / 100, "决定日期": day.isoformat(),
            "作出机关": "示范区市场监督管理局"})
    b.shared["penalties"] = records
    path = b.folder(org) / f"行政处罚决定书_{b.today.year}.json"
    path.write_text(json.dumps(records, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    total = {"expectation": "expect_column_sum_to_be_between", "column": "fine_amount",
             "min_value": 969.1, "max_value": 969.1, "severity": "warning"}
    return _finish(
        b, org, b.entry(org, ("行政处罚决定书",), ("", "公示信息", "目录", "台账")), _Defects(),
        name="penalty_decisions", title="行政处罚决定书",
        description="市场监管领域行政处罚决定书 97 份, 罚款金额合计 969.1 万元.", files=[path],
        rows=n, source={"url": str(path)}, key=["decision_no"], mode="upsert",
        checks=[_row_count(97), total], columns=[
            C("decision_no", "决定书文号"), C("party", "当事人", nullable=False),
            C("uscc", "统一社会信用代码", format="统一社会信用代码", nullable=False),
            C("legal_representative", "法定代表人", pii="姓名"),
            C("violation", "违法行为", nullable=False), C("legal_basis", "处罚依据"),
            C("penalty", "处罚内容"),
            C("fine_amount", "处罚金额(万元)", "decimal(12,2)", nullable=False, min=0),
            C("decided_on", "决定日期", "date", nullable=False, max=TODAY),
            C("authority", "作出机关")])


def _evaluations(b: _Build, rng) -> DemoDataset:
    org, n, items = b.org("信息管理局"), b.rows(70_000, 200), dv.service_items()
    pick = pa.array(rng.choice(len(items), n, p=dv.zipf(len(items))[rng.permutation(len(items))]))
    day = np.sort(dv.days(rng, n, b.today - 365 * DAY, b.today - DAY, power=0.9))
    at = day.astype("datetime64[s]") + rng.integers(7 * 3600, 22 * 3600, n).astype("timedelta64[s]")
    d = _Defects(pa.table({
        "评价编号": dv.numbered("PJ", np.arange(1, n + 1), 8),
        "事项名称": pc.take(pa.array([i[2] for i in items]), pick),
        "实施部门": pc.take(pa.array([i[0] for i in items]), pick),
        "评价渠道": dv.take(rng, dv.EVALUATION_CHANNELS, n, dv.EVALUATION_CHANNEL_WEIGHTS),
        "评价等级": dv.take(rng, dv.RATINGS, n, dv.RATING_WEIGHTS),
        "评价内容": pc.if_else(pa.array(rng.random(n) < 0.35), dv.take(rng, dv.COMMENTS, n),
                           pa.nulls(n, pa.string())),
        "评价时间": dv.fmt(at, STAMP)}))
    d.plant("评价等级", dv.spots(rng, n, 7)[0], [dv.UNKNOWN_RATING] * 7, "rating:allowed_values",
            f"评价等级 '{dv.UNKNOWN_RATING}' (not one of the five 好差评 levels)")
    path = b.folder(org) / f"政务服务好差评_{b.today:%Y%m%d}.ndjson"
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n"
                            for row in d.table.to_pylist()), encoding="utf-8")
    return _finish(
        b, org, b.entry(org, ("政务服务好差评",), ("信息", "记录", "办理信息", "台账")), d,
        name="service_evaluations", title="政务服务好差评",
        description="政务服务“好差评”评价记录, 一次评价一行 (NDJSON).", files=[path], rows=n,
        source={"url": str(path)}, key=["evaluation_no"], mode="append", columns=[
            C("evaluation_no", "评价编号"), C("item_name", "事项名称", nullable=False),
            C("department", "实施部门"),
            C("channel", "评价渠道", allowed_values=list(dv.EVALUATION_CHANNELS)),
            C("rating", "评价等级", nullable=False, allowed_values=list(dv.RATINGS)),
            C("comment", "评价内容"),
            C("evaluated_at", "评价时间", "timestamp", nullable=False, max=TODAY)])


def _farm_sensors(b: _Build, rng) -> DemoDataset:
    org, points, days = b.org("农业农村局"), 25, max(1, round(30 * b.scale))
    hours = np.datetime64(b.today - days * DAY, "h") + np.arange(24 * days)
    n, steps = points * len(hours), len(hours)
    hour = np.tile((hours - hours.astype("datetime64[D]")).astype(int), points)
    season = 15 - 13 * np.cos(2 * np.pi * (b.today.timetuple().tm_yday - 15) / 365)
    spread = np.repeat(rng.normal(0, 1.2, points), steps)
    air = season + spread + 6 * np.sin(2 * np.pi * (hour - 9) / 24) + rng.normal(0, 0.8, n)
    soil = season + spread / 2 + 2 * np.sin(2 * np.pi * (hour - 12) / 24) + rng.normal(0, 0.3, n)
    walk = np.cumsum(rng.normal(0, 0.08, (points, steps)), axis=1).ravel()
    moisture = np.clip(np.repeat(rng.uniform(22, 40, points), steps) + walk, 5, 60)
    clouds = np.repeat(rng.uniform(0.3, 1.0, (points, days)), 24, axis=1).ravel()
    light = np.maximum(0, np.sin(np.pi * (hour - 6) / 12)) * clouds * 80_000
    air[dv.spots(rng, n, max(1, n // 300))[0]] = np.nan  # lost packets: nulls, allowed
    d = _Defects(pa.table({
        "点位编号": np.repeat([f"NYWL-{k:03d}" for k in range(1, points + 1)], steps),
        "监测时间": pa.array(np.tile(hours, points).astype("datetime64[s]"), pa.timestamp("s")),
        "土壤温度": np.round(soil, 1), "土壤湿度": np.round(moisture, 1),
        "空气温度": pa.array(np.round(air, 1), from_pandas=True), "光照强度": np.round(light)}))
    d.plant("土壤湿度", dv.spots(rng, n, 12)[0], [-999.0] * 12, "soil_moisture:min",
            "土壤湿度 -999 (the sensor's fault value)")
    path = b.folder(org) / f"农业物联网监测读数_{b.today:%Y%m%d}.parquet"
    pq.write_table(d.table, path, compression="zstd")
    return _finish(
        b, org, b.entry(org, ("农业物联网监测点位",), ("信息", "台账", "基本信息", "名录")), d,
        name="farm_sensor_readings", title="农业物联网监测点位读数",
        description="25 个农业物联监测点位的逐时读数 (土壤温湿度、空气温度、光照).",
        files=[path], rows=n, source={"url": str(path)}, key=["point_id", "measured_at"],
        mode="append", columns=[
            C("point_id", "点位编号"), C("measured_at", "监测时间", "timestamp", max=TODAY),
            C("soil_temperature", "土壤温度", "double", min=-20, max=50),
            C("soil_moisture", "土壤湿度", "double", min=0, max=100),
            C("air_temperature", "空气温度", "double", min=-30, max=50),
            C("light_intensity", "光照强度", "double", min=0, max=200_000)])


def _mobile_hall_items(b: _Build, rng) -> DemoDataset:
    org, items = b.org("信息管理局"), dv.service_items()
    kinds = {"行政许可": "XK", "行政确认": "QR", "行政给付": "JF", "公共服务": "GG", "其他行政权力": "QT"}
    no_scan = set(rng.choice(len(items), len(items) - 138, replace=False).tolist())  # 138 扫码亮证
    online = dv.days(rng, len(items), dt.date(2021, 3, 1), b.today - 30 * DAY).tolist()
    rows = [[k + 1, f"{dv.REGION}{kinds[kind]}{k + 1:04d}", name, dept, kind,
             0 if kind == "公共服务" and rng.random() < 0.5 else int(rng.integers(1, 21)),
             "是" if "一件事" in name else "否", "否" if k in no_scan else "是", online[k]]
            for k, (dept, kind, name) in enumerate(items)]
    path = b.folder(org) / "掌上大厅高频事项清单.xlsx"
    _write_xlsx(path, "高频事项", ["序号", "事项编码", "事项名称", "实施部门", "事项类型",
                                "承诺时限(工作日)", "是否一件事一次办", "是否支持扫码亮证", "上线日期"],
                rows, b.today)
    return _finish(
        b, org, b.entry(org, ("掌上大厅事项",), ("台账", "信息", "记录", "办理信息")), _Defects(),
        name="mobile_hall_items", title="掌上大厅高频事项清单",
        description="掌上大厅 4.0 版 153 项“指尖办”高频事项, 含 15 项“一件事一次办”.",
        files=[path], rows=len(rows), source={"url": str(path), "sheet": "高频事项"},
        key=["item_code"], mode="replace", checks=[_row_count(153)], columns=[
            C("serial_no", "序号", "integer"), C("item_code", "事项编码"),
            C("item_name", "事项名称", nullable=False, unique=True),
            C("department", "实施部门", nullable=False,
              allowed_values=sorted({dept for dept, _, _ in items})),
            C("item_type", "事项类型", allowed_values=list(kinds)),
            C("promised_days", "承诺时限(工作日)", "integer", min=0, max=60),
            C("one_thing", "是否一件事一次办", allowed_values=["是", "否"]),
            C("scan_to_show", "是否支持扫码亮证", allowed_values=["是", "否"]),
            C("online_on", "上线日期", "date", max=TODAY)])


def _contactless_cases(b: _Build, rng) -> DemoDataset:
    org, n = b.org("城市管理局"), 1259
    accepted = np.sort(dv.days(rng, n, b.today - 364 * DAY, b.today - DAY))
    counter, numbers = {}, []
    for year in dv.ymd(accepted)[0].tolist():
        counter[year] = counter.get(year, 0) + 1
        numbers.append(f"CGFX{year}{counter[year]:05d}")
    action = rng.choice(len(dv.CASE_ACTIONS), n, p=dv.CASE_ACTION_WEIGHTS)
    fine = np.select([action == 1, action == 2],
                     [rng.choice([50, 100, 200], n), rng.integers(5, 200, n) * 100], -1) * 100
    closed = accepted + rng.integers(0, 15, n).astype("timedelta64[D]")
    done = ((closed < np.datetime64(b.today)) & (rng.random(n) < 0.97)
            | ((np.datetime64(b.today) - accepted).astype(int) > 60))
    shops = dv.join(dv.take(rng, dv.TRADE_CHARS, n), dv.take(rng, dv.TRADE_CHARS, n),
                    dv.take(rng, dv.SHOP_KINDS, n))
    none = pa.nulls(n, pa.string())
    d = _Defects(pa.table({
        "案件编号": numbers, "案件来源": dv.take(rng, dv.CASE_SOURCES, n, dv.CASE_SOURCE_WEIGHTS),
        "违法类型": dv.take(rng, dv.CASE_KINDS, n),
        "当事人": pc.if_else(pa.array(rng.random(n) < 0.6), dv.names(rng, n), shops),
        "联系电话": pc.if_else(pa.array(rng.random(n) < 0.7), dv.mobiles(rng, n), none),
        "违法地点": dv.addresses(rng, n, [s for s, _ in vocab.STREETS if s.endswith("街道")]),
        "受理日期": dv.fmt(accepted),
        "处理方式": pc.take(pa.array(dv.CASE_ACTIONS), pa.array(action)),
        "罚款金额(元)": pc.if_else(pa.array(fine >= 0), dv.money(fine), none),
        "办理状态": np.where(done, "已办结", "办理中"),
        "办结日期": pc.if_else(pa.array(done), dv.fmt(closed), none)}))
    d.plant("案件来源", dv.spots(rng, n, 5)[0], [None] * 5, "case_source:nullable", "empty 案件来源")
    path = b.folder(org) / f"非接触式执法案件_{b.today:%Y%m%d}.csv"
    _write_csv(path, d.table)
    return _finish(
        b, org, b.entry(org, ("数字城管案件",), ("信息", "记录", "办理信息", "台账")), d,
        name="contactless_enforcement_cases", title="非接触式执法案件",
        description="视频抓拍、数字城管和热线等“非接触式”受理的城市管理执法案件 1259 件.",
        files=[path], rows=n, source={"url": str(path)}, key=["case_no"], mode="upsert",
        columns=[
            C("case_no", "案件编号"),
            C("case_source", "案件来源", nullable=False, allowed_values=list(dv.CASE_SOURCES)),
            C("violation_type", "违法类型", allowed_values=list(dv.CASE_KINDS)),
            C("party", "当事人", pii="姓名"), C("mobile", "联系电话", pii="手机号", format="手机号"),
            C("location", "违法地点"), C("accepted_on", "受理日期", "date", nullable=False, max=TODAY),
            C("action", "处理方式", allowed_values=list(dv.CASE_ACTIONS)),
            C("fine_yuan", "罚款金额(元)", "decimal(10,2)", min=0, max=200_000),
            C("state", "办理状态", allowed_values=list(dv.CASE_STATES)),
            C("closed_on", "办结日期", "date", max=TODAY)])


def _credit_repairs(b: _Build, rng) -> DemoDataset:
    org, n, companies = b.org("发改委"), 360, b.shared["companies"]
    rows = []  # (applied, name, uscc, category, decision no.)
    for p in b.shared["penalties"]:  # 行政处罚信息 can be repaired after 3 months' publicity
        applied = dt.date.fromisoformat(p["决定日期"]) + int(rng.integers(90, 300)) * DAY
        if applied < b.today and rng.random() < 0.6:
            rows.append((applied, p["当事人"], p["统一社会信用代码"], "行政处罚信息", p["决定书文号"]))
    for i in rng.choice(len(companies), min(len(companies), n - len(rows)), replace=False):
        rows.append((b.today - int(rng.integers(1, 730)) * DAY, companies[i][1], companies[i][0],
                     dv.CREDIT_CATEGORIES[1 + int(rng.random() < 0.15)], None))
    table, counter = [], {}
    for applied, name, code, category, decision in sorted(rows, key=lambda r: (r[0], r[2])):
        counter[applied.year] = counter.get(applied.year, 0) + 1
        result = ("审核中" if (b.today - applied).days < 15
                  else "同意修复" if rng.random() < 0.88 else "不予修复")
        repaired = applied + int(rng.integers(3, 15)) * DAY
        table.append({"申请编号": f"XYXF{applied.year}{counter[applied.year]:04d}",
                      "主体名称": name, "统一社会信用代码": code, "失信信息类别": category,
                      "原决定书文号": decision,
                      "修复方式": dv.CREDIT_METHODS[int(rng.choice(3, p=[0.6, 0.3, 0.1]))],
                      "申请日期": applied.isoformat(), "审核结果": result,
                      "修复日期": repaired.isoformat() if result == "同意修复" else None})
    path = b.folder(org) / f"信用修复记录_{b.today:%Y%m%d}.csv"
    _write_csv(path, pa.Table.from_pylist(table))
    return _finish(
        b, org, b.entry(org, ("信用修复", "失信联合惩戒对象"), ("信息", "记录", "名录", "台账")),
        _Defects(), name="credit_repair_records", title="信用修复记录",
        description="市场主体信用修复申请与审核结果; 行政处罚信息公示满 3 个月后可申请修复.",
        files=[path], rows=len(table), source={"url": str(path)}, key=["application_no"],
        mode="upsert", columns=[
            C("application_no", "申请编号"), C("subject_name", "主体名称", nullable=False),
            C("uscc", "统一社会信用代码", format="统一社会信用代码", nullable=False),
            C("category", "失信信息类别", allowed_values=list(dv.CREDIT_CATEGORIES)),
            C("decision_no", "原决定书文号"),
            C("method", "修复方式", allowed_values=list(dv.CREDIT_METHODS)),
            C("applied_on", "申请日期", "date", nullable=False, max=TODAY),
            C("result", "审核结果", allowed_values=list(dv.CREDIT_RESULTS)),
            C("repaired_on", "修复日期", "date", max=TODAY)])


def _service_station_errands(b: _Build, rng) -> DemoDataset:
    street = next(o for o in b.district.organisations if o.kind == STREET)
    places, n = [p for _, p in b.villages(street)], 600
    pick = pa.array(rng.integers(0, len(places), n))
    village = pc.take(pa.array(places), pick)
    accepted = np.sort(dv.days(rng, n, b.today - 180 * DAY, b.today - DAY))
    state = np.where((np.datetime64(b.today) - accepted).astype(int) > 20,
                     np.where(rng.random(n) < 0.94, 2, 3),
                     rng.choice(4, n, p=dv.ERRAND_STATE_WEIGHTS))
    d = _Defects(pa.table({
        "代办编号": dv.numbered("DB", np.arange(1, n + 1), 6),
        "村居": village, "服务站": dv.join(village, "便民服务站"),
        "代办事项": dv.take(rng, dv.ERRANDS, n), "申请人": dv.names(rng, n),
        "身份证号": dv.id_cards(rng, n, (1935, 2010)), "联系电话": dv.mobiles(rng, n),
        "受理日期": dv.fmt(accepted, "%Y年%m月%d日"),
        "代办员": pc.take(dv.names(rng, len(places)), pick),
        "办理状态": pc.take(pa.array(dv.ERRAND_STATES), pa.array(state))}))
    d.plant("村居", dv.spots(rng, n, 3)[0], dv.MERGED_VILLAGES, "village:allowed_values",
            "村居 under a name from before the 村居 were merged")
    path = b.folder(street) / f"便民服务站代办台账_{b.today:%Y%m}.csv"
    _write_csv(path, d.table, encoding="gbk", crlf=True)
    return _finish(
        b, street, b.entry(street, ("便民服务中心办件",), ("台账", "信息", "记录", "办理信息")), d,
        name="service_station_errands", title="便民服务站代办台账",
        description=f"{street.name}各村(社区)便民服务站的代办事项台账 (GBK).", files=[path],
        rows=n, source={"url": str(path), "encoding": "gbk"}, key=["errand_no"], mode="upsert",
        columns=[
            C("errand_no", "代办编号"), C("village", "村居", nullable=False, allowed_values=places),
            C("station", "服务站"), C("errand", "代办事项", allowed_values=list(dv.ERRANDS)),
            C("applicant", "申请人", pii="姓名", nullable=False),
            C("id_card_no", "身份证号", pii="身份证号", format="身份证号"),
            C("mobile", "联系电话", pii="手机号", format="手机号"),
            C("accepted_on", "受理日期", "date", format="%Y年%m月%d日", nullable=False, max=TODAY),
            C("agent", "代办员", pii="姓名"),
            C("state", "办理状态", allowed_values=list(dv.ERRAND_STATES))])


def _settlements(b: _Build, rng) -> DemoDataset:
    org, per_month = b.org("医疗保障局"), b.rows(40_000, 100)
    institutions = b.shared["institutions"]  # valid codes: the 名录's typo is not repeated here
    weight = np.array([w for _, _, w in institutions], float)
    people = max(50, per_month)
    names, ids = dv.names(rng, people), dv.id_cards(rng, people, (1935, 2024))
    staff = rng.random(people) < 0.45
    this_month = b.today.year * 12 + b.today.month - 1
    months = [dt.date((this_month - k) // 12, (this_month - k) % 12 + 1, 1) for k in (3, 2, 1)]
    tables = []
    for start in months:
        end, n = (start + 32 * DAY).replace(day=1), per_month
        who = rng.integers(0, people, n)
        where = pa.array(rng.choice(len(institutions), n, p=weight / weight.sum()))
        visit = rng.choice(3, n, p=dv.VISIT_KIND_WEIGHTS)
        cost = np.array(dv.VISIT_LOG_COST)[visit]
        total = np.round(np.exp(rng.normal(cost[:, 0], cost[:, 1])) * 100).astype(np.int64)
        fund = np.round(total * (np.array(dv.VISIT_FUND_SHARE)[visit] + 0.1 * staff[who]))
        account = np.where(staff[who], np.round((total - fund) * rng.random(n)), 0)
        fund, account = fund.astype(np.int64), account.astype(np.int64)
        at = np.sort(np.datetime64(start, "s") + rng.integers(
            0, (end - start).days * 86_400, n).astype("timedelta64[s]"))
        tables.append(pa.table({
            "结算流水号": dv.numbered(f"JS{start:%Y%m}", np.arange(1, n + 1), 7),
            "定点机构代码": pc.take(pa.array([c for c, _, _ in institutions]), where),
            "定点机构名称": pc.take(pa.array([m for _, m, _ in institutions]), where),
            "参保人姓名": pc.take(names, pa.array(who)), "身份证号": pc.take(ids, pa.array(who)),
            "险种类型": np.array(dv.INSURANCE_KINDS)[np.where(staff[who], 0, 1)],
            "就诊类型": np.array(dv.VISIT_KINDS)[visit],
            "凭证类型": dv.take(rng, dv.CREDENTIALS, n, (0.7, 0.3)),
            "医疗总费用(元)": dv.money(total), "统筹基金支付(元)": dv.money(fund),
            "个人账户支付(元)": dv.money(account), "现金支付(元)": dv.money(total - fund - account),
            "结算时间": dv.fmt(at, STAMP)}))
    d, resent = _Defects(), min(30, per_month // 10)
    # The interface re-sent the first month's last rows at the top of the next month's file.
    tables[1] = pa.concat_tables([tables[0].slice(per_month - resent), tables[1]])
    d.add("settlement_no:unique", resent, "结算流水号 delivered twice (re-sent at a month's end)")
    files = [b.folder(org) / f"医保电子凭证结算_{start:%Y%m}.csv" for start in months]
    for path, table in zip(files, tables, strict=True):
        _write_csv(path, table, encoding="utf-8-sig")
    amount = {"nullable": False, "min": 0}
    return _finish(
        b, org, b.entry(org, ("医保结算",), ("记录", "信息", "办理信息", "台账")), d,
        name="medical_insurance_settlements", title="医保电子凭证结算记录",
        description="定点医疗机构医保结算明细, 每月一个文件 (UTF-8 with BOM).", files=files,
        rows=sum(t.num_rows for t in tables), key=["settlement_no"], mode="append",
        source={"url": str(files[0].parent / "医保电子凭证结算_*.csv"), "encoding": "utf-8-sig"},
        columns=[
            C("settlement_no", "结算流水号"),
            C("institution_code", "定点机构代码", format="统一社会信用代码", nullable=False),
            C("institution_name", "定点机构名称"), C("insured_name", "参保人姓名", pii="姓名"),
            C("id_card_no", "身份证号", pii="身份证号", format="身份证号", nullable=False),
            C("insurance_type", "险种类型", allowed_values=list(dv.INSURANCE_KINDS)),
            C("visit_type", "就诊类型", allowed_values=list(dv.VISIT_KINDS)),
            C("credential", "凭证类型", allowed_values=list(dv.CREDENTIALS)),
            *(C(name, source, "decimal(12,2)", **amount) for name, source in (
                ("total_cost", "医疗总费用(元)"), ("fund_paid", "统筹基金支付(元)"),
                ("account_paid", "个人账户支付(元)"), ("cash_paid", "现金支付(元)"))),
            C("settled_at", "结算时间", "timestamp", nullable=False, max=TODAY)])


BUILDERS = (_social_security_cards, _dibao, _medical_institutions, _enterprises, _penalties,
            _evaluations, _farm_sensors, _mobile_hall_items, _contactless_cases,
            _credit_repairs, _service_station_errands, _settlements)


def write_demo_datasets(root: Path, district: District, *, seed: int = 2024,
                        scale: float = 1.0) -> list[DemoDataset]:
    """Write every demo dataset's source files and spec under ``root`` (see the module doc).

    ``scale`` multiplies the big row counts (社保卡 1,000,000, 企业 50,000, 好差评 70,000, 低保
    8,000, 医保结算 3 × 40,000, sensor days 30); counts the summary fixes (142, 97, 153, 1,259)
    and the small registers stay as they are.
    """
    if scale <= 0:
        raise ValueError(f"scale must be positive, not {scale}")
    build = _Build(Path(root).resolve(), district, seed, scale)
    return [builder(build, dv.generator(seed, key)) for key, builder in enumerate(BUILDERS, 1)]


# --- next versions -----------------------------------------------------------------------
def _read_strings(path: Path) -> pa.Table:
    with path.open(encoding="utf-8") as handle:
        header = handle.readline().rstrip("\n").split(",")
    return pcsv.read_csv(path, convert_options=pcsv.ConvertOptions(
        column_types=dict.fromkeys(header, pa.string()), strings_can_be_null=True))


def _next_cards(ds: DemoDataset, rng) -> pa.Table:
    """A week on: cards in progress move one step on, new applications arrive."""
    table = _read_strings(ds.files[0])
    step = {"已受理": "制卡中", "制卡中": "待领取", "待领取": "已领卡"}
    status = [step.get(s, s) for s in table["状态"].to_pylist()]
    table = table.set_column(8, "状态", pa.array(status, pa.string()))
    last = max(int(k[2:]) for k in table["申领编号"].to_pylist())
    return pa.concat_tables([table, dv.card_rows(
        rng, max(10, ds.rows // 150), ds.today - 6 * DAY, ds.today, last + 1)])


def _next_enterprises(ds: DemoDataset, rng) -> pa.Table:
    """A month on: some firms 注销, some raise capital or change 法定代表人, new firms."""
    d = _Defects(_read_strings(ds.files[0]))
    n = d.table.num_rows
    closed, raised, person = dv.spots(rng, n, n // 100, n // 200, n // 300)
    closed = closed[np.isin(d.table["登记状态"].to_numpy().take(closed), ["存续", "在业"])]
    d.plant("登记状态", closed, ["注销"] * len(closed), None, "注销")
    d.plant("注册资本(万元)", raised, lambda old: dv.money(np.round(pc.cast(old, pa.float64(
        )).to_numpy() * 100).astype(np.int64) + rng.integers(1, 10, len(raised)) * 10_000),
        None, "增资 100-900 万元")
    person = person[pc.is_valid(d.table["法定代表人"].take(person)).to_numpy()]
    d.plant("法定代表人", person, dv.names(rng, len(person)), None, "变更法定代表人")
    new = dv.enterprise_rows(rng, max(5, n // 100), ds.today - 30 * DAY, ds.today - DAY)
    new = new.filter(pc.invert(pc.is_in(new["统一社会信用代码"],
                                        value_set=d.table["统一社会信用代码"].combine_chunks())))
    return pa.concat_tables([d.table, new.cast(d.table.schema)])


NEXT_VERSIONS = {"social_security_card_applications": _next_cards,
                 "enterprise_registrations": _next_enterprises}


def write_next_version(ds: DemoDataset, seed: int) -> None:
    """Rewrite ``ds``'s file as the department's next delivery: rows changed and rows added.

    Only datasets in NEXT_VERSIONS have one. Planted defects stay as they were (no valid row
    gains a defect, no defect is repaired); ``ds.rows`` and ``ds.version`` are updated.
    """
    if ds.name not in NEXT_VERSIONS:
        raise ValueError(f"no next version for {ds.name}: expected one of {', '.join(NEXT_VERSIONS)}")
    table = NEXT_VERSIONS[ds.name](ds, dv.generator(seed, 1000 + ds.version))
    _write_csv(ds.files[0], table)
    ds.rows, ds.version = table.num_rows, ds.version + 1
