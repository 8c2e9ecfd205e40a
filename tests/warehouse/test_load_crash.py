"""Loads killed with SIGKILL at any moment, re-run, end with the rows of one clean load.

Real processes throughout: loaders are killed while staging, after the staged file was moved
into the table's folder and registered in the open lake transaction (before its commit), and
right after the lake commit (before the load is recorded); a reader process counts the table
the whole time and must only ever see the old or the new version. Two processes loading
different datasets at once must both succeed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from loading_fixtures import loads, write_spec

from warehouse.lake import connect_lake, table_versions
from warehouse.load import load_dataset
from warehouse.workspace import Workspace

pytestmark = pytest.mark.slow

FIXTURES = Path(__file__).resolve().parents[1] / "loading_fixtures.py"
REPO = Path(__file__).resolve().parents[2]
# A load that dies inside the lake transaction, once its data file is registered: the last
# step before COMMIT is labelling the snapshot.
_DIE_BEFORE_COMMIT = f"""
import os, signal, sys
from pathlib import Path
sys.path.insert(0, {str(REPO)!r})
from schemas.dataset_spec import load_spec
from warehouse.load import commit, load_dataset
from warehouse.workspace import Workspace

def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

commit.set_commit_message = die
load_dataset(Workspace(Path(sys.argv[1])), load_spec(sys.argv[2]))
"""
BIG_ROWS = 2_000_000
SMALL_ROWS = 1_000
COLUMNS = [
    {"name": "id", "source": "编号", "type": "bigint"},
    {"name": "person_name", "source": "姓名"},
    {"name": "id_card_no", "source": "身份证号"},
    {"name": "amount", "source": "金额", "type": "decimal(12,2)"},
]
# A checksum of the rows (order-free), computed the same way from the CSVs and the table.
_CHECKSUM = "count(*), count(DISTINCT {id}), sum(hash({id}, {name}, {card}, CAST({amount} AS DECIMAL(12,2))))"


def _write_rows(path: Path, first: int, count: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    duckdb.sql(f"""COPY (SELECT i AS 编号, '居民' || (i % 997) AS 姓名,
                       lpad(CAST(i * 7919 % 1000000000000 AS VARCHAR), 18, '0') AS 身份证号,
                       CAST((i % 100000) / 100 AS DECIMAL(12, 2)) AS 金额
                FROM range({first}, {first + count}) t(i)) TO '{path}' (HEADER)""")


@pytest.fixture(scope="module")
def big_csv(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("big") / "居民_big.csv"
    _write_rows(path, SMALL_ROWS, BIG_ROWS)
    return path


def _source_checksum(folder: Path) -> tuple:
    sql = _CHECKSUM.format(id='"编号"', name='"姓名"', card='"身份证号"', amount='"金额"')
    return duckdb.sql(f"SELECT {sql} FROM read_csv('{folder}/*.csv', all_varchar=true)").fetchone()


def _table_checksum(workspace: Workspace, table: str) -> tuple:
    con = connect_lake(workspace, read_only=True)
    try:
        sql = _CHECKSUM.format(
            id="CAST(id AS VARCHAR)", name="person_name", card="id_card_no", amount="amount"
        )
        return con.sql(f"SELECT {sql} FROM lake.main.{table}").fetchone()
    finally:
        con.close()


def _start(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(FIXTURES), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _kill(process: subprocess.Popen) -> None:
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def _wait_for(condition, process: subprocess.Popen, seconds: float = 30) -> None:
    """Poll until ``condition()``; the process must still be running (so it can be killed)."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert process.poll() is None, f"the load ended first: {process.stderr.read()}"
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def _referenced(workspace: Workspace) -> set[str]:
    """Names of the data files the lake's catalog knows."""
    con = connect_lake(workspace, read_only=True)
    try:
        return {
            Path(row[0]).name
            for row in con.execute(
                "SELECT path FROM __ducklake_metadata_lake.ducklake_data_file"
            ).fetchall()
        }
    finally:
        con.close()


def _count(workspace: Workspace, table: str) -> int:
    con = connect_lake(workspace, read_only=True)
    try:
        return con.sql(f"SELECT count(*) FROM lake.main.{table}").fetchone()[0]
    finally:
        con.close()


