"""A department's next delivery of a demo dataset: rows changed and rows added, planted defects
kept as they were (for change detection and upserts)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from catalog.demo.datasets import values as dv
from catalog.demo.datasets.build import DAY, DemoDataset
from catalog.demo.datasets.defects import Defects
from catalog.demo.datasets.files import write_csv


def _read_strings(path: Path) -> pa.Table:
    with path.open(encoding="utf-8") as handle:
        header = handle.readline().rstrip("\n").split(",")
    return pcsv.read_csv(
        path,
        convert_options=pcsv.ConvertOptions(
            column_types=dict.fromkeys(header, pa.string()), strings_can_be_null=True
        ),
    )


def _next_cards(ds: DemoDataset, rng) -> pa.Table:
    """A week on: cards in progress move one step on, new applications arrive."""
    table = _read_strings(ds.files[0])
    step = {"已受理": "制卡中", "制卡中": "待领取", "待领取": "已领卡"}
    status = [step.get(s, s) for s in table["状态"].to_pylist()]
    table = table.set_column(8, "状态", pa.array(status, pa.string()))
    last = max(int(k[2:]) for k in table["申领编号"].to_pylist())
    return pa.concat_tables(
        [table, dv.card_rows(rng, max(10, ds.rows // 150), ds.today - 6 * DAY, ds.today, last + 1)]
    )


def _next_enterprises(ds: DemoDataset, rng) -> pa.Table:
    """A month on: some firms 注销, some raise capital or change 法定代表人, new firms."""
    d = Defects(_read_strings(ds.files[0]))
    n = d.table.num_rows
    closed, raised, person = dv.spots(rng, n, n // 100, n // 200, n // 300)
    closed = closed[np.isin(d.table["登记状态"].to_numpy().take(closed), ["存续", "在业"])]
    d.plant("登记状态", closed, ["注销"] * len(closed), None, "注销")
    d.plant(
        "注册资本(万元)",
        raised,
        lambda old: dv.money(
            np.round(pc.cast(old, pa.float64()).to_numpy() * 100).astype(np.int64)
            + rng.integers(1, 10, len(raised)) * 10_000
        ),
        None,
        "增资 100-900 万元",
    )
    person = person[pc.is_valid(d.table["法定代表人"].take(person)).to_numpy()]
    d.plant("法定代表人", person, dv.names(rng, len(person)), None, "变更法定代表人")
    new = dv.enterprise_rows(rng, max(5, n // 100), ds.today - 30 * DAY, ds.today - DAY)
    new = new.filter(
        pc.invert(
            pc.is_in(
                new["统一社会信用代码"], value_set=d.table["统一社会信用代码"].combine_chunks()
            )
        )
    )
    return pa.concat_tables([d.table, new.cast(d.table.schema)])


NEXT_VERSIONS = {
    "social_security_card_applications": _next_cards,
    "enterprise_registrations": _next_enterprises,
}


def write_next_version(ds: DemoDataset, seed: int) -> None:
    """Rewrite ``ds``'s file as the department's next delivery: rows changed and rows added.

    Only datasets in NEXT_VERSIONS have one. Planted defects stay as they were (no valid row
    gains a defect, no defect is repaired); ``ds.rows`` and ``ds.version`` are updated.
    """
    if ds.name not in NEXT_VERSIONS:
        raise ValueError(
            f"no next version for {ds.name}: expected one of {', '.join(NEXT_VERSIONS)}"
        )
    table = NEXT_VERSIONS[ds.name](ds, dv.generator(seed, 1000 + ds.version))
    write_csv(ds.files[0], table)
    ds.rows, ds.version = table.num_rows, ds.version + 1
