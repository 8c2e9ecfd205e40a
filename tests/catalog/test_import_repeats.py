"""Records that repeat an identity within one file: the same 信息资源代码 (the first record wins,
re-imports are stable) and the same 标题+提供单位 with different content (kept apart by order,
each later one warned); ``--source`` keeps records of different portals apart."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from catalog.directory import Directory
from catalog.importing.importer import import_file
from schemas.errors import InvalidInput

pytestmark = pytest.mark.both_stores

MULU = str(Path(sys.executable).with_name("mulu"))
CODED = ["信息资源代码", "信息资源名称", "信息资源提供方", "共享类型", "更新周期", "信息资源摘要"]
GENERIC = ["目录名称", "提供部门", "共享类型", "更新周期", "摘要"]


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return path


def state(directory: Directory) -> tuple[dict[str, int], str]:
    """Row counts of the catalogue's tables and a checksum over what the entries say."""
    con = directory.store.database.connection()
    counts = {
        table: con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        for table in ("entries", "entry_history", "organisations")
    }
    digest = hashlib.sha256()
    for row in con.execute(
        "SELECT code, name, provider_name, share_type, update_cycle, summary, source_key, "
        "version FROM entries ORDER BY code"
    ):
        digest.update(json.dumps(list(row), ensure_ascii=False).encode())
    return counts, digest.hexdigest()


def test_the_first_record_with_a_code_wins_and_reimports_are_stable(directory, workspace, tmp_path):
    path = write_csv(
        tmp_path / "codes.csv",
        [
            CODED,
            ["101001/000001", "人口信息", "公安局", "无条件共享", "每月", "第一份"],
            ["101001/000002", "法人信息", "市监局", "无条件共享", "每月", "另一条"],
            ["101001/000001", "人口信息", "公安局", "无条件共享", "每年", "第二份"],
            ["101001/000001", "人口信息", "公安局", "无条件共享", "每月", "第一份"],
        ],
    )
    first = import_file(directory, workspace, path)
    assert (first.created, first.updated, first.rejected, first.duplicates) == (2, 0, 1, 1)
    (refused,) = first.errors
    assert (refused.row, refused.reason.code) == (4, "duplicate_code")
    assert "与第 2 行重复" in refused.text("zh")
    assert "101001/000001" in refused.text("zh")
    assert "repeats row 2" in refused.text("en")
    assert directory.get("101001/000001")["summary"] == "第一份"
    # The refused record is kept verbatim in the rejects file.
    with Path(first.rejects_file).open(encoding="utf-8-sig") as handle:
        rows = [r for r in csv.DictReader(handle) if r["severity"] == "reject"]
    assert [r["raw"].strip() for r in rows] == [
        "101001/000001,人口信息,公安局,无条件共享,每年,第二份"
    ]

    before = state(directory)
    for _ in range(2):
        again = import_file(directory, workspace, path)
        assert (again.created, again.updated, again.unchanged, again.rejected) == (0, 0, 2, 1)
        assert state(directory) == before  # no flip-flop, no new history versions


def test_records_sharing_a_key_are_told_apart_by_order_and_warned(directory, workspace, tmp_path):
    path = write_csv(
        tmp_path / "yearly.csv",
        [
            GENERIC,
            ["人口统计", "统计局", "无条件共享", "每年", "2021年"],
            ["人口统计", "统计局", "无条件共享", "每年", "2022年"],
            ["人口统计", "统计局", "无条件共享", "每年", "2021年"],  # a repeat: merged
            ["人口统计", "统计局", "无条件共享", "每年", "2023年"],
        ],
    )
    report = import_file(directory, workspace, path)
    assert (report.created, report.duplicates, report.warned, report.rejected) == (3, 1, 2, 0)
    warned = [p for p in report.problems if p.reason.code == "ambiguous_key"]
    assert [p.row for p in warned] == [3, 5]
    zh = warned[1].text("zh")
    assert zh == (
        "与第 2 行的 目录名称+提供部门 相同而内容不同：按出现顺序区分（key#3）；"
        "文件顺序改变时条目可能互换"
    )
    assert "same 目录名称+提供部门 as row 2" in warned[0].text("en")
    # Re-importing the same file: the same entries, the same warnings, nothing changed.
    before = state(directory)
    again = import_file(directory, workspace, path)
    assert (again.unchanged, again.warned) == (3, 2)
    assert state(directory) == before


