"""政务服务: 好差评 (NDJSON), the 掌上大厅's 高频事项 (Excel) and a street's 便民服务站代办台账
(GBK CSV)."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from catalog.demo.datasets import values as dv
from catalog.demo.datasets.build import DAY, STAMP, TODAY, Build, DemoDataset
from catalog.demo.datasets.defects import Defects
from catalog.demo.datasets.files import write_csv, write_xlsx
from catalog.demo.datasets.specs import C, finish, row_count_check
from catalog.demo.district import STREET


def evaluations(b: Build, rng) -> DemoDataset:
    org, n, items = b.org("信息管理局"), b.rows(70_000, 200), dv.service_items()
    pick = pa.array(rng.choice(len(items), n, p=dv.zipf(len(items))[rng.permutation(len(items))]))
    day = np.sort(dv.days(rng, n, b.today - 365 * DAY, b.today - DAY, power=0.9))
    at = day.astype("datetime64[s]") + rng.integers(7 * 3600, 22 * 3600, n).astype("timedelta64[s]")
    d = Defects(
        pa.table(
            {
                "评价编号": dv.numbered("PJ", np.arange(1, n + 1), 8),
                "事项名称": pc.take(pa.array([i[2] for i in items]), pick),
                "实施部门": pc.take(pa.array([i[0] for i in items]), pick),
                "评价渠道": dv.take(rng, dv.EVALUATION_CHANNELS, n, dv.EVALUATION_CHANNEL_WEIGHTS),
                "评价等级": dv.take(rng, dv.RATINGS, n, dv.RATING_WEIGHTS),
                "评价内容": pc.if_else(
                    pa.array(rng.random(n) < 0.35),
                    dv.take(rng, dv.COMMENTS, n),
                    pa.nulls(n, pa.string()),
                ),
                "评价时间": dv.fmt(at, STAMP),
            }
        )
    )
    d.plant(
        "评价等级",
        dv.spots(rng, n, 7)[0],
        [dv.UNKNOWN_RATING] * 7,
        "rating:allowed_values",
        f"评价等级 '{dv.UNKNOWN_RATING}' (not one of the five 好差评 levels)",
    )
    path = b.folder(org) / f"政务服务好差评_{b.today:%Y%m%d}.ndjson"
    path.write_text(
        "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in d.table.to_pylist()),
        encoding="utf-8",
    )
    return finish(
        b,
        org,
        b.entry(org, ("政务服务好差评",), ("信息", "记录", "办理信息", "台账")),
        d,
        name="service_evaluations",
        title="政务服务好差评",
        description="政务服务“好差评”评价记录, 一次评价一行 (NDJSON).",
        files=[path],
        rows=n,
        source={"url": str(path)},
        key=["evaluation_no"],
        mode="append",
        columns=[
            C("evaluation_no", "评价编号"),
            C("item_name", "事项名称", nullable=False),
            C("department", "实施部门"),
            C("channel", "评价渠道", allowed_values=list(dv.EVALUATION_CHANNELS)),
            C("rating", "评价等级", nullable=False, allowed_values=list(dv.RATINGS)),
            C("comment", "评价内容"),
            C("evaluated_at", "评价时间", "timestamp", nullable=False, max=TODAY),
        ],
    )


def mobile_hall_items(b: Build, rng) -> DemoDataset:
    org, items = b.org("信息管理局"), dv.service_items()
    kinds = {
        "行政许可": "XK",
        "行政确认": "QR",
        "行政给付": "JF",
        "公共服务": "GG",
        "其他行政权力": "QT",
    }
    no_scan = set(rng.choice(len(items), len(items) - 138, replace=False).tolist())  # 138 扫码亮证
    online = dv.days(rng, len(items), dt.date(2021, 3, 1), b.today - 30 * DAY).tolist()
    rows = [
        [
            k + 1,
            f"{dv.REGION}{kinds[kind]}{k + 1:04d}",
            name,
            dept,
            kind,
            0 if kind == "公共服务" and rng.random() < 0.5 else int(rng.integers(1, 21)),
            "是" if "一件事" in name else "否",
            "否" if k in no_scan else "是",
            online[k],
        ]
        for k, (dept, kind, name) in enumerate(items)
    ]
    path = b.folder(org) / "掌上大厅高频事项清单.xlsx"
    write_xlsx(
        path,
        "高频事项",
        [
            "序号",
            "事项编码",
            "事项名称",
            "实施部门",
            "事项类型",
            "承诺时限(工作日)",
            "是否一件事一次办",
            "是否支持扫码亮证",
            "上线日期",
        ],
        rows,
        b.today,
    )
    return finish(
        b,
        org,
        b.entry(org, ("掌上大厅事项",), ("台账", "信息", "记录", "办理信息")),
        Defects(),
        name="mobile_hall_items",
        title="掌上大厅高频事项清单",
        description="掌上大厅 4.0 版 153 项“指尖办”高频事项, 含 15 项“一件事一次办”.",
        files=[path],
        rows=len(rows),
        source={"url": str(path), "sheet": "高频事项"},
        key=["item_code"],
        mode="replace",
        checks=[row_count_check(153)],
        columns=[
            C("serial_no", "序号", "integer"),
            C("item_code", "事项编码"),
            C("item_name", "事项名称", nullable=False, unique=True),
            C(
                "department",
                "实施部门",
                nullable=False,
                allowed_values=sorted({dept for dept, _, _ in items}),
            ),
            C("item_type", "事项类型", allowed_values=list(kinds)),
            C("promised_days", "承诺时限(工作日)", "integer", min=0, max=60),
            C("one_thing", "是否一件事一次办", allowed_values=["是", "否"]),
            C("scan_to_show", "是否支持扫码亮证", allowed_values=["是", "否"]),
            C("online_on", "上线日期", "date", max=TODAY),
        ],
    )


def service_station_errands(b: Build, rng) -> DemoDataset:
    street = next(o for o in b.district.organisations if o.kind == STREET)
    places, n = [p for _, p in b.villages(street)], 600
    pick = pa.array(rng.integers(0, len(places), n))
    village = pc.take(pa.array(places), pick)
    accepted = np.sort(dv.days(rng, n, b.today - 180 * DAY, b.today - DAY))
    state = np.where(
        (np.datetime64(b.today) - accepted).astype(int) > 20,
        np.where(rng.random(n) < 0.94, 2, 3),
        rng.choice(4, n, p=dv.ERRAND_STATE_WEIGHTS),
    )
    d = Defects(
        pa.table(
            {
                "代办编号": dv.numbered("DB", np.arange(1, n + 1), 6),
                "村居": village,
                "服务站": dv.join(village, "便民服务站"),
                "代办事项": dv.take(rng, dv.ERRANDS, n),
                "申请人": dv.names(rng, n),
                "身份证号": dv.id_cards(rng, n, (1935, 2010)),
                "联系电话": dv.mobiles(rng, n),
                "受理日期": dv.fmt(accepted, "%Y年%m月%d日"),
                "代办员": pc.take(dv.names(rng, len(places)), pick),
                "办理状态": pc.take(pa.array(dv.ERRAND_STATES), pa.array(state)),
            }
        )
    )
    d.plant(
        "村居",
        dv.spots(rng, n, 3)[0],
        dv.MERGED_VILLAGES,
        "village:allowed_values",
        "村居 under a name from before the 村居 were merged",
    )
    path = b.folder(street) / f"便民服务站代办台账_{b.today:%Y%m}.csv"
    write_csv(path, d.table, encoding="gbk", crlf=True)
    return finish(
        b,
        street,
        b.entry(street, ("便民服务中心办件",), ("台账", "信息", "记录", "办理信息")),
        d,
        name="service_station_errands",
        title="便民服务站代办台账",
        description=f"{street.name}各村(社区)便民服务站的代办事项台账 (GBK).",
        files=[path],
        rows=n,
        source={"url": str(path), "encoding": "gbk"},
        key=["errand_no"],
        mode="upsert",
        columns=[
            C("errand_no", "代办编号"),
            C("village", "村居", nullable=False, allowed_values=places),
            C("station", "服务站"),
            C("errand", "代办事项", allowed_values=list(dv.ERRANDS)),
            C("applicant", "申请人", pii="姓名", nullable=False),
            C("id_card_no", "身份证号", pii="身份证号", format="身份证号"),
            C("mobile", "联系电话", pii="手机号", format="手机号"),
            C("accepted_on", "受理日期", "date", format="%Y年%m月%d日", nullable=False, max=TODAY),
            C("agent", "代办员", pii="姓名"),
            C("state", "办理状态", allowed_values=list(dv.ERRAND_STATES)),
        ],
    )
