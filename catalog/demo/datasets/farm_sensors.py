"""农业物联网监测 readings of the 农业农村局: hourly Parquet from 25 points."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from catalog.demo.datasets import values as dv
from catalog.demo.datasets.build import DAY, TODAY, Build, DemoDataset
from catalog.demo.datasets.defects import Defects
from catalog.demo.datasets.specs import C, finish


def farm_sensors(b: Build, rng) -> DemoDataset:
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
    d = Defects(
        pa.table(
            {
                "点位编号": np.repeat([f"NYWL-{k:03d}" for k in range(1, points + 1)], steps),
                "监测时间": pa.array(
                    np.tile(hours, points).astype("datetime64[s]"), pa.timestamp("s")
                ),
                "土壤温度": np.round(soil, 1),
                "土壤湿度": np.round(moisture, 1),
                "空气温度": pa.array(np.round(air, 1), from_pandas=True),
                "光照强度": np.round(light),
            }
        )
    )
    d.plant(
        "土壤湿度",
        dv.spots(rng, n, 12)[0],
        [-999.0] * 12,
        "soil_moisture:min",
        "土壤湿度 -999 (the sensor's fault value)",
    )
    path = b.folder(org) / f"农业物联网监测读数_{b.today:%Y%m%d}.parquet"
    pq.write_table(d.table, path, compression="zstd")
    return finish(
        b,
        org,
        b.entry(org, ("农业物联网监测点位",), ("信息", "台账", "基本信息", "名录")),
        d,
        name="farm_sensor_readings",
        title="农业物联网监测点位读数",
        description="25 个农业物联监测点位的逐时读数 (土壤温湿度、空气温度、光照).",
        files=[path],
        rows=n,
        source={"url": str(path)},
        key=["point_id", "measured_at"],
        mode="append",
        columns=[
            C("point_id", "点位编号"),
            C("measured_at", "监测时间", "timestamp", max=TODAY),
            C("soil_temperature", "土壤温度", "double", min=-20, max=50),
            C("soil_moisture", "土壤湿度", "double", min=0, max=100),
            C("air_temperature", "空气温度", "double", min=-30, max=50),
            C("light_intensity", "光照强度", "double", min=0, max=200_000),
        ],
    )