@pytest.mark.slow
def test_the_real_chizhou_export_warns_each_later_record_of_a_shared_key(
    directory, workspace, real_data
):
    path = real_data / "cn-portals" / "anhui_chizhou.json"
    records = json.loads(path.read_text(encoding="utf-8"))
    distinct = list(
        {json.dumps(r, sort_keys=True, ensure_ascii=False): r for r in records}.values()
    )
    groups: dict[tuple[str, str], int] = {}
    for record in distinct:
        key = (record["标题"].strip(), record["提供单位"].strip())
        groups[key] = groups.get(key, 0) + 1
    later = sum(n - 1 for n in groups.values())
    assert sum(n > 1 for n in groups.values()) == 40  # the groups the tester counted
    report = import_file(directory, workspace, path)
    warned = [p for p in report.problems if p.reason.code == "ambiguous_key"]
    assert warned
    assert warned[0].text("zh").split("：")[0].endswith("的 标题+提供单位 相同而内容不同")
    con = directory.store.database.connection()
    stored = con.execute(
        "SELECT count(*) FROM import_rejects WHERE code = 'ambiguous_key' AND import_id = ?",
        (report.import_id,),
    ).fetchone()[0]
    assert stored == later


def test_source_keeps_records_of_different_portals_apart(directory, workspace, tmp_path):
    rows = [GENERIC, ["人口统计", "统计局", "无条件共享", "每年", "甲市的"]]
    a = write_csv(tmp_path / "a.csv", rows)
    b = write_csv(
        tmp_path / "b.csv", [GENERIC, ["人口统计", "统计局", "无条件共享", "每月", "乙市的"]]
    )
    assert import_file(directory, workspace, a, source="jiashi").created == 1
    assert import_file(directory, workspace, b, source="yishi").created == 1
    assert directory.store.entries.count(status="active") == 2
    assert import_file(directory, workspace, b, source="yishi").unchanged == 1
    # Without --source the two files are the same records: the second updates the first.
    other = write_csv(tmp_path / "c.csv", rows)
    assert import_file(directory, workspace, other).created == 1
    assert import_file(directory, workspace, b).updated == 1


def test_an_invalid_source_is_refused_before_writing(directory, workspace, tmp_path):
    path = write_csv(
        tmp_path / "a.csv", [GENERIC, ["人口统计", "统计局", "无条件共享", "每年", "x"]]
    )
    with pytest.raises(InvalidInput, match="--source"):
        import_file(directory, workspace, path, source="not a/name")
    assert directory.store.imports.recent(5) == []


@pytest.mark.slow
def test_cli_source_option(tmp_path):
    home = tmp_path / "ws"
    env = {**os.environ, "MULU_HOME": str(home), "MULU_USER": "t", "COLUMNS": "200"}
    a = write_csv(tmp_path / "a.csv", [GENERIC, ["人口统计", "统计局", "无条件共享", "每年", "甲"]])
    b = write_csv(tmp_path / "b.csv", [GENERIC, ["人口统计", "统计局", "无条件共享", "每月", "乙"]])
    for path, source in ((a, "jiashi"), (b, "yishi")):
        done = subprocess.run(
            [MULU, "catalog", "import", str(path), "--source", source, "--json"],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["created"] == 1
    bad = subprocess.run(
        [MULU, "catalog", "import", str(a), "--source", "not a/name"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert bad.returncode == 2
    assert "--source" in bad.stderr
