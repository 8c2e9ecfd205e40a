"""非接触式执法案件 of the 城市管理局: 1,259 cases in a CSV."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from catalog.demo import vocabulary as vocab
from catalog.demo.datasets import values as dv
from catalog.demo.datasets.build import DAY, TODAY, Build, DemoDataset
from catalog.demo.datasets.defects import Defects
from catalog.demo.datasets.files import write_csv
from catalog.demo.datasets.specs import C, finish


def contactless_cases(b: Build, rng) -> DemoDataset:
    org, n = b.org("城市管理局"), 1259
    accepted = np.sort(dv.days(rng, n, b.today - 364 * DAY, b.today - DAY))
    counter: dict[int, int] = {}  # cases per year, numbering the 案件编号
    numbers = []
    for year in dv.ymd(accepted)[0].tolist():
        counter[year] = counter.get(year, 0) + 1
        numbers.append(f"CGFX{year}{counter[year]:05d}")
    action = rng.choice(len(dv.CASE_ACTIONS), n, p=dv.CASE_ACTION_WEIGHTS)
    fine = (
        np.select(
            [action == 1, action == 2],
            [rng.choice([50, 100, 200], n), rng.integers(5, 200, n) * 100],
            -1,
        )
        * 100
    )
    closed = accepted + rng.integers(0, 15, n).astype("timedelta64[D]")
    done = (closed < np.datetime64(b.today)) & (rng.random(n) < 0.97) | (
        (np.datetime64(b.today) - accepted).astype(int) > 60
    )
    shops = dv.join(
        dv.take(rng, dv.TRADE_CHARS, n),
        dv.take(rng, dv.TRADE_CHARS, n),
        dv.take(rng, dv.SHOP_KINDS, n),
    )
    none = pa.nulls(n, pa.string())
    d = Defects(
        pa.table(
            {
                "案件编号": numbers,
                "案件来源": dv.take(rng, dv.CASE_SOURCES, n, dv.CASE_SOURCE_WEIGHTS),
                "违法类型": dv.take(rng, dv.CASE_KINDS, n),
                "当事人": pc.if_else(pa.array(rng.random(n) < 0.6), dv.names(rng, n), shops),
                "联系电话": pc.if_else(pa.array(rng.random(n) < 0.7), dv.mobiles(rng, n), none),
                "违法地点": dv.addresses(
                    rng, n, [s for s, _ in vocab.STREETS if s.endswith("街道")]
                ),
                "受理日期": dv.fmt(accepted),
                "处理方式": pc.take(pa.array(dv.CASE_ACTIONS), pa.array(action)),
                "罚款金额(元)": pc.if_else(pa.array(fine >= 0), dv.money(fine), none),
                "办理状态": np.where(done, "已办结", "办理中"),
                "办结日期": pc.if_else(pa.array(done), dv.fmt(closed), none),
            }
        )
    )
    d.plant(
        "案件来源", dv.spots(rng, n, 5)[0], [None] * 5, "case_source:nullable", "empty 案件来源"
    )
    path = b.folder(org) / f"非接触式执法案件_{b.today:%Y%m%d}.csv"
    write_csv(path, d.table)
    return finish(
        b,
        org,
        b.entry(org, ("数字城管案件",), ("信息", "记录", "办理信息", "台账")),
        d,
        name="contactless_enforcement_cases",
        title="非接触式执法案件",
        description="视频抓拍、数字城管和热线等“非接触式”受理的城市管理执法案件 1259 件.",
        files=[path],
        rows=n,
        source={"url": str(path)},
        key=["case_no"],
        mode="upsert",
        columns=[
            C("case_no", "案件编号"),
            C("case_source", "案件来源", nullable=False, allowed_values=list(dv.CASE_SOURCES)),
            C("violation_type", "违法类型", allowed_values=list(dv.CASE_KINDS)),
            C("party", "当事人", pii="姓名"),
            C("mobile", "联系电话", pii="手机号", format="手机号"),
            C("location", "违法地点"),
            C("accepted_on", "受理日期", "date", nullable=False, max=TODAY),
            C("action", "处理方式", allowed_values=list(dv.CASE_ACTIONS)),
            C("fine_yuan", "罚款金额(元)", "decimal(10,2)", min=0, max=200_000),
            C("state", "办理状态", allowed_values=list(dv.CASE_STATES)),
            C("closed_on", "办结日期", "date", max=TODAY),
        ],
    )
