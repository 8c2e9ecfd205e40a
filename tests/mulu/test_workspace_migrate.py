"""`mulu workspace migrate --to postgresql://…` (issue 14's must-show): the demo workspace moved
from its embedded store into PostgreSQL loses nothing — every table's rows (counted and
checksummed here, independently of the command's own check), the catalogue's exports (JSON and
CSV, byte for byte), the audit log's hash chain — and the copy goes on working (ids continue).
A database that holds data is refused; a copy that comes back different is rolled back.

Real processes (the console script), a real PostgreSQL database per test (tests/postgres_store.py).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from catalog.demo import build_demo
from catalog.demo.users import DEMO_PASSWORD, create_demo_users
from catalog.directory import Directory
from catalog.sharing.audit import AuditLog
from schemas.principal import Principal
from warehouse.store import Store
from warehouse.workspace import Workspace

pytestmark = [pytest.mark.postgresql, pytest.mark.slow]

MULU = str(Path(sys.executable).with_name("mulu"))
SEED = 2024
TODAY = dt.date(2026, 11, 15)
AUDIT_EVENTS = 25


def mulu(home: Path, *args: str, user: str | None = "data.office") -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("MULU_DATABASE_URL", "MULU_TOKEN")}
    env.update({"MULU_HOME": str(home), "COLUMNS": "200"})
    if user:
        env.update({"MULU_USER": user, "MULU_PASSWORD": DEMO_PASSWORD})
    return subprocess.run([MULU, *args], capture_output=True, text=True, env=env, check=False)


def table_digests_sqlite(path: Path) -> dict[str, tuple[int, str]]:
    """Every table of the embedded store but SQLite's own and the search index: (rows, sha256
    of the sorted rows' JSON), the declared columns in name order."""
    con = sqlite3.connect(path)
    try:
        tables = [
            name
            for (name,) in con.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
                "AND name NOT LIKE 'search_%'"
            )
        ]
        out = {}
        for table in tables:
            columns = sorted(r[1] for r in con.execute(f'PRAGMA table_info("{table}")'))
            select = ", ".join(f'"{c}"' for c in columns)
            rows = con.execute(f'SELECT {select} FROM "{table}"')
            out[table] = _digest(rows)
        return out
    finally:
        con.close()


def table_digests_postgres(url: str, tables: dict[str, Any]) -> dict[str, tuple[int, str]]:
    out = {}
    with psycopg.connect(url) as con:
        for table in tables:
            columns = [
                r[0]
                for r in con.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = %s "
                    "AND table_schema = current_schema() AND column_name <> 'rowid'",
                    (table,),
                )
            ]
            select = ", ".join(f'"{c}"' for c in sorted(columns))
            out[table] = _digest(con.execute(f'SELECT {select} FROM "{table}"'))  # type: ignore[arg-type]
    return out


def _digest(rows: Any) -> tuple[int, str]:
    lines = sorted(json.dumps(list(r), ensure_ascii=False) for r in rows)
    return len(lines), hashlib.sha256("\n".join(lines).encode()).hexdigest()


def exports(home: Path, folder: Path) -> dict[str, bytes]:
    folder.mkdir()
    out = {}
    for fmt in ("json", "csv"):
        path = folder / f"catalogue.{fmt}"
        done = mulu(
            home, "catalog", "export", "--format", fmt, "-o", str(path), "--include-retired"
        )
        assert done.returncode == 0, done.stderr
        out[fmt] = path.read_bytes()
    stats = mulu(home, "catalog", "stats", "--json")
    assert stats.returncode == 0, stats.stderr
    out["stats"] = stats.stdout.encode()
    return out


@pytest.fixture
def demo_workspace(tmp_path: Path) -> Workspace:
    """The demo district (343 organisations, 35,700 entries, 236,029 update events), its users
    and token, and a stretch of audit log."""
    workspace = Workspace(tmp_path / "ws").ensure()
    directory = Directory.open(workspace, user="tester")
    try:
        build_demo(directory, seed=SEED, today=TODAY)
        codes = sorted(directory.store.entries.codes())[:50]
        create_demo_users(directory.store, actor="local-admin:tester", entry_codes=codes)
        audit = AuditLog(directory.store)
        who = Principal.local_admin("tester").at(channel="cli", remote="test-host")
        for i in range(AUDIT_EVENTS):
            audit.event(who, "audit_view", detail={"page": i, "note": "审计 ✓"})
    finally:
        directory.close()
    return workspace


