"""医疗机构名录 of the 卫健委 (Excel) and the 医疗保障局's 医保结算 (a glob of monthly CSVs),
which settles at the 名录's institutions."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from catalog.demo import vocabulary as vocab
from catalog.demo.datasets import values as dv
from catalog.demo.datasets.build import DAY, STAMP, TODAY, Build, DemoDataset
from catalog.demo.datasets.defects import Defects
from catalog.demo.datasets.files import write_csv, write_xlsx
from catalog.demo.datasets.specs import C, finish, row_count_check


def medical_institutions(b: Build, rng) -> DemoDataset:
    org, streets = b.org("卫健委"), [s for s, _ in vocab.STREETS]
    urban = [s for s in streets if s.endswith("街道")]
    rows = [
        (name, kind, beds, "12", urban[rng.integers(len(urban))])
        for name, kind, beds in dv.HOSPITALS
    ]
    rows += [
        (f"示范区{s}社区卫生服务中心", "社区卫生服务中心", int(rng.integers(0, 60)), "12", s)
        if s in urban
        else (f"示范区{s}卫生院", "乡镇卫生院", int(rng.integers(20, 100)), "12", s)
        for s in streets
    ]
    rural = [v for v in b.villages() if v[1].endswith("村")]
    for i in sorted(rng.choice(len(rural), min(len(rural), 80), replace=False)):
        rows.append((f"示范区{rural[i][0]}{rural[i][1]}卫生室", "村卫生室", 0, "52", rural[i][0]))
    while len(rows) < 142:
        s, word = (
            urban[rng.integers(len(urban))],
            dv.CLINIC_WORDS[rng.integers(len(dv.CLINIC_WORDS))],
        )
        kind = "诊所" if rng.random() < 0.6 else "门诊部"
        if f"示范区{s[:2]}{word}{kind}" not in {r[0] for r in rows}:
            rows.append(
                (
                    f"示范区{s[:2]}{word}{kind}",
                    kind,
                    0 if kind == "诊所" else int(rng.integers(0, 20)),
                    "92" if kind == "诊所" else "52",
                    s,
                )
            )
    codes = [""] * len(rows)
    for registration in ("12", "52", "92"):  # 事业单位, 民办非企业单位, 个体工商户
        at = [i for i, r in enumerate(rows) if r[3] == registration]
        for i, code in zip(at, dv.usccs(rng, len(at), registration).to_pylist(), strict=True):
            codes[i] = code
    b.shared["institutions"] = [(codes[i], r[0], r[2] + 5) for i, r in enumerate(rows)]
    streets_of = pa.array([r[4] for r in rows])
    d = Defects(
        pa.table(
            {
                "序号": np.arange(1, 143),
                "统一社会信用代码": codes,
                "机构名称": [r[0] for r in rows],
                "机构类别": [r[1] for r in rows],
                "床位数": [r[2] for r in rows],
                "地址": dv.join(
                    vocab.DISTRICT,
                    streets_of,
                    dv.take(rng, dv.ROADS, 142),
                    dv.text(rng.integers(1, 300, 142)),
                    "号",
                ),
                "联系电话": dv.numbered("0516-8", rng.integers(0, 10**7, 142), 7),
                "是否接入医保电子凭证": ["是"] * 142,
            }
        )
    )
    beds, code = dv.spots(rng, 142, 2, 1)
    d.plant("床位数", beds, -rng.integers(1, 60, 2), "beds:min", "negative 床位数")
    d.plant(
        "统一社会信用代码",
        code,
        lambda old: dv.bad_checks(rng, old.to_pylist(), dv.USCC_ALPHABET),
        "uscc:format",
        "统一社会信用代码 with a wrong check character",
    )
    path = b.folder(org) / "医疗机构名录.xlsx"
    write_xlsx(
        path,
        "医疗机构",
        d.table.column_names,
        [list(r.values()) for r in d.table.to_pylist()],
        b.today,
        title=f"示范区医疗机构名录（截至{b.today.year}年{b.today.month}月{b.today.day}日）",
    )
    return finish(
        b,
        org,
        b.entry(org, ("医疗机构",), ("名录", "基本信息", "登记信息", "信息")),
        d,
        name="medical_institutions",
        title="医疗机构名录",
        description="全区 142 家医疗机构及其接入医保电子凭证结算系统的情况.",
        files=[path],
        rows=142,
        source={"url": str(path), "sheet": "医疗机构", "header_row": 2},
        key=["uscc"],
        mode="replace",
        checks=[row_count_check(142)],
        columns=[
            C("serial_no", "序号", "integer"),
            C("uscc", "统一社会信用代码", format="统一社会信用代码"),
            C("institution_name", "机构名称", nullable=False, unique=True),
            C("category", "机构类别", nullable=False, allowed_values=list(dv.MEDICAL_KINDS)),
            C("beds", "床位数", "integer", min=0, max=3000),
            C("address", "地址"),
            C("phone", "联系电话"),
            C("e_voucher", "是否接入医保电子凭证", allowed_values=["是", "否"]),
        ],
    )


def settlements(b: Build, rng) -> DemoDataset:
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
        at = np.sort(
            np.datetime64(start, "s")
            + rng.integers(0, (end - start).days * 86_400, n).astype("timedelta64[s]")
        )
        tables.append(
            pa.table(
                {
                    "结算流水号": dv.numbered(f"JS{start:%Y%m}", np.arange(1, n + 1), 7),
                    "定点机构代码": pc.take(pa.array([c for c, _, _ in institutions]), where),
                    "定点机构名称": pc.take(pa.array([m for _, m, _ in institutions]), where),
                    "参保人姓名": pc.take(names, pa.array(who)),
                    "身份证号": pc.take(ids, pa.array(who)),
                    "险种类型": np.array(dv.INSURANCE_KINDS)[np.where(staff[who], 0, 1)],
                    "就诊类型": np.array(dv.VISIT_KINDS)[visit],
                    "凭证类型": dv.take(rng, dv.CREDENTIALS, n, (0.7, 0.3)),
                    "医疗总费用(元)": dv.money(total),
                    "统筹基金支付(元)": dv.money(fund),
                    "个人账户支付(元)": dv.money(account),
                    "现金支付(元)": dv.money(total - fund - account),
                    "结算时间": dv.fmt(at, STAMP),
                }
            )
        )
    d, resent = Defects(), min(30, per_month // 10)
    # The interface re-sent the first month's last rows at the top of the next month's file.
    tables[1] = pa.concat_tables([tables[0].slice(per_month - resent), tables[1]])
    d.add("settlement_no:unique", resent, "结算流水号 delivered twice (re-sent at a month's end)")
    files = [b.folder(org) / f"医保电子凭证结算_{start:%Y%m}.csv" for start in months]
    for path, table in zip(files, tables, strict=True):
        write_csv(path, table, encoding="utf-8-sig")
    amount = {"nullable": False, "min": 0}
    return finish(
        b,
        org,
        b.entry(org, ("医保结算",), ("记录", "信息", "办理信息", "台账")),
        d,
        name="medical_insurance_settlements",
        title="医保电子凭证结算记录",
        description="定点医疗机构医保结算明细, 每月一个文件 (UTF-8 with BOM).",
        files=files,
        rows=sum(t.num_rows for t in tables),
        key=["settlement_no"],
        mode="append",
        source={"url": str(files[0].parent / "医保电子凭证结算_*.csv"), "encoding": "utf-8-sig"},
        columns=[
            C("settlement_no", "结算流水号"),
            C("institution_code", "定点机构代码", format="统一社会信用代码", nullable=False),
            C("institution_name", "定点机构名称"),
            C("insured_name", "参保人姓名", pii="姓名"),
            C("id_card_no", "身份证号", pii="身份证号", format="身份证号", nullable=False),
            C("insurance_type", "险种类型", allowed_values=list(dv.INSURANCE_KINDS)),
            C("visit_type", "就诊类型", allowed_values=list(dv.VISIT_KINDS)),
            C("credential", "凭证类型", allowed_values=list(dv.CREDENTIALS)),
            *(
                C(name, source, "decimal(12,2)", **amount)
                for name, source in (
                    ("total_cost", "医疗总费用(元)"),
                    ("fund_paid", "统筹基金支付(元)"),
                    ("account_paid", "个人账户支付(元)"),
                    ("cash_paid", "现金支付(元)"),
                )
            ),
            C("settled_at", "结算时间", "timestamp", nullable=False, max=TODAY),
        ],
    )
