"""The `mulu` command as a user runs it: the installed console script, in real processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

MULU = str(Path(sys.executable).with_name("mulu"))


def mulu(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "MULU_HOME": str(home), "MULU_USER": "cli-tester", "COLUMNS": "200"}
    return subprocess.run([MULU, *args], capture_output=True, text=True, env=env, check=False)


def test_help_lists_the_commands(tmp_path):
    done = mulu(tmp_path, "--help")
    assert done.returncode == 0
    assert "catalog" in done.stdout
    assert "demo" in done.stdout


@pytest.mark.slow
def test_import_stats_show_export(tmp_path, real_data):
    done = mulu(
        tmp_path, "catalog", "import", str(real_data / "cn-portals" / "anhui_suzhou.json"), "--json"
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["mapping"], report["created"], report["rejected"]) == ("cn-luan-suzhou", 524, 0)
    stats = json.loads(mulu(tmp_path, "catalog", "stats", "--json").stdout)
    assert stats["entries"] == 524
    assert sum(stats["by_update_cycle"].values()) == 524
    assert sum(o["entries"] for o in stats["by_organisation"]) == 524
    entry = json.loads(
        mulu(tmp_path, "catalog", "show", "300000/000001", "--history", "--json").stdout
    )
    assert entry["source"] == "cn-luan-suzhou"
    assert entry["history"][0]["changed_by"] == "cli-tester"
    out = tmp_path / "out.csv"
    assert mulu(tmp_path, "catalog", "export", "--format", "csv", "-o", str(out)).returncode == 0
    again = json.loads(mulu(tmp_path, "catalog", "import", str(out), "--json").stdout)
    assert (again["mapping"], again["created"], again["updated"], again["unchanged"]) == (
        "mulu-table",
        0,
        0,
        524,
    )


@pytest.mark.slow
def test_errors_are_clear_and_exit_with_their_kinds_code(tmp_path):
    # schemas.errors: NotFound exits 3, InvalidInput 2; one red line on stderr, no traceback.
    missing = mulu(tmp_path, "catalog", "show", "101001/000009")
    assert missing.returncode == 3
    assert "没有信息资源代码为 '101001/000009' 的条目" in missing.stderr
    assert "Traceback" not in missing.stderr
    assert mulu(tmp_path, "catalog", "retire", "101001/000009").returncode == 3
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "目录名称,提供部门,共享类型,更新周期\n好条目,区统计局,无条件共享,每月\n"
        "坏条目,区统计局,随便,每月\n",
        encoding="utf-8",
    )
    done = mulu(tmp_path, "catalog", "import", str(bad), "--json")
    assert done.returncode == 3
    report = json.loads(done.stdout)
    assert report["created"] == 1
    assert report["errors"] == [
        {
            "file": str(bad),
            "row": 3,
            "field": "共享类型 (share_type)",
            "reason": report["errors"][0]["reason"],
        }
    ]
    assert "随便" in report["errors"][0]["reason"]
    nothing = mulu(tmp_path, "catalog", "import", str(tmp_path / "nope.csv"))
    assert nothing.returncode == 2
    assert "文件不存在" in nothing.stderr  # no such file
    unmapped = mulu(tmp_path, "catalog", "import", str(bad), "--mapping", "nope")
    assert unmapped.returncode == 2
    assert "no mapping 'nope'" in unmapped.stderr
    odd = mulu(tmp_path, "catalog", "export", "--format", "ods", "-o", str(tmp_path / "x.ods"))
    assert odd.returncode == 2
    assert "unknown export format 'ods'" in odd.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["catalog", "stats", "--json"],
        ["catalog", "mappings", "--json"],
        ["quality", "runs", "--json"],
        ["quality", "scores", "--org", "--json"],
    ],
)
@pytest.mark.slow
def test_fast_paths_import_neither_dagster_nor_great_expectations(tmp_path, args):
    probe = (
        "import sys\n"
        "from mulu.cli import app\n"
        "try:\n"
        f"    app({args!r}, standalone_mode=False)\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('dagster', 'great_expectations', 'pandas'))\n"
        "print('HEAVY', heavy)\n"
    )
    env = {**os.environ, "MULU_HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "HEAVY []"


def mulu_at(home: Path, columns: int, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "MULU_HOME": str(home), "MULU_USER": "cli-tester", "COLUMNS": str(columns)}
    return subprocess.run([MULU, *args], capture_output=True, text=True, env=env, check=False)


@pytest.mark.slow
def test_import_says_what_is_wrong_with_a_directory_or_a_header_only_file(tmp_path):
    folder = tmp_path / "exports"
    folder.mkdir()
    done = mulu(tmp_path / "ws", "catalog", "import", str(folder), "--lang", "en")
    assert done.returncode == 2
    assert "is a directory, not a file" in done.stderr
    assert "no such file" not in done.stderr
    header_only = tmp_path / "empty.csv"
    header_only.write_text("目录名称,提供部门,共享类型\n", encoding="utf-8")
    done = mulu(tmp_path / "ws", "catalog", "import", str(header_only))
    assert done.returncode == 2
    assert "文件只有表头，没有记录" in done.stderr
    assert "文件的列：-" not in done.stderr
    done = mulu(tmp_path / "ws", "catalog", "import", str(header_only), "--lang", "en")
    assert (
        "the file has a header and no records (header: 目录名称, 提供部门, 共享类型)" in done.stderr
    )


@pytest.mark.slow
def test_imports_table_fits_80_columns_without_cutting_states_or_counts(tmp_path):
    path = tmp_path / ("a-rather-long-folder-name" * 3) / "district-catalogue-export.csv"
    path.parent.mkdir()
    rows = ["目录名称,提供部门,共享类型,更新周期"]
    rows += [f"资源{n},部门{n % 3},无条件共享,每月" for n in range(1234)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    assert mulu(tmp_path / "ws", "catalog", "import", str(path)).returncode == 0
    done = mulu_at(tmp_path / "ws", 80, "catalog", "imports")
    assert done.returncode == 0, done.stderr
    assert max(len(line) for line in done.stdout.splitlines()) <= 80
    assert "finished" in done.stdout
    assert "…" not in done.stdout
    assert "1,234 records" in done.stdout
    assert "1,234 created" in done.stdout
    # The file is wrapped within its column, every character kept.
    folded = "".join(
        part.strip()
        for line in done.stdout.splitlines()
        if len(cells := line.split("│")) > 2
        for part in cells[2:3]
    )
    assert str(path) in folded


@pytest.mark.slow
def test_export_says_how_many_cells_excel_cut(tmp_path):
    long = "长" * 40_000
    path = tmp_path / "long.csv"
    path.write_text(
        f"目录名称,提供部门,共享类型,摘要\n长摘要,部门,无条件共享,{long}\n", encoding="utf-8"
    )
    assert mulu(tmp_path / "ws", "catalog", "import", str(path)).returncode == 0
    done = mulu(tmp_path / "ws", "catalog", "export", "-f", "xlsx", "-o", str(tmp_path / "o.xlsx"))
    assert done.returncode == 0, done.stderr
    assert "1 cells longer than Excel's 32,767 characters were cut" in done.stdout
    assert "CSV and JSON keep every character" in done.stdout
    done = mulu(tmp_path / "ws", "catalog", "export", "-f", "json", "-o", str(tmp_path / "o.json"))
    assert "cut" not in done.stdout


@pytest.mark.slow
def test_import_help_names_exit_8_and_source(tmp_path):
    done = mulu(tmp_path, "catalog", "import", "--help")
    assert done.returncode == 0
    text = " ".join(done.stdout.split())
    assert "8 the file broke off mid-way" in text
    assert "--source" in text