def test_the_demo_workspace_moves_to_postgresql_and_loses_nothing(
    demo_workspace: Workspace, postgres_url: str, tmp_path: Path
):
    home = demo_workspace.root
    embedded = exports(home, tmp_path / "embedded")  # signing in writes login_attempts: first
    before = table_digests_sqlite(demo_workspace.metadata_db)
    assert before["entries"][0] == 35_700
    assert before["entry_updates"][0] == 236_029
    assert before["audit_log"][0] >= AUDIT_EVENTS

    started = time.perf_counter()
    done = mulu(home, "--local-admin", "workspace", "migrate", "--to", postgres_url, "--json")
    seconds = time.perf_counter() - started
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    print(f"\nworkspace migrate: {report['rows']:,} rows in {seconds:.1f} s")
    assert all(t["ok"] for t in report["tables"])
    assert {t["table"]: t["rows"] for t in report["tables"]} == {
        table: rows for table, (rows, _sum) in before.items()
    }
    assert report["audit"]["target"]["ok"] is True
    assert report["audit"]["target"]["last_hash"] == report["audit"]["source"]["last_hash"]
    settings = yaml.safe_load(demo_workspace.settings_file.read_text(encoding="utf-8"))
    assert settings == {"database_url": postgres_url}

    # Every row, counted and checksummed here on both sides; the embedded store untouched.
    assert table_digests_postgres(postgres_url, before) == before
    assert table_digests_sqlite(demo_workspace.metadata_db) == before
    # The catalogue read back through the PostgreSQL-backed workspace: the same exports.
    moved = exports(home, tmp_path / "postgresql")
    assert json.loads(moved["stats"]) == json.loads(embedded["stats"])
    assert moved["json"] == embedded["json"]
    assert moved["csv"] == embedded["csv"]

    # It is PostgreSQL now, and it goes on: ids and the audit chain continue after the copy.
    assert mulu(home, "migrate", "--status").returncode == 5  # the data office is no admin
    status = mulu(home, "migrate", "--status", "--json", user="admin")
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["dialect"] == "postgresql"
    assert json.loads(status.stdout)["up_to_date"] is True
    with Store.open(demo_workspace) as store:
        assert store.database.dialect == "postgresql"
        audit = AuditLog(store)
        last = store.audit.last()
        assert last is not None
        seq = audit.event(Principal.local_admin("tester"), "audit_verify")
        assert seq == last["seq"] + 1
        check = audit.verify()
        assert (check.ok, check.checked) == (True, before["audit_log"][0] + 1)
    directory = Directory.open(demo_workspace, user="tester")
    try:
        code = min(directory.store.entries.codes())
        directory.update(code, {"summary": "迁移后的修改"})
        history = directory.history(code)
        assert history[-1]["changes"]["summary"][1] == "迁移后的修改"
    finally:
        directory.close()
    with psycopg.connect(postgres_url) as con:
        top = con.execute("SELECT max(id) FROM entry_history").fetchone()
        assert top is not None
        assert top[0] == before["entry_history"][0] + 1


def small_workspace(tmp_path: Path) -> Workspace:
    from schemas.entry import Organisation

    workspace = Workspace(tmp_path / "small").ensure()
    directory = Directory.open(workspace, user="tester")
    try:
        directory.add_organisations(
            [Organisation(code=f"11330100MB000000{i}X", name=f"示范区部门{i}") for i in range(3)]
        )
    finally:
        directory.close()
    return workspace


def test_a_database_holding_data_is_refused_and_left_as_it_was(tmp_path: Path, postgres_url: str):
    workspace = small_workspace(tmp_path)
    with psycopg.connect(postgres_url) as con:
        con.execute(
            "INSERT INTO organisations (code, name, created_at) VALUES ('X', '已有的', '2026-01-01')"
        )
    done = mulu(workspace.root, "--local-admin", "workspace", "migrate", "--to", postgres_url)
    assert done.returncode == 4, done.stdout
    assert "already holds data" in done.stderr
    assert "organisations" in done.stderr
    with psycopg.connect(postgres_url) as con:
        assert con.execute("SELECT code FROM organisations").fetchall() == [("X",)]
    assert not workspace.settings_file.exists()


def test_a_copy_that_reads_back_different_is_rolled_back(tmp_path: Path, postgres_url: str):
    workspace = small_workspace(tmp_path)
    # A fault of the target's own: it stores one organisation's name changed.
    with psycopg.connect(postgres_url) as con:
        con.execute(
            "CREATE FUNCTION garble() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "IF NEW.code LIKE '%1X' THEN NEW.name := NEW.name || '?'; END IF; RETURN NEW; END $$"
        )
        con.execute(
            "CREATE TRIGGER garble BEFORE INSERT ON organisations "
            "FOR EACH ROW EXECUTE FUNCTION garble()"
        )
    done = mulu(workspace.root, "--local-admin", "workspace", "migrate", "--to", postgres_url)
    assert done.returncode == 1, done.stdout
    assert "rolled back" in done.stderr
    assert "organisations: 3 rows" in done.stderr
    with psycopg.connect(postgres_url) as con:
        assert con.execute("SELECT count(*) FROM organisations").fetchone() == (0,)
    assert not workspace.settings_file.exists()
    status = mulu(workspace.root, "--local-admin", "migrate", "--status", "--json")
    assert json.loads(status.stdout)["dialect"] == "sqlite"
