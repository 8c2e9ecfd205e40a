"""A workspace is relocatable: its metadata keeps no absolute path into it, so a ``cp -a`` copy
(or a moved workspace) works on its own files only. Decisions taken in a copy leave the
original's held files, quarantine, Data Docs and tables exactly as they were (row count,
checksum, file hashes), and the copy publishes and deletes its own.

Also: paths an older Mulu kept absolute are cut to the workspace's layout by migration 009,
whatever root they were written under (the original's, for a copy made before upgrading).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
import subprocess
from pathlib import Path

import duckdb
import pytest
from loading_fixtures import write_csv, write_spec

from catalog.directory import Directory
from catalog.importing.importer import import_file
from catalog.reviews import review
from quality.gate import load_validated
from quality.runs import get_run
from schemas.identity import make_id_card
from warehouse.lake import connect_lake
from warehouse.store import Store
from warehouse.store.schema import migrations, split_sql
from warehouse.workspace import Workspace

pytestmark = pytest.mark.slow

TODAY = dt.date(2026, 11, 25)
COLUMNS = [
    {"name": "id_card_no", "source": "身份证号", "pii": "身份证号", "format": "身份证号"},
    {"name": "person_name", "source": "姓名"},
]
HEADER = ["身份证号", "姓名"]
# Columns that keep a source file's location as the user gave it (the spec's url): the user's
# input, never used to delete anything.
AS_GIVEN = {("quality_runs", "spec"), ("quality_samples", "source_file"), ("loads", "error_file")}


def _card(n: int) -> str:
    return make_id_card("320303", dt.date(1980, 1, 2) + dt.timedelta(days=n), n % 10)


def _bad(n: int) -> str:
    card = _card(n)
    return card[:17] + ("0" if card[17] != "0" else "1")


def _rows(first: int, bad: int | None = None) -> list[list[str]]:
    rows = [[_card(n), f"居民{n}"] for n in range(first, first + 5)]
    if bad is not None:
        rows.append([_bad(bad), "错号"])
    return rows


def _paths_into(db: Path, root: Path) -> set[tuple[str, str]]:
    """(table, column) of every stored value naming a path under ``root`` (a source's url, kept
    as given, aside)."""
    found = set()
    con = sqlite3.connect(db)
    try:
        tables = [
            r[0]
            for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            if not r[0].startswith("sqlite_")
        ]
        for table in tables:
            cursor = con.execute(f'SELECT * FROM "{table}"')
            names = [d[0] for d in cursor.description]
            for row in cursor:
                for column, value in zip(names, row, strict=True):
                    if not isinstance(value, str) or str(root) not in value:
                        continue
                    if (table, column) == ("loads", "sources"):
                        value = json.dumps([{**s, "url": None} for s in json.loads(value)])
                        if str(root) not in value:
                            continue
                    found.add((table, column))
    finally:
        con.close()
    return found - AS_GIVEN


def _table(workspace: Workspace) -> tuple[int, int]:
    con = connect_lake(workspace, read_only=True)
    try:
        return con.sql(
            "SELECT count(*), sum(hash(id_card_no, person_name)) FROM lake.main.dibao"
        ).fetchone()
    finally:
        con.close()


def _hashes(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def original(tmp_path: Path) -> tuple[Workspace, str, list[str]]:
    """A workspace with a live table, two blocked loads (held rows, quarantine, Data Docs) and
    an import of a file inside it: (workspace, entry code, the blocked runs' ids)."""
    workspace = Workspace(tmp_path / "a" / "ws").ensure()
    with Store.open(workspace) as store:
        directory = Directory(store, user="tester")
        code = directory.create(
            {
                "name": "城乡低保对象",
                "provider_name": "区民政局",
                "share_type": "有条件共享",
                "update_cycle": "每月",
            }
        )
        listing = write_csv(
            workspace.sources_dir / "目录.csv",
            ["信息资源名称", "信息资源提供方"],
            [["医疗机构名录", "区卫健委"]],
        )
        import_file(directory, workspace, listing)
        source = write_csv(workspace.sources_dir / "民政局" / "低保.csv", HEADER, _rows(0))
        spec = write_spec(workspace.datasets_dir / "民政局", "dibao", source, columns=COLUMNS)
        spec = spec.model_copy(update={"entry_code": code})
        assert load_validated(store, workspace, spec, today=TODAY).status == "published"
        runs = []
        for first in (10, 20):  # two blocked deliveries
            write_csv(source, HEADER, _rows(first, bad=first + 9))
            blocked = load_validated(store, workspace, spec, today=TODAY)
            assert blocked.status == "blocked"
            runs.append(blocked.quality_run_id)
        run = get_run(store, runs[0])
        assert run["data_docs"]
        assert Path(run["data_docs"]).is_file()
        assert run["quarantine_path"]
        assert Path(run["quarantine_path"]).is_file()
    return workspace, code, runs


def test_the_metadata_keeps_no_absolute_path_into_the_workspace(original):
    workspace, _, runs = original
    assert _paths_into(workspace.metadata_db, workspace.root) == set()
    with Store.open(workspace) as store:  # read back: paths in this workspace
        run = get_run(store, runs[0])
        for key in ("data_docs", "quarantine_path"):
            assert Path(run[key]).is_relative_to(workspace.root)
        assert Path(run["load"]["held_path"]).parent == workspace.held_dir / "dibao"
        load = store.loads.get(runs[0])
        assert Path(load["location"]) == workspace.lake_dir / "main" / "dibao"
        assert all(Path(s["landed_path"]).is_file() for s in load["sources"])


def test_decisions_in_a_copy_leave_the_original_untouched(tmp_path, original):
    workspace, code, (rejected, accepted) = original
    before_table = _table(workspace)
    before_files = {
        name: _hashes(folder)
        for name, folder in (
            ("held", workspace.held_dir),
            ("quarantine", workspace.quarantine_dir),
            ("docs", workspace.quality_docs_dir),
            ("lake", workspace.lake_dir),
        )
    }
    assert len(before_files["held"]) == 2
    copy = Workspace(tmp_path / "b" / "ws")
    copy.root.parent.mkdir(parents=True)
    subprocess.run(["cp", "-a", str(workspace.root), str(copy.root)], check=True)

    with Store.open(copy) as store:
        run = get_run(store, accepted)
        assert Path(run["load"]["held_path"]).is_relative_to(copy.root)
        assert Path(run["data_docs"]).is_relative_to(copy.root)
        held_sum = duckdb.sql(
            "SELECT count(*), sum(hash(id_card_no, person_name)) "
            f"FROM read_parquet('{run['load']['held_path']}')"
        ).fetchone()
        review(store, copy, rejected, action="reject", reviewer="王科长")
        outcome = review(store, copy, accepted, action="accept", reviewer="王科长")
        assert "published as snapshot" in outcome["outcome"]
        assert [u["load_id"] for u in store.history.updates(code)][-1] == accepted
    # The copy worked on its own files: its held files are gone, its table has the rows.
    assert not list(copy.held_dir.rglob("*.parquet"))
    assert _table(copy) == held_sum != before_table
    # The original: every held file, quarantine file, Data Docs page and lake file as it was,
    # the table's rows the same, both runs still waiting.
    assert _table(workspace) == before_table
    assert {
        name: _hashes(folder)
        for name, folder in (
            ("held", workspace.held_dir),
            ("quarantine", workspace.quarantine_dir),
            ("docs", workspace.quality_docs_dir),
            ("lake", workspace.lake_dir),
        )
    } == before_files
    with Store.open(workspace) as store:
        assert [get_run(store, r)["decision"] for r in (rejected, accepted)] == [None, None]
        assert accepted not in [u["load_id"] for u in store.history.updates(code)]
    assert _paths_into(copy.metadata_db, workspace.root) == set()


def test_migration_009_cuts_old_absolute_paths_to_the_layout(tmp_path):
    """Rows as Mulu wrote them before 009, under some other root (a copy's original)."""
    db = tmp_path / "ws" / "catalog.sqlite"
    db.parent.mkdir()
    con = sqlite3.connect(db, isolation_level=None)
    for version, sql in migrations("sqlite"):
        if version >= 9:
            break
        for statement in split_sql(sql):
            con.execute(statement)
        con.execute(f"PRAGMA user_version = {version}")
    old = "/elsewhere/held/.mulu"  # a root that itself contains a layout folder name
    sources = [
        {"url": "/exchange/低保.csv", "sha256": "ab", "landed_path": f"{old}/landing/dibao/ab.csv"}
    ]
    con.execute(
        "INSERT INTO loads (load_id, dataset, status, started_at, held_path, location, sources) "
        "VALUES ('L1', 'dibao', 'blocked', '2026-11-25T10:00:00', ?, ?, ?)",
        (f"{old}/held/dibao/L1.parquet", f"{old}/lake/main/dibao", json.dumps(sources)),
    )
    con.execute(
        "INSERT INTO quality_runs (run_id, dataset, load_id, status, rows, expectations, passed, "
        "errors, warnings, score, today, started_at, finished_at, quarantine_path, data_docs, "
        "spec) VALUES ('L1', 'dibao', 'L1', 'blocked', 1, 1, 0, 1, 0, 0, '2026-11-25', 'x', "
        "'x', ?, ?, '{}')",
        (
            f"{old}/quarantine/dibao/L1.parquet",
            f"{old}/quality/docs/validations/dibao/L1/x/batch.html",
        ),
    )
    con.close()
    workspace = Workspace(db.parent)
    with Store.open(workspace) as store:
        load = store.loads.get("L1")
        assert load["held_path"] == str(workspace.root / "held" / "dibao" / "L1.parquet")
        assert load["location"] == str(workspace.root / "lake" / "main" / "dibao")
        assert load["sources"] == [
            {**sources[0], "landed_path": str(workspace.root / "landing" / "dibao" / "ab.csv")}
        ]
        run = store.quality.run("L1")
        assert run["quarantine_path"] == str(workspace.quarantine_dir / "dibao" / "L1.parquet")
        assert run["data_docs"] == str(
            workspace.quality_docs_dir / "validations" / "dibao" / "L1" / "x" / "batch.html"
        )
    assert _paths_into(db, Path("/elsewhere")) == set()
