"""城乡低保对象名单 of the 民政局: a GB18030 CSV with a title row, CRLF and 生僻字."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from catalog.demo import vocabulary as vocab
from catalog.demo.datasets import values as dv
from catalog.demo.datasets.build import TODAY, Build, DemoDataset
from catalog.demo.datasets.defects import Defects
from catalog.demo.datasets.files import write_csv
from catalog.demo.datasets.specs import C, finish


def dibao(b: Build, rng) -> DemoDataset:
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
    d = Defects(
        pa.table(
            {
                "序号": np.arange(1, n + 1),
                "所属街道": street,
                "所属村居": place,
                "户主姓名": dv.names(rng, n),
                "身份证号": ids,
                "性别": np.where(sex == 1, "男", "女"),
                "家庭人口": size,
                "保障类别": np.array(dv.DIBAO_KINDS)[rural],
                "保障金额(元)": dv.money((yuan * 100).astype(np.int64)),
                "认定日期": dv.fmt(
                    dv.days(rng, n, dt.date(2012, 1, 1), b.today, power=0.7), "%Y/%m/%d"
                ),
                "联系电话": pc.if_else(
                    pa.array(rng.random(n) < 0.94), dv.mobiles(rng, n), pa.nulls(n, pa.string())
                ),
                "家庭住址": dv.join(
                    vocab.DISTRICT, street, place, dv.text(rng.integers(1, 120, n)), "号"
                ),
            }
        )
    )
    bad, low, high, rare = dv.spots(rng, n, max(1, round(n * 0.001)), 3, 3, 2)
    d.plant(
        "身份证号",
        bad,
        lambda old: dv.bad_checks(rng, old.to_pylist(), "0123456789X"),
        "id_card_no:format",
        "身份证号 with a wrong check digit (~0.1%)",
    )
    d.plant(
        "保障金额(元)",
        low,
        lambda old: dv.join("-", old),
        "monthly_allowance:min",
        "negative 保障金额(元) (deductions typed as amounts)",
    )
    d.plant(
        "保障金额(元)",
        high,
        lambda old: pc.replace_substring(old, ".", "00."),
        "monthly_allowance:max",
        "保障金额(元) 100 times too high (decimal point lost)",
    )
    d.plant(
        "户主姓名",
        rare,
        lambda old: [s[:-1] + c for s, c in zip(old.to_pylist(), dv.RARE_NAME_CHARS, strict=True)],
        None,
        "户主姓名 with 生僻字 outside GBK (䶮, 㛃): the file is GB18030 there, as real exports are",
    )
    path = b.folder(org) / f"城乡低保对象名单_{b.today:%Y%m}.csv"
    write_csv(
        path,
        d.table,
        encoding="gb18030",
        crlf=True,
        title=f"{vocab.DISTRICT}城乡低保对象名单（{b.today.year}年{b.today.month}月）",
    )
    return finish(
        b,
        org,
        b.entry(org, ("城乡低保对象",), ("名单", "花名册", "基本信息", "信息")),
        d,
        name="dibao_recipients",
        title="城乡低保对象名单",
        description="民政局每月汇总的城乡最低生活保障对象, 一户一行 (GBK, 首行为表题).",
        files=[path],
        rows=n,
        source={"url": str(path), "encoding": "gbk", "header_row": 2},
        key=["id_card_no"],
        mode="replace",
        columns=[
            C("serial_no", "序号", "integer"),
            C("street", "所属街道", nullable=False, allowed_values=[s for s, _ in vocab.STREETS]),
            C("village", "所属村居", nullable=False),
            C("householder_name", "户主姓名", pii="姓名", nullable=False),
            C("id_card_no", "身份证号", pii="身份证号", format="身份证号"),
            C("gender", "性别", allowed_values=["男", "女"]),
            C("household_size", "家庭人口", "integer", min=1, max=10),
            C("category", "保障类别", nullable=False, allowed_values=list(dv.DIBAO_KINDS)),
            C(
                "monthly_allowance",
                "保障金额(元)",
                "decimal(10,2)",
                nullable=False,
                min=0,
                max=6000,
            ),
            C("approved_on", "认定日期", "date", format="%Y/%m/%d", max=TODAY),
            C("mobile", "联系电话", pii="手机号", format="手机号"),
            C("address", "家庭住址", pii="地址"),
        ],
    )
