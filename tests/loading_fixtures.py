"""Helpers for the loader tests: dataset spec YAML and source files in a temporary folder.

Also a tiny command line, so tests can run loads and readers as real separate processes::

    python tests/loading_fixtures.py load WORKSPACE SPEC [--die-after-publish]
    python tests/loading_fixtures.py read WORKSPACE TABLE SECONDS OUT.json
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # when run as a script
    sys.path.insert(0, str(REPO))

import yaml  # noqa: E402

from schemas.dataset_spec import DatasetSpec, load_spec  # noqa: E402
from warehouse.workspace import Workspace  # noqa: E402

# A 城乡低保对象 roster: the columns and rows most tests load.
ROSTER_COLUMNS = [
    {"name": "person_name", "source": "姓名", "pii": "name"},
    {"name": "id_card_no", "source": "身份证号", "pii": "身份证号"},
    {"name": "household_size", "source": "家庭人口", "type": "integer"},
    {"name": "monthly_allowance", "source": "月保障金额(元)", "type": "decimal(10,2)"},
    {"name": "approved_on", "source": "审批日期", "type": "date"},
]
ROSTER_HEADER = [c["source"] for c in ROSTER_COLUMNS]
ROSTER_ROWS = [
    ["张三", "010101199003074514", "3", "1250.50", "2026-01-05"],
    ["李四", "110101198507151234", "1", "830", "2026/02/11"],
    ["王五", "", "", "", "20260303"],  # empty cells become NULL
    ["赵六", "0011223344556677X", "5", "2100.00", "2026-04-01"],
]


def write_spec(
    folder: Path,
    name: str,
    url: str | Path,
    *,
    columns: Sequence[dict[str, Any]] = tuple(ROSTER_COLUMNS),
    mode: str = "replace",
    primary_key: Sequence[str] = (),
    **source: Any,
) -> DatasetSpec:
    """Write ``<folder>/<name>.yaml`` and return it read back through ``load_spec``."""
    data: dict[str, Any] = {
        "name": name,
        "title": f"{name} 测试数据",
        "entry_code": "301005/000012",
        "source": {"url": str(url), **source},
        "columns": [dict(c) for c in columns],
        "load": {"mode": mode},
    }
    if primary_key:
        data["primary_key"] = list(primary_key)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return load_spec(path)


def write_csv(
    path: Path,
    header: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    encoding: str = "utf-8",
    above: Sequence[str] = (),
    below: Sequence[Sequence[Any]] = (),
) -> Path:
    """A CSV: ``above`` lines (titles) before the header, ``below`` rows (units) after it."""
    buffer = io.StringIO()
    for line in above:
        buffer.write(line + "\r\n")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(below)
    writer.writerows(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def write_xlsx(
    path: Path,
    sheet: str,
    header: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    title: str | None = None,
    first_sheet: str | None = "说明",
) -> Path:
    """An Excel workbook; the data sheet comes after a notes sheet, under an optional title."""
    import xlsxwriter

    path.parent.mkdir(parents=True, exist_ok=True)
    workbook = xlsxwriter.Workbook(str(path))
    if first_sheet:
        workbook.add_worksheet(first_sheet).write(0, 0, "填报说明: 见第二个工作表")
    worksheet = workbook.add_worksheet(sheet)
    date_format = workbook.add_format({"num_format": "yyyy-mm-dd"})
    top = 0
    if title:
        worksheet.write(0, 0, title)
        top = 1
    worksheet.write_row(top, 0, header)
    for offset, row in enumerate(rows, top + 1):
        for col, value in enumerate(row):
            if hasattr(value, "year"):
                worksheet.write_datetime(offset, col, value, date_format)
            elif value is not None:
                worksheet.write(offset, col, value)
    workbook.close()
    return path


def write_json(path: Path, records: Sequence[dict[str, Any]], *, lines: bool = False) -> Path:
    text = (
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
        if lines
        else json.dumps(list(records), ensure_ascii=False, indent=1)
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def write_parquet(path: Path, columns: dict[str, list[Any]]) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns), path)
    return path


def roster_records() -> list[dict[str, Any]]:
    return [dict(zip(ROSTER_HEADER, row, strict=True)) for row in ROSTER_ROWS]


def lake_rows(
    workspace: Workspace, table: str, *, version: int | None = None, order_by: str = "ALL"
) -> list[tuple[Any, ...]]:
    """The rows of a lake table (at a version), through a read-only connection."""
    from warehouse.lake import connect_lake

    con = connect_lake(workspace, read_only=True)
    try:
        at = f" AT (VERSION => {int(version)})" if version is not None else ""
        return con.sql(f"SELECT * FROM lake.main.{table}{at} ORDER BY {order_by}").fetchall()
    finally:
        con.close()


def live_table(workspace: Workspace, table: str) -> tuple[int, int]:
    """A live lake table's row count and an order-free checksum of its rows: what a
    data-safety test compares before and after."""
    from warehouse.lake import connect_lake

    con = connect_lake(workspace, read_only=True)
    try:
        found = con.sql(f"SELECT count(*), sum(hash(t)) FROM lake.main.{table} AS t").fetchone()
        assert found is not None
        return int(found[0]), int(found[1])
    finally:
        con.close()


def loads(workspace: Workspace, dataset: str) -> list[dict[str, Any]]:
    """The ``loads`` records of a dataset, oldest first."""
    from warehouse.store import Store

    with Store.open(workspace) as store:
        return store.loads.history(dataset)


# --- the command line for process tests ----------------------------------------------------
def _load(workspace: str, spec_path: str, die_after_publish: bool) -> None:
    from warehouse.load import load_dataset

    def die(result: Any) -> None:  # a crash right after the lake commit, before recording
        os.kill(os.getpid(), signal.SIGKILL)

    result = load_dataset(
        Workspace(Path(workspace)),
        load_spec(spec_path),
        after_publish=die if die_after_publish else None,
    )
    print(
        json.dumps(
            {"status": result.status, "rows": result.rows, "snapshot_id": result.snapshot_id}
        ),
        flush=True,
    )


def _read(workspace: str, table: str, seconds: float, out: str) -> None:
    """Count the table's rows again and again; write every distinct count and any errors."""
    from warehouse.lake import connect_lake

    counts: list[int] = []
    errors: list[str] = []
    con = connect_lake(Workspace(Path(workspace)), read_only=True)
    deadline = time.monotonic() + seconds
    reads = 0
    while time.monotonic() < deadline and not Path(out + ".stop").exists():
        try:
            count = con.sql(f"SELECT count(*) FROM lake.main.{table}").fetchone()[0]
            reads += 1
            if not counts or counts[-1] != count:
                counts.append(count)
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
        time.sleep(0.02)
    con.close()
    Path(out).write_text(json.dumps({"counts": counts, "errors": errors, "reads": reads}))


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    if command == "load":
        _load(args[0], args[1], "--die-after-publish" in args[2:])
    elif command == "read":
        _read(args[0], args[1], float(args[2]), args[3])
    else:
        raise SystemExit(f"unknown command {command!r}")