def test_kill_9_at_any_moment_then_rerun_loads_exactly_once(tmp_path, big_csv):
    workspace = Workspace(tmp_path / "ws").ensure()
    exchange = tmp_path / "exchange"
    _write_rows(exchange / "居民_small.csv", 0, SMALL_ROWS)
    spec = write_spec(
        tmp_path / "datasets", "residents", exchange / "*.csv", columns=COLUMNS, mode="append"
    )
    spec_path = str(tmp_path / "datasets" / "residents.yaml")
    assert load_dataset(workspace, spec).rows == SMALL_ROWS  # the old version
    os.link(big_csv, exchange / big_csv.name)  # the next delivery: 2M more rows

    reader_out = tmp_path / "reader.json"
    reader = _start("read", str(workspace.root), "residents", "60", str(reader_out))
    table_dir = workspace.lake_dir / "main" / "residents"
    staging = workspace.root / "staging" / "residents"
    old_files = set(table_dir.iterdir())
    try:
        # 1. Killed while staging: its COPY to staging/<dataset>/<load_id>.parquet is running.
        loader = _start("load", str(workspace.root), spec_path)
        _wait_for(lambda: any(staging.glob("*.parquet")), loader)
        _kill(loader)
        assert _count(workspace, "residents") == SMALL_ROWS

        # 2. Killed with its staged file moved into the table's folder and registered in the
        # open lake transaction, before the commit: the file is an orphan no snapshot knows.
        loader = subprocess.Popen(
            [sys.executable, "-c", _DIE_BEFORE_COMMIT, str(workspace.root), spec_path],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        loader.wait(timeout=60)
        assert loader.returncode == -signal.SIGKILL, loader.stderr.read()
        assert _count(workspace, "residents") == SMALL_ROWS
        [orphan] = set(table_dir.iterdir()) - old_files
        assert orphan.name.startswith("mulu-")
        assert orphan.name not in _referenced(workspace)
        assert not list(staging.glob("*.parquet"))  # moved, not copied

        # 3. Killed right after the lake commit, before the load is recorded.
        loader = _start("load", str(workspace.root), spec_path, "--die-after-publish")
        loader.wait(timeout=60)
        assert loader.returncode == -signal.SIGKILL, loader.stderr.read()
        assert _count(workspace, "residents") == SMALL_ROWS + BIG_ROWS
        assert [r["status"] for r in loads(workspace, "residents")] == [
            "published",
            "failed",
            "failed",
            "started",
        ]  # each start settles dead ones
        assert not orphan.exists()  # the load after the dead one deleted its data file

        # 4. The re-run records the commit it finds instead of appending the rows again.
        rerun = load_dataset(workspace, spec)
        assert rerun.status == "unchanged"
    finally:
        Path(str(reader_out) + ".stop").touch()
        reader.wait(timeout=30)

    assert _table_checksum(workspace, "residents") == _source_checksum(exchange)
    statuses = [(r["status"], r["error"] or "") for r in loads(workspace, "residents")]
    assert [s for s, _ in statuses] == ["published", "failed", "failed", "published", "unchanged"]
    assert all(e.startswith("abandoned") for s, e in statuses if s == "failed")
    published = [r for r in loads(workspace, "residents") if r["status"] == "published"]
    assert [r["rows"] for r in published] == [SMALL_ROWS, BIG_ROWS]
    con = connect_lake(workspace, read_only=True)
    try:
        assert len(table_versions(con, "residents")) == 2  # created + one append, no more
    finally:
        con.close()
    assert not list((workspace.root / "staging" / "residents").glob("*.parquet"))
    # Every file in the table's folder is one the catalog knows: no orphan is left.
    assert {p.name for p in table_dir.iterdir()} <= _referenced(workspace)

    seen = json.loads(reader_out.read_text())
    assert seen["errors"] == []
    assert seen["reads"] > 20
    assert seen["counts"] == [SMALL_ROWS, SMALL_ROWS + BIG_ROWS]  # old, then new, nothing else


def test_two_processes_load_different_datasets_at_once(tmp_path, big_csv):
    workspace = Workspace(tmp_path / "ws").ensure()
    exchange = tmp_path / "exchange"
    # A first load creates the lake, so the two loads below only race on their commits.
    _write_rows(exchange / "seed" / "seed.csv", 0, 10)
    load_dataset(
        workspace,
        write_spec(tmp_path / "datasets", "seed", exchange / "seed" / "seed.csv", columns=COLUMNS),
    )
    specs = []
    for name, count in (("residents_a", 400_000), ("residents_b", 300_000)):
        _write_rows(exchange / name / "data.csv", 0, count)
        write_spec(tmp_path / "datasets", name, exchange / name / "data.csv", columns=COLUMNS)
        specs.append((name, count, str(tmp_path / "datasets" / f"{name}.yaml")))

    loaders = [_start("load", str(workspace.root), path) for _, _, path in specs]
    for loader in loaders:
        out, err = loader.communicate(timeout=60)
        assert loader.returncode == 0, err
        assert json.loads(out.strip().splitlines()[-1])["status"] == "published"
    for name, count, _ in specs:
        assert _count(workspace, name) == count
        assert [r["status"] for r in loads(workspace, name)] == ["published"]
