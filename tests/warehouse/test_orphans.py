"""Files a killed load leaves in a table's folder are deleted by the next load of the dataset.

A real loader process doing an upsert is killed with SIGKILL inside its lake transaction,
after DuckLake wrote the upsert's delete file (``ducklake-…-delete.parquet``) and the inserted
rows' data file, before the commit: no snapshot references them. The next load deletes them,
keeps every file a snapshot references (the old version stays readable), and the table holds
exactly the rows of one clean upsert (row count and checksum).
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from loading_fixtures import loads, write_spec

from warehouse.lake import connect_lake
from warehouse.load import load_dataset
from warehouse.workspace import Workspace

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
# Dies inside the lake transaction: the upsert's DELETE and INSERT have written their files; the
# last step before COMMIT is labelling the snapshot.
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
ROWS = 200_000
COLUMNS = [
    {"name": "id", "source": "编号", "type": "bigint"},
    {"name": "person_name", "source": "姓名"},
    {"name": "amount", "source": "金额", "type": "decimal(12,2)"},
]
_CHECKSUM = (
    "count(*), count(DISTINCT {id}), sum(hash({id}, {name}, CAST({amount} AS DECIMAL(12,2))))"
)


def _write_rows(path: Path, first: int, count: int, name: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    duckdb.sql(f"""COPY (SELECT i AS 编号, '{name}' || (i % 997) AS 姓名,
                       CAST((i % 100000) / 100 AS DECIMAL(12, 2)) AS 金额
                FROM range({first}, {first + count}) t(i)) TO '{path}' (HEADER)""")


def _source_checksum(*paths: Path, below: int | None = None) -> tuple:
    """The checksum of the CSVs' rows; ``below``: of the first file only ids below it."""
    sql = _CHECKSUM.format(id="id", name="name", amount="amount")
    parts = [
        f'SELECT CAST("编号" AS BIGINT) AS id, "姓名" AS name, "金额" AS amount '
        f"FROM read_csv('{path}', all_varchar=true)"
        + (f' WHERE CAST("编号" AS BIGINT) < {below}' if below is not None and i == 0 else "")
        for i, path in enumerate(paths)
    ]
    return duckdb.sql(f"SELECT {sql} FROM ({' UNION ALL '.join(parts)})").fetchone()


def _lake(workspace: Workspace, sql: str) -> list[tuple]:
    con = connect_lake(workspace, read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _checksum(workspace: Workspace, version: int | None = None) -> tuple:
    at = f" AT (VERSION => {version})" if version is not None else ""
    sql = _CHECKSUM.format(id="id", name="person_name", amount="amount")
    [row] = _lake(workspace, f"SELECT {sql} FROM lake.main.people{at}")
    return row


def _referenced(workspace: Workspace) -> set[str]:
    """Every data and delete file any snapshot of the lake references."""
    rows = _lake(
        workspace,
        "SELECT path FROM __ducklake_metadata_lake.ducklake_data_file UNION ALL "
        "SELECT path FROM __ducklake_metadata_lake.ducklake_delete_file",
    )
    return {Path(path).name for (path,) in rows}


def test_the_next_load_deletes_what_a_killed_upsert_left_and_nothing_else(tmp_path):
    workspace = Workspace(tmp_path / "ws").ensure()
    source = workspace.root / "sources" / "people.csv"
    _write_rows(source, 0, ROWS, "居民")
    spec = write_spec(
        tmp_path / "datasets", "people", source, columns=COLUMNS, mode="upsert", primary_key=["id"]
    )
    spec_path = str(tmp_path / "datasets" / "people.yaml")
    first = load_dataset(workspace, spec)
    assert (first.status, first.rows) == ("published", ROWS)
    old_checksum = _checksum(workspace)
    assert old_checksum == _source_checksum(source)
    table_dir = workspace.lake_dir / "main" / "people"
    live_files = {p.name for p in table_dir.iterdir()}
    assert live_files <= _referenced(workspace)

    # The next delivery changes the second half of the rows and adds as many: the upsert
    # deletes ROWS / 2 rows of the live file (a delete file) and inserts ROWS (a data file).
    # The loader dies before its commit.
    kept = tmp_path / "first.csv"
    kept.write_bytes(source.read_bytes())
    _write_rows(source, ROWS // 2, ROWS, "更新")
    loader = subprocess.run(
        [sys.executable, "-c", _DIE_BEFORE_COMMIT, str(workspace.root), spec_path],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert loader.returncode == -signal.SIGKILL, loader.stderr
    assert _checksum(workspace) == old_checksum  # the live table is as it was
    orphans = {p.name for p in table_dir.iterdir()} - _referenced(workspace)
    assert any(name.endswith("-delete.parquet") for name in orphans), orphans
    assert any(not name.endswith("-delete.parquet") for name in orphans), orphans
    orphan_bytes = sum((table_dir / name).stat().st_size for name in orphans)
    assert orphan_bytes > 100_000

    # The next load of the dataset deletes them and keeps every referenced file.
    again = load_dataset(workspace, spec)
    assert again.status == "published"
    left = {p.name for p in table_dir.iterdir()}
    assert not left & orphans, left & orphans
    assert live_files <= left  # the old version's files stay: it is still readable
    assert left <= _referenced(workspace)
    assert _checksum(workspace) == _source_checksum(kept, source, below=ROWS // 2)
    assert _checksum(workspace)[0] == ROWS + ROWS // 2
    assert _checksum(workspace, first.snapshot_id) == old_checksum
    assert [r["status"] for r in loads(workspace, "people")] == ["published", "failed", "published"]


def test_files_of_other_tables_and_referenced_files_are_never_touched(tmp_path):
    """Only the loaded dataset's own folder is cleaned, and only of unknown Parquet files."""
    workspace = Workspace(tmp_path / "ws").ensure()
    for name in ("a", "b"):
        source = workspace.root / "sources" / f"{name}.csv"
        _write_rows(source, 0, 100, name)
    specs = {
        name: write_spec(
            tmp_path / "datasets",
            name,
            workspace.root / "sources" / f"{name}.csv",
            columns=COLUMNS,
        )
        for name in ("a", "b")
    }
    for spec in specs.values():
        assert load_dataset(workspace, spec).status == "published"
    stray_a = workspace.lake_dir / "main" / "a" / "ducklake-stray.parquet"
    stray_b = workspace.lake_dir / "main" / "b" / "ducklake-stray.parquet"
    note = workspace.lake_dir / "main" / "a" / "README.txt"
    for path in (stray_a, stray_b):
        path.write_bytes(b"PAR1")
    note.write_text("not a data file")
    _write_rows(workspace.root / "sources" / "a.csv", 0, 50, "a2")
    assert load_dataset(workspace, specs["a"]).rows == 50
    assert not stray_a.exists()
    assert stray_b.exists()  # b was not loaded: its folder is b's load's business
    assert note.exists()  # only Parquet files are data files
    assert {p.name for p in (workspace.lake_dir / "main" / "a").glob("*.parquet")} <= _referenced(
        workspace
    )
