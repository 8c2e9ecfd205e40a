"""社保卡申领信息 of the 人社局: a million applications in one UTF-8 CSV."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow.compute as pc

from catalog.demo.datasets import values as dv
from catalog.demo.datasets.build import DAY, TODAY, Build, DemoDataset
from catalog.demo.datasets.defects import Defects
from catalog.demo.datasets.files import write_csv
from catalog.demo.datasets.specs import C, finish


def social_security_cards(b: Build, rng) -> DemoDataset:
    org, n = b.org("人社局"), b.rows(1_000_000, 1000)
    d = Defects(dv.card_rows(rng, n, b.today - 3 * 365 * DAY, b.today, 1))
    source, copy, short, future = dv.spots(rng, n, 20, 20, 50, 12)
    d.plant(
        "申领编号",
        copy,
        d.table["申领编号"].take(source),
        "application_no:unique",
        "rows repeat an earlier 申领编号 (re-submitted applications)",
    )
    d.plant(
        "手机号",
        short,
        lambda old: pc.utf8_slice_codeunits(old, 0, 10),
        "mobile:format",
        "手机号 with 10 digits (last digit lost)",
    )
    later = np.datetime64(b.today) + rng.integers(1, 400, len(future)).astype("timedelta64[D]")
    d.plant("申领日期", future, dv.fmt(later), "applied_on:max", "申领日期 after today")
    path = b.folder(org) / f"社保卡申领_{b.today:%Y%m%d}.csv"
    write_csv(path, d.table)
    return finish(
        b,
        org,
        b.entry(org, ("社保卡申领",), ("信息", "办理信息", "受理登记", "台账")),
        d,
        name="social_security_card_applications",
        title="社保卡申领信息",
        description="社保卡首次申领、补换卡和临时挂失, 经窗口、掌上大厅和银行网点办理.",
        files=[path],
        rows=n,
        source={"url": str(path)},
        key=["application_no"],
        mode="upsert",
        columns=[
            C("application_no", "申领编号"),
            C("person_name", "姓名", pii="姓名", nullable=False),
            C("id_card_no", "身份证号", pii="身份证号", format="身份证号", nullable=False),
            C("mobile", "手机号", pii="手机号", format="手机号"),
            C("applied_on", "申领日期", "date", nullable=False, min=dt.date(2000, 1, 1), max=TODAY),
            C("business_type", "业务类型", allowed_values=list(dv.CARD_KINDS)),
            C("channel", "申领渠道", allowed_values=list(dv.CARD_CHANNELS), nullable=False),
            C("outlet", "办理网点"),
            C("status", "状态", allowed_values=list(dv.CARD_STATES), nullable=False),
        ],
    )
