"""An import whose records are prepared in a worker process (catalog.importing.prepare) writes
exactly what one process writes: the same entries and source records, history, update events,
rejects table and rejects file, report; a file that breaks off mid-way keeps the records
before the break and fails the same way."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from catalog.directory import Directory
from catalog.importing.importer import ImportBrokeOff, import_file
from warehouse.workspace import Workspace

pytestmark = pytest.mark.slow

STAMPS = {"created_at", "modified_at", "changed_at", "recorded_at"}
HEADER = [
    "信息资源代码",
    "信息资源名称",
    "信息资源提供方",
    "共享类型",
    "更新周期",
    "最近更新时间",
    "信息项信息",
]


def _clean(row: dict[str, Any]) -> dict[str, Any]:
    return {k: ("<t>" if k in STAMPS and v else v) for k, v in dict(row).items()}


def _imported(home: Path, files: list[Path], parallel: bool) -> dict[str, Any]:
    """Everything the imports of ``files`` wrote, timestamps blanked."""
    workspace = Workspace(home).ensure()
    directory = Directory.open(workspace, user="tester")
    try:
        found: dict[str, Any] = {"reports": [], "rejects": [], "problems": []}
        for path in files:
            try:
                report = import_file(directory, workspace, path, parallel=parallel)
            except ImportBrokeOff as broke:
                report = broke.report
                found["reports"].append(str(broke))
            shown = report.as_dict("en")
            shown.pop("rejects_file")
            found["reports"].append(shown)
            if report.rejects_file:
                found["rejects"].append(Path(report.rejects_file).read_bytes())
            found["problems"].append(
                [_clean(p) for p in directory.store.imports.problems(report.import_id)]
            )
        entries = [_clean(e) for e in directory.iter_entries(include_retired=True)]
        found["entries"] = entries
        found["history"] = [[_clean(h) for h in directory.history(e["code"])] for e in entries]
        found["updates"] = [
            [_clean(u) for u in directory.store.history.updates(e["code"])] for e in entries
        ]
        return found
    finally:
        directory.close()


def _messy(path: Path, count: int) -> Path:
    """Records with every kind of problem: unreadable dates and cycles, blank names, unknown
    share types, repeats, a repeated code with other content, records without a code."""
    rows = [HEADER]
    for n in range(count):
        code = f"301001/{n + 1:06d}"
        row = [
            code,
            f"资源{n}",
            f"单位{n % 7}",
            "无条件共享",
            "每月",
            "2024-03-01",
            "名称:字符型(20)",
        ]
        kind = n % 13
        if kind == 1:
            row[5] = "2023年13月"
        elif kind == 2:
            row[1] = " "
        elif kind == 3:
            row[3] = "随便"
        elif kind == 4:
            row[4] = "每隔很久"
        elif kind == 5:
            row[6] = "名称:字符型(abc);;编号：整型（10）;[bad"
        elif kind == 6:
            row[0] = ""
        rows.append(row)
        if kind == 7:
            rows.append(list(row))  # an exact repeat
        if kind == 8:
            rows.append([row[0], row[1] + "（另）", *row[2:]])  # the same code, other content
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return path


def test_workers_write_what_one_process_writes(tmp_path: Path, real_data: Path) -> None:
    messy = _messy(tmp_path / "messy.csv", 1_200)
    files = [
        real_data / "cn-portals" / "anhui_chizhou.json",  # records that warn
        real_data / "cn-portals" / "anhui_luan.json",  # exact repeats
        real_data / "dcat-us" / "gsa.json",
        messy,
        messy,  # again: every record unchanged or refused as before
    ]
    alone = _imported(tmp_path / "alone", files, parallel=False)
    workers = _imported(tmp_path / "workers", files, parallel=True)
    assert [r["records"] for r in alone["reports"]] == [1648, 548, 339, 1384, 1384]
    assert alone["reports"][3]["rejected"] > 0
    assert alone["reports"][3]["warned"] > 0
    assert json.dumps(workers, default=repr) == json.dumps(alone, default=repr)


def test_a_file_breaking_off_fails_alike(tmp_path: Path) -> None:
    text = json.dumps(
        [{"标题": f"数据集{n}", "来源部门": "区统计局", "更新频率": "每月"} for n in range(3_000)],
        ensure_ascii=False,
    )
    cut = tmp_path / "cut.json"
    cut.write_text(text[: len(text) - 5000], encoding="utf-8")  # a download that broke off
    alone = _imported(tmp_path / "alone", [cut], parallel=False)
    workers = _imported(tmp_path / "workers", [cut], parallel=True)
    assert "2,897" in alone["reports"][0]  # records landed before the file broke off
    assert alone["reports"][1]["status"] == "failed"
    assert json.dumps(workers, default=repr) == json.dumps(alone, default=repr)
