"""The volume guard (行数检查): a load whose row count moves too far from the published
version waits for a steward, like any failed expectation.

The table's rows after the load are compared with the live (published) table's:

* replace: the staged rows become the table. An empty replace of a non-empty table always
  blocks; so does one losing more than ``volume.max_drop`` of the published rows (default 50%);
* append: the table grows by the staged rows. An append of zero rows is a no-op, never
  blocked (whatever ``min_rows`` says): the loader writes nothing to the lake (no new
  snapshot) and records the load with 0 rows; the result's reason says so (空追加);
* upsert: the table grows by the staged keys it does not hold yet (rows are never removed);
* any mode: growth beyond ``volume.max_growth`` (default: no limit) blocks, and so does a table
  left with fewer than ``volume.min_rows`` rows. On a first load (no table yet, or an empty
  one) only ``min_rows`` applies.

The verdict is one result, rule ``table:volume``, stored with the run's other results, so a
steward accepts, rejects or waives it as any other (``mulu quality review RUN --waive
table:volume``). Its description is the reason, in Chinese and English, e.g. ``行数骤降: 40 rows
would replace 100 published (-60%, max_drop 50%)``.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

import duckdb

from quality.suites import quote_identifier, sql_literal
from quality.validate import ExpectationResult, limit_memory
from schemas.dataset_spec import DatasetSpec
from schemas.dataset_spec.volume import Volume, percent
from warehouse.lake import connect_lake, qualified, scalar, table_exists
from warehouse.load import StagedLoad
from warehouse.workspace import Workspace

RULE = "table:volume"
EXPECTATION = "expect_table_row_count_to_be_between"


@dataclass(frozen=True)
class VolumeVerdict:
    ok: bool
    rows_after: int  # the table's rows if the load were published
    published: int | None  # the live table's rows; None: no table yet
    reason: str  # 中文 label: English detail


def judge_volume(
    volume: Volume, mode: str, *, published: int | None, staged: int, rows_after: int
) -> VolumeVerdict:
    """The guard's verdict on a load of ``staged`` rows in ``mode`` over ``published`` live
    rows (None: no table yet), leaving ``rows_after`` rows. Pure: the gate counts, this
    judges."""

    def verdict(ok: bool, reason: str) -> VolumeVerdict:
        return VolumeVerdict(ok, rows_after, published, reason)

    if published is not None and mode == "append" and staged == 0:
        return verdict(
            True,
            f"空追加: 0 rows appended to {published:,} published; nothing to publish, a no-op",
        )
    if published and mode == "replace" and rows_after == 0:
        return verdict(
            False,
            f"空表替换: 0 rows would replace {published:,} published; an empty replace always "
            f"waits for a steward",
        )
    if rows_after < volume.min_rows:
        return verdict(
            False,
            f"行数不足: the table would hold {rows_after:,} rows, fewer than min_rows "
            f"{volume.min_rows:,}",
        )
    if not published:  # a first load, or over an empty table: nothing to compare with
        first = "首次装载" if published is None else "空表装载"
        return verdict(
            True,
            f"{first}: {rows_after:,} rows, nothing published to compare with "
            f"(min_rows {volume.min_rows:,})",
        )
    change = (rows_after - published) / published
    if volume.max_drop is not None and -change > volume.max_drop:
        return verdict(
            False,
            f"行数骤降: {rows_after:,} rows would replace {published:,} published "
            f"({percent(change)}, max_drop {percent(volume.max_drop)})",
        )
    if volume.max_growth is not None and change > volume.max_growth:
        return verdict(
            False,
            f"行数骤增: {published:,} published rows would become {rows_after:,} "
            f"(+{percent(change)}, max_growth {percent(volume.max_growth)})",
        )
    sign = "+" if change >= 0 else ""
    bounds = ", ".join(
        f"{name} {percent(value)}"
        for name, value in (("max_drop", volume.max_drop), ("max_growth", volume.max_growth))
        if value is not None
    )
    return verdict(
        True,
        f"行数正常: {published:,} published rows → {rows_after:,} after this {mode} "
        f"({sign}{percent(change)}{'; ' + bounds if bounds else ''})",
    )


def check_volume(workspace: Workspace, spec: DatasetSpec, staged: StagedLoad) -> ExpectationResult:
    """The guard's result for ``staged``, counted against the live table in the lake.

    Runs inside the load, under the dataset's lock, so the live table cannot change before the
    load is published or held. The lake is read on a connection of its own (the loader's is
    not handed to the gate); trusted SQL only, so it is opened as the loader opens its own.
    """
    mode = spec.load.mode
    with contextlib.closing(connect_lake(workspace)) as con:
        limit_memory(con)
        spill = workspace.staging_dir / ".duckdb-tmp"
        con.execute(f"SET temp_directory = {sql_literal(str(spill))}")
        table = qualified(spec.name)
        published = (
            int(scalar(con, f"SELECT count(*) FROM {table}"))
            if table_exists(con, spec.name)
            else None
        )
        if mode == "replace":
            rows_after = staged.rows
        elif mode == "append":
            rows_after = (published or 0) + staged.rows
        else:
            rows_after = (published or 0) + _new_keys(con, spec, staged.path, published)
    verdict = judge_volume(
        spec.volume, mode, published=published, staged=staged.rows, rows_after=rows_after
    )
    return ExpectationResult(
        rule=RULE,
        expectation_type=EXPECTATION,
        column=None,
        severity="error",
        source="volume",
        success=verdict.ok,
        unexpected_count=None,
        element_count=staged.rows,
        observed_value=verdict.rows_after,
        description=verdict.reason,
    )


def _new_keys(
    con: duckdb.DuckDBPyConnection, spec: DatasetSpec, staged: Path, published: int | None
) -> int:
    """Rows an upsert of ``staged`` adds: its distinct keys the table does not hold, plus its
    rows with a null key part (the loader inserts those as they are)."""
    keys = [quote_identifier(k) for k in spec.primary_key]
    source = f"read_parquet({sql_literal(str(staged))})"
    any_null = " OR ".join(f"{k} IS NULL" for k in keys)
    distinct = f"SELECT DISTINCT {', '.join(keys)} FROM {source} WHERE NOT ({any_null})"
    if published:
        match = " AND ".join(f"t.{k} = s.{k}" for k in keys)
        distinct = (
            f"SELECT * FROM ({distinct}) AS s WHERE NOT EXISTS "
            f"(SELECT 1 FROM {qualified(spec.name)} AS t WHERE {match})"
        )
    added = scalar(con, f"SELECT count(*) FROM ({distinct})")
    nulls = scalar(con, f"SELECT count(*) FROM {source} WHERE {any_null}")
    return int(added) + int(nulls)
