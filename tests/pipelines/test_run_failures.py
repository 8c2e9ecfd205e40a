"""`mulu run` failures in one line: the real command in a subprocess, real failing specs and
files. Each failed dataset is one line naming dataset, file, row, column and reason (the same
fields in --json); stack traces only with --debug; exit codes tell published (0), failed (the
error's code) and blocked (7) apart; --select of a broken spec shows the spec's error."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.runner import BLOCKED_EXIT
from schemas.identity import make_id_card
from warehouse.store import Store

pytestmark = pytest.mark.slow

MULU = Path(sys.executable).with_name("mulu")
SPEC = """\
name: {name}
title: {title}
entry_code: "{code}"
source:
  url: {url}
columns:
  - {{name: person_name, source: 姓名}}
  - {{name: amount, source: 金额, type: integer}}
"""
ID_COLUMN = """\
  - {name: id_card_no, source: 身份证号, format: 身份证号}
"""


def mulu(home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(MULU), "--home", str(home), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "COLUMNS": "80"},  # a narrow terminal: lines must still be one
    )


def add_spec(workspace, code: str, name: str, source_text: str, *, with_ids: bool = False) -> Path:
    source = workspace.root / "sources" / f"{name}.csv"
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_text(source_text, encoding="utf-8")
    spec = workspace.datasets_dir / "minzheng" / f"{name}.yaml"
    spec.parent.mkdir(parents=True, exist_ok=True)
    text = SPEC.format(name=name, title=f"{name} 数据", code=code, url=source)
    spec.write_text(text + (ID_COLUMN if with_ids else ""), encoding="utf-8")
    return source


@pytest.fixture
def entry(directory) -> str:
    return directory.create(
        {
            "name": "城乡低保对象",
            "provider_name": "区民政局",
            "share_type": "有条件共享",
            "update_cycle": "每月",
        }
    )


def test_each_failed_dataset_is_one_line_and_the_exit_code_says_what_happened(workspace, entry):
    good = add_spec(workspace, entry, "good", "姓名,金额\n张三,800\n")
    bad = add_spec(workspace, entry, "bad", "姓名,金额\n张三,800\n李四,650\n王五,abc\n")
    home = workspace.root

    # One bad file: one line, no stack trace, no Dagster wrapper error, exit 2 (bad input).
    done = mulu(home, "run", "--select", "bad")
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert lines == [
        f"bad failed: file {bad}, row 4, column 金额: column 金额 (amount) is integer in the "
        "spec, but 1 value is not: first 'abc' at row 4"
    ], done.stderr
    for output in (done.stdout, done.stderr):
        assert "Traceback" not in output
        assert "DagsterExecutionStepExecutionError" not in output
        assert "Stack Trace" not in output

    # The same fields in --json, and loads.error keeps the whole reason.
    done = mulu(home, "run", "--select", "bad", "--json")
    assert done.returncode == 2, done.stderr
    report = json.loads(done.stdout)
    [failure] = report["failures"]
    assert {k: failure[k] for k in ("dataset", "file", "row", "column", "kind", "exit_code")} == {
        "dataset": "bad",
        "file": str(bad),
        "row": 4,
        "column": "金额",
        "kind": "invalid_input",
        "exit_code": 2,
    }
    assert "first 'abc' at row 4" in failure["reason"]
    assert report["exit_code"] == 2
    with Store.open(workspace) as store:
        recorded = [r for r in store.loads.history("bad") if r["status"] == "failed"]
    assert recorded
    assert recorded[-1]["error"] == failure["reason"]
    assert "DagsterExecutionStepExecutionError" not in done.stdout

    # --debug shows Dagster's log with the stack trace as well.
    done = mulu(home, "run", "--select", "bad", "--debug")
    assert done.returncode == 2
    assert "Stack Trace" in done.stderr
    assert f"bad failed: file {bad}, row 4" in done.stderr

    # All datasets: the good one publishes, the bad one fails; 2 (bad input) overall.
    done = mulu(home, "run")
    assert done.returncode == 2, done.stderr
    assert [line.split(":")[0] for line in done.stderr.strip().splitlines()] == ["bad failed"]
    assert "good" in done.stdout

    # Fixed: everything published or unchanged, exit 0, nothing on stderr.
    bad.write_text("姓名,金额\n张三,800\n", encoding="utf-8")
    done = mulu(home, "run")
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == ""
    assert good.exists()


def test_a_missing_source_is_not_found_and_a_broken_spec_names_its_error(workspace, entry):
    home = workspace.root
    add_spec(workspace, entry, "gone", "姓名,金额\n张三,800\n").unlink()
    done = mulu(home, "run", "--select", "gone")
    assert done.returncode == 2, done.stderr  # a source that cannot be fetched: bad input
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("gone failed: ")
    assert "gone.csv" in line
    assert "Traceback" not in done.stderr

    broken = workspace.datasets_dir / "minzheng" / "broken.yaml"
    broken.write_text("name: broken\ntitle: 坏的\nsource: {url: x.csv}\n", encoding="utf-8")
    done = mulu(home, "run", "--select", "broken")
    assert done.returncode == 2, done.stderr
    [line] = done.stderr.strip().splitlines()
    assert line.startswith(f"error: {broken}: ")
    assert "entry_code" in line
    assert "no dataset named" not in line
    done = mulu(home, "run", "--select", "nope")
    assert done.returncode == 3
    assert "no dataset named nope" in done.stderr

    # A full run counts the broken spec as a failed dataset (cron notices).
    done = mulu(home, "run", "--json")
    report = json.loads(done.stdout)
    failed = {f["dataset"]: f for f in report["failures"]}
    assert set(failed) == {"broken", "gone"}
    assert failed["broken"]["file"] == str(broken)
    assert failed["broken"]["exit_code"] == 2
    assert done.returncode == 2  # both bad input

    # A spec naming no catalogue entry fails as not found (3); with the others: 1.
    add_spec(workspace, "301099/000001", "orphan", "姓名,金额\n张三,800\n")
    done = mulu(home, "run", "--select", "orphan")
    assert done.returncode == 3, done.stderr
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("orphan failed: ")
    assert "301099/000001" in line
    done = mulu(home, "run")
    assert done.returncode == 1  # failures of different kinds (2 and 3)
    assert len(done.stderr.strip().splitlines()) == 3


def test_a_blocked_load_exits_7_and_names_the_quality_run(workspace, entry):
    good_id = make_id_card("320303", dt.date(1980, 1, 2), 5)
    bad_id = good_id[:17] + ("0" if good_id[17] != "0" else "1")
    source = add_spec(
        workspace, entry, "di_bao", f"姓名,金额,身份证号\n张三,800,{good_id}\n", with_ids=True
    )
    home = workspace.root
    assert mulu(home, "run").returncode == 0
    source.write_text(
        f"姓名,金额,身份证号\n张三,800,{good_id}\n李四,650,{bad_id}\n", encoding="utf-8"
    )
    done = mulu(home, "run")
    assert done.returncode == BLOCKED_EXIT, done.stderr
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("di_bao blocked: held for a steward by quality run ")
    assert "mulu quality show" in line
    # The same files again: a steward has them already; nothing new happened (0).
    done = mulu(home, "run", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["blocked"] == []
    assert report["datasets"]["di_bao"]["status"] == "unchanged"
