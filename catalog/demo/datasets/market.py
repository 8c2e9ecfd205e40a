"""Market regulation and credit: 企业登记信息 and 行政处罚决定书 of the 市场监管局 (CSV, JSON),
then the 发改委's 信用修复记录 of the punished firms."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pyarrow as pa

from catalog.demo.datasets import values as dv
from catalog.demo.datasets.build import DAY, TODAY, Build, DemoDataset
from catalog.demo.datasets.defects import Defects
from catalog.demo.datasets.files import write_csv
from catalog.demo.datasets.specs import C, finish, row_count_check


def enterprises(b: Build, rng) -> DemoDataset:
    org, n = b.org("市场监管局"), b.rows(50_000, 500)
    d = Defects(dv.enterprise_rows(rng, n, dt.date(1995, 1, 1), b.today - DAY))
    bad, missing = dv.spots(rng, n, 25, 12)
    d.plant(
        "统一社会信用代码",
        bad,
        lambda old: dv.bad_checks(rng, old.to_pylist(), dv.USCC_ALPHABET),
        "uscc:format",
        "统一社会信用代码 with a wrong check character (typed by hand)",
    )
    d.plant("法定代表人", missing, [None] * 12, "legal_representative:nullable", "empty 法定代表人")
    alive = np.isin(d.table["登记状态"].to_numpy(), ["存续", "在业"])
    alive[np.concatenate([bad, missing])] = False
    b.shared["companies"] = [
        tuple(r.values())
        for r in d.table.filter(alive)
        .select(["统一社会信用代码", "企业名称", "法定代表人"])
        .to_pylist()
    ]
    path = b.folder(org) / f"企业登记信息_{b.today:%Y%m%d}.csv"
    write_csv(path, d.table)
    return finish(
        b,
        org,
        b.entry(org, ("企业",), ("登记信息", "基本信息", "名录", "信息")),
        d,
        name="enterprise_registrations",
        title="企业登记信息",
        description="辖区企业的登记注册信息, 含存续、吊销、注销和迁出企业.",
        files=[path],
        rows=n,
        source={"url": str(path)},
        key=["uscc"],
        mode="upsert",
        columns=[
            C("uscc", "统一社会信用代码", format="统一社会信用代码"),
            C("company_name", "企业名称", nullable=False),
            C("company_type", "企业类型", allowed_values=sorted({t for _, t in dv.COMPANY_FORMS})),
            C("legal_representative", "法定代表人", pii="姓名", nullable=False),
            C("registered_capital", "注册资本(万元)", "decimal(16,2)", min=0),
            C("established_on", "成立日期", "date", nullable=False, max=TODAY),
            C("status", "登记状态", nullable=False, allowed_values=list(dv.REGISTRATION_STATES)),
            C("address", "住所"),
            C("authority", "登记机关"),
        ],
    )


def penalties(b: Build, rng) -> DemoDataset:
    org, n, companies = b.org("市场监管局"), 97, b.shared["companies"]
    decided = sorted(dv.days(rng, n, b.today - 364 * DAY, b.today - 3 * DAY).tolist())
    parties = [companies[i] for i in rng.choice(len(companies), n, replace=False)]
    share = rng.lognormal(0, 1.1, n)  # in 百元, at least 500 元 each, 969.1 万元 in all
    share = share / share.sum() * (96_910 - 5 * n)
    units = np.floor(share).astype(int) + 5
    units[np.argsort(np.floor(share) - share)[: 96_910 - units.sum()]] += 1
    records = []
    counter: dict[int, int] = {}  # decisions per year, numbering the 决定书文号
    for day, (code, party, person), amount in zip(decided, parties, units.tolist(), strict=True):
        counter[day.year] = counter.get(day.year, 0) + 1
        kind = int(rng.integers(len(dv.MARKET_VIOLATIONS)))
        records.append(
            {
                "决定书文号": f"示市监处罚〔{day.year}〕{counter[day.year]}号",
                "当事人": party,
                "统一社会信用代码": code,
                "法定代表人": person,
                "违法行为": dv.MARKET_VIOLATIONS[kind],
                "处罚依据": dv.PENALTY_LAWS[kind % len(dv.PENALTY_LAWS)],
                "处罚内容": "没收违法所得并处罚款" if rng.random() < 0.3 else "罚款",
                "处罚金额(万元)": amount / 100,
                "决定日期": day.isoformat(),
                "作出机关": "示范区市场监督管理局",
            }
        )
    b.shared["penalties"] = records
    path = b.folder(org) / f"行政处罚决定书_{b.today.year}.json"
    path.write_text(json.dumps(records, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    total = {
        "expectation": "expect_column_sum_to_be_between",
        "column": "fine_amount",
        "min_value": 969.1,
        "max_value": 969.1,
        "severity": "warning",
    }
    return finish(
        b,
        org,
        b.entry(org, ("行政处罚决定书",), ("", "公示信息", "目录", "台账")),
        Defects(),
        name="penalty_decisions",
        title="行政处罚决定书",
        description="市场监管领域行政处罚决定书 97 份, 罚款金额合计 969.1 万元.",
        files=[path],
        rows=n,
        source={"url": str(path)},
        key=["decision_no"],
        mode="upsert",
        checks=[row_count_check(97), total],
        columns=[
            C("decision_no", "决定书文号"),
            C("party", "当事人", nullable=False),
            C("uscc", "统一社会信用代码", format="统一社会信用代码", nullable=False),
            C("legal_representative", "法定代表人", pii="姓名"),
            C("violation", "违法行为", nullable=False),
            C("legal_basis", "处罚依据"),
            C("penalty", "处罚内容"),
            C("fine_amount", "处罚金额(万元)", "decimal(12,2)", nullable=False, min=0),
            C("decided_on", "决定日期", "date", nullable=False, max=TODAY),
            C("authority", "作出机关"),
        ],
    )


def credit_repairs(b: Build, rng) -> DemoDataset:
    org, n, companies = b.org("发改委"), 360, b.shared["companies"]
    rows = []  # (applied, name, uscc, category, decision no.)
    for p in b.shared["penalties"]:  # 行政处罚信息 can be repaired after 3 months' publicity
        applied = dt.date.fromisoformat(p["决定日期"]) + int(rng.integers(90, 300)) * DAY
        if applied < b.today and rng.random() < 0.6:
            rows.append(
                (applied, p["当事人"], p["统一社会信用代码"], "行政处罚信息", p["决定书文号"])
            )
    for i in rng.choice(len(companies), min(len(companies), n - len(rows)), replace=False):
        rows.append(
            (
                b.today - int(rng.integers(1, 730)) * DAY,
                companies[i][1],
                companies[i][0],
                dv.CREDIT_CATEGORIES[1 + int(rng.random() < 0.15)],
                None,
            )
        )
    table = []
    counter: dict[int, int] = {}  # applications per year, numbering the 申请编号
    for applied, name, code, category, decision in sorted(rows, key=lambda r: (r[0], r[2])):
        counter[applied.year] = counter.get(applied.year, 0) + 1
        result = (
            "审核中"
            if (b.today - applied).days < 15
            else "同意修复"
            if rng.random() < 0.88
            else "不予修复"
        )
        repaired = applied + int(rng.integers(3, 15)) * DAY
        table.append(
            {
                "申请编号": f"XYXF{applied.year}{counter[applied.year]:04d}",
                "主体名称": name,
                "统一社会信用代码": code,
                "失信信息类别": category,
                "原决定书文号": decision,
                "修复方式": dv.CREDIT_METHODS[int(rng.choice(3, p=[0.6, 0.3, 0.1]))],
                "申请日期": applied.isoformat(),
                "审核结果": result,
                "修复日期": repaired.isoformat() if result == "同意修复" else None,
            }
        )
    path = b.folder(org) / f"信用修复记录_{b.today:%Y%m%d}.csv"
    write_csv(path, pa.Table.from_pylist(table))
    return finish(
        b,
        org,
        b.entry(org, ("信用修复", "失信联合惩戒对象"), ("信息", "记录", "名录", "台账")),
        Defects(),
        name="credit_repair_records",
        title="信用修复记录",
        description="市场主体信用修复申请与审核结果; 行政处罚信息公示满 3 个月后可申请修复.",
        files=[path],
        rows=len(table),
        source={"url": str(path)},
        key=["application_no"],
        mode="upsert",
        columns=[
            C("application_no", "申请编号"),
            C("subject_name", "主体名称", nullable=False),
            C("uscc", "统一社会信用代码", format="统一社会信用代码", nullable=False),
            C("category", "失信信息类别", allowed_values=list(dv.CREDIT_CATEGORIES)),
            C("decision_no", "原决定书文号"),
            C("method", "修复方式", allowed_values=list(dv.CREDIT_METHODS)),
            C("applied_on", "申请日期", "date", nullable=False, max=TODAY),
            C("result", "审核结果", allowed_values=list(dv.CREDIT_RESULTS)),
            C("repaired_on", "修复日期", "date", max=TODAY),
        ],
    )
