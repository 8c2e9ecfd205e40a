"""Analyst access: a real catalogue, a real DuckLake, the shell in a real process, a reader
beside a writing process, and the plain-duckdb recipe exactly as docs/analysts.md gives it."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import re
import sqlite3
import subprocess
import sys
import textwrap
import time
from contextlib import closing
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
import typer
from typer.testing import CliRunner

from mulu.cli.context import set_options
from mulu.cli.sql_command import sql, statement_complete
from warehouse.analyst import (
    catalogue_tables_in,
    describe_session,
    open_session,
    refresh_views,
    run_query,
)
from warehouse.lake import connect_lake
from warehouse.store import Store
from warehouse.workspace import Workspace

REPO = Path(__file__).resolve().parents[2]
DIBAO_CODE = "301005/000012"
DIBAO = {
    "code": DIBAO_CODE,
    "name": "城乡低保对象",
    "provider_name": "区民政局",
    "share_type": "有条件共享",
    "update_cycle": "每月",
    "formats": ["csv", "xlsx"],
}
RECIPIENTS = """
    SELECT * FROM (VALUES
        ('张三', '110101199003074514', '男', 650.00::DECIMAL(10, 2), DATE '2026-09-01'),
        ('李四', '110101199003070000', '男', 700.50::DECIMAL(10, 2), DATE '2026-09-15'),
        ('王芳', '110101199205061234', '女', 650.00::DECIMAL(10, 2), DATE '2026-10-02'))
    AS t(person_name, id_card_no, gender, monthly_allowance, approved_on)"""
# A typer app with only `mulu sql`, until mulu/cli/__init__.py wires the command.
SQL_APP = textwrap.dedent("""
    import typer
    from mulu.cli.context import set_options
    from mulu.cli.sql_command import sql
    app = typer.Typer(add_completion=False)
    app.callback()(set_options)
    app.command("sql")(sql)
    app()
""")


def lake_writer(workspace: Workspace) -> duckdb.DuckDBPyConnection:
    return connect_lake(workspace)


@pytest.fixture
def warehouse(workspace, directory) -> Workspace:
    """A catalogue with two entries and a lake with the 低保 dataset."""
    directory.create(DIBAO)
    directory.create(
        {
            "name": "社保卡申领",
            "provider_name": "区人社局",
            "share_type": "无条件共享",
            "update_cycle": "每日",
        }
    )
    directory.report_update(DIBAO_CODE, at=dt.datetime(2026, 10, 3, 8, 30), source="pipeline")
    writer = lake_writer(workspace)
    writer.execute(f"CREATE TABLE lake.dibao_recipients AS {RECIPIENTS}")
    writer.close()
    return workspace


def sql_app() -> typer.Typer:
    app = typer.Typer(add_completion=False)
    app.callback()(set_options)
    app.command("sql")(sql)
    return app


def run_shell(home: Path, stdin: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-c", SQL_APP, "--home", str(home), "sql"],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
        check=False,
    )


# --- the session ---------------------------------------------------------------------------
@pytest.mark.slow
def test_a_session_joins_datasets_with_the_catalogue_by_plain_names(warehouse):
    con = open_session(warehouse)
    columns, rows = run_query(
        con,
        f"""
        SELECT e.name, e.update_cycle, e.formats, e.updated_at, d.gender, count(*) AS people,
               sum(d.monthly_allowance) AS allowance
        FROM dibao_recipients AS d JOIN entries AS e ON e.code = '{DIBAO_CODE}'
        GROUP BY ALL ORDER BY d.gender""",
    )
    assert columns == [
        "name",
        "update_cycle",
        "formats",
        "updated_at",
        "gender",
        "people",
        "allowance",
    ]
    assert rows == [
        (
            "城乡低保对象",
            "每月",
            ["csv", "xlsx"],
            dt.datetime(2026, 10, 3, 8, 30),
            "女",
            1,
            Decimal("650.00"),
        ),
        (
            "城乡低保对象",
            "每月",
            ["csv", "xlsx"],
            dt.datetime(2026, 10, 3, 8, 30),
            "男",
            2,
            Decimal("1350.50"),
        ),
    ]
    # Qualified names reach the same tables; catalog.* is the catalogue exactly as stored.
    assert run_query(con, "SELECT count(*) FROM lake.dibao_recipients")[1] == [(3,)]
    assert run_query(
        con, f"SELECT updated_at, formats FROM catalog.entries WHERE code = '{DIBAO_CODE}'"
    )[1] == [("2026-10-03T08:30:00", '["csv","xlsx"]')]
    _, updates = run_query(
        con,
        "SELECT u.source, o.name FROM entry_updates u "
        "JOIN entries e USING (code) JOIN organisations o "
        "ON o.code = e.provider_code",
    )
    assert updates == [("pipeline", "区民政局")]
    assert run_query(con, "SELECT * FROM dibao_recipients", limit=2)[1][1][0] == "李四"
    con.close()


@pytest.mark.slow
def test_describe_session_lists_everything_with_row_counts(warehouse):
    writer = lake_writer(warehouse)
    writer.execute("CREATE TABLE lake.entries AS SELECT 1 AS clash")  # the catalogue's name
    writer.execute("CREATE SCHEMA lake.renshe")
    writer.execute("CREATE TABLE lake.renshe.she_bao_ka_shen_ling AS SELECT * FROM range(4)")
    writer.close()
    con = open_session(warehouse)
    con.execute("CREATE TABLE my_notes AS SELECT 'mine' AS note")
    listed = {o.name: (o.source, o.rows) for o in describe_session(con)}
    catalogue = {name: found for name, found in listed.items() if found[0].startswith("catalog.")}
    assert (
        catalogue.items()
        >= {
            "entries": ("catalog.main.entries", 2),
            "organisations": ("catalog.main.organisations", 2),
            "entry_history": ("catalog.main.entry_history", 3),
            "entry_updates": ("catalog.main.entry_updates", 1),
            "imports": ("catalog.main.imports", 0),
            "import_rejects": ("catalog.main.import_rejects", 0),
        }.items()
    )
    with closing(sqlite3.connect(warehouse.metadata_db)) as metadata:  # all catalogue tables
        tables = metadata.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        # not the store's machinery: code allocation, the search index (derived from entries;
        # FTS5 shadow tables) and the users with their password and token hashes
        internal = {"code_sequences", "sqlite_sequence"}
        internal |= {"users", "user_roles", "api_tokens", "user_events"}
        # and sharing's (issue 13): sessions, applications, grants and the audit log
        internal |= {"web_sessions", "login_attempts", "applications", "application_events"}
        internal |= {"grants", "audit_log"}
        assert set(catalogue) == {
            name for (name,) in tables if name not in internal and not name.startswith("search_")
        }
    assert {name: found for name, found in listed.items() if name not in catalogue} == {
        "dibao_recipients": ("lake.main.dibao_recipients", 3),
        "she_bao_ka_shen_ling": ("lake.renshe.she_bao_ka_shen_ling", 4),
        "my_notes": ("session", 1),
        "lake.main.entries": ("lake.main.entries", 1),  # no plain name: the catalogue's wins
    }
    assert run_query(con, "SELECT count(*) FROM she_bao_ka_shen_ling")[1] == [(4,)]
    con.close()


@pytest.mark.slow
def test_a_session_changes_nothing_in_the_workspace(warehouse):
    con = open_session(warehouse)
    for statement in (
        "CREATE TABLE lake.mine AS SELECT 1",
        "INSERT INTO lake.dibao_recipients SELECT * FROM dibao_recipients",
    ):
        with pytest.raises(duckdb.Error, match="read-only"):
            con.execute(statement)
    # The catalogue is a copy the store read when the session opened, as views: not writable.
    for statement in ("DELETE FROM catalog.entries", "UPDATE entries SET name = 'x'"):
        with pytest.raises(duckdb.Error, match="base table|view"):
            con.execute(statement)
    con.execute("CREATE TABLE scratch AS SELECT * FROM dibao_recipients")  # in memory
    con.close()
    again = open_session(warehouse)
    assert run_query(again, "SELECT count(*) FROM entries")[1] == [(2,)]
    assert "scratch" not in {o.name for o in describe_session(again)}
    again.close()


@pytest.mark.slow
def test_a_workspace_without_a_lake_or_catalogue_still_opens(tmp_path, directory, workspace):
    directory.create(DIBAO)
    con = open_session(workspace)  # no lake.sqlite yet
    assert [o.name for o in describe_session(con)][:2] == ["entries", "entry_history"]
    con.close()
    empty = tmp_path / "nothing-here"
    con = open_session(empty)
    assert describe_session(con) == []
    assert run_query(con, "SELECT 42")[1] == [(42,)]
    con.close()
    assert not empty.exists()  # reading never creates a workspace


@pytest.mark.slow
def test_the_catalogue_comes_from_the_store_and_duckdb_never_opens_its_file(warehouse):
    """DuckDB's own SQLite beside Python's sqlite3 on one file in one process drops the
    store's POSIX locks when it closes; the next process to close its connection then deletes
    the WAL under the store (acknowledged writes lost). A session reads the catalogue through
    the store, so the WAL outlives that other process."""
    wal = warehouse.metadata_db.with_name(warehouse.metadata_db.name + "-wal")
    reader = (
        "import sqlite3, sys; con = sqlite3.connect(sys.argv[1]); "
        "con.execute('SELECT count(*) FROM entries').fetchall(); con.close()"
    )
    with Store.open(warehouse) as store:
        assert store.entries.count() == 2  # the store's connection holds the file open
        for session in (open_session(warehouse, store=store), open_session(warehouse)):
            assert run_query(session, "SELECT count(*) FROM entries")[1] == [(2,)]
            session.close()
        subprocess.run([sys.executable, "-c", reader, str(warehouse.metadata_db)], check=True)
        assert wal.exists()
    lake_only = open_session(warehouse, catalogue=False)  # what a page's sample rows need
    assert {o.source.split(".")[0] for o in describe_session(lake_only)} == {"lake"}
    assert run_query(lake_only, "SELECT count(*) FROM dibao_recipients")[1] == [(3,)]
    lake_only.close()


@pytest.mark.slow
def test_a_one_off_query_reads_only_the_catalogue_tables_it_names(warehouse):
    query = "SELECT e.name, count(*) FROM entries e JOIN catalog.entry_updates u USING (code) "
    assert catalogue_tables_in(query + "GROUP BY 1") == {"entries", "entry_updates"}
    assert catalogue_tables_in("SELECT 1; SELECT * FROM loads") == {"loads"}
    # not only SELECTs: cannot tell, so a session reads them all
    assert catalogue_tables_in("CREATE TABLE mine AS SELECT * FROM entries") is None
    con = open_session(warehouse, catalogue=catalogue_tables_in(query + "GROUP BY 1"))
    assert run_query(con, query + "GROUP BY 1")[1] == [("城乡低保对象", 1)]
    assert {o.source for o in describe_session(con) if o.source.startswith("catalog.")} == {
        "catalog.main.entries",
        "catalog.main.entry_updates",
    }
    con.close()


@pytest.mark.slow
def test_views_follow_tables_that_loads_add_and_drop(warehouse):
    con = open_session(warehouse)
    writer = lake_writer(warehouse)
    writer.execute("CREATE TABLE lake.she_bao_ka_shen_ling AS SELECT 1 AS card")
    writer.execute("DROP TABLE lake.dibao_recipients")
    refresh_views(con)
    names = {o.name for o in describe_session(con)}
    assert "she_bao_ka_shen_ling" in names
    assert "dibao_recipients" not in names
    writer.execute("ALTER TABLE lake.she_bao_ka_shen_ling ADD COLUMN town VARCHAR DEFAULT '城关镇'")
    assert run_query(con, "SELECT * FROM she_bao_ka_shen_ling") == (
        ["card", "town"],
        [(1, "城关镇")],
    )
    writer.close()
    con.close()


# --- read-only for real ----------------------------------------------------------------------
def attacks(home: Path, outside: Path) -> list[tuple[str, str]]:
    """Statements that tried to change the workspace or write files (issue 11), each with the
    error it must end in."""
    lake = f"ducklake:sqlite:{home}/lake.sqlite"
    table_dir = home / "lake" / "main" / "dibao_recipients"
    return [
        (
            f"ATTACH '{home}/catalog.sqlite' AS rw (TYPE sqlite); "
            "UPDATE rw.entries SET name = '改了'",
            "refused: ATTACH",
        ),
        (
            f"ATTACH '{lake}' AS lake2 (DATA_PATH '{home}/lake/', OVERRIDE_DATA_PATH true); "
            "DROP TABLE lake2.dibao_recipients",
            "refused: ATTACH",
        ),
        (f"ATTACH '{outside}/new.duckdb' AS mine", "refused: ATTACH"),
        ("DETACH lake", "refused: DETACH"),
        (f"COPY (SELECT 1 AS a) TO '{table_dir}/ducklake-evil.parquet'", "refused: COPY"),
        (f"COPY (SELECT * FROM dibao_recipients) TO '{outside}/out.csv'", "refused: COPY"),
        (f"COPY dibao_recipients TO '{outside}/out.parquet' (FORMAT parquet)", "refused: COPY"),
        (f"EXPORT DATABASE '{home}/lake/exported'", "refused: EXPORT"),
        (f"EXPORT DATABASE '{outside}/out_db'", "refused: EXPORT"),
        ("COPY FROM DATABASE memory TO lake", "refused: COPY FROM DATABASE"),
        (f"IMPORT DATABASE '{home}/lake'", "refused: IMPORT DATABASE"),
        (f"EXPLAIN ANALYZE COPY (SELECT 1) TO '{outside}/out_explain.csv'", "refused: COPY"),
        (f"PREPARE p AS COPY (SELECT 1) TO '{outside}/out_prepared.csv'", "refused: COPY"),
        ("INSTALL spatial", "refused: INSTALL and LOAD"),
        ("LOAD spatial", "refused: INSTALL and LOAD"),
        ("SET enable_external_access = true", "configuration has been locked"),
        ("SET allowed_directories = ['/']", "configuration has been locked"),
        ("RESET lock_configuration", "configuration has been locked"),
        ("SET threads = 1", "configuration has been locked"),
        ("CALL ducklake_cleanup_old_files('lake', cleanup_all => true)", "ducklake_cleanup"),
        ("SELECT * FROM ducklake_expire_snapshots('lake', older_than => now())", "ducklake_exp"),
        ("CALL ducklake_delete_orphaned_files('lake', cleanup_all => true)", "ducklake_delete"),
        (f"CALL sqlite_attach('{home}/lake.sqlite')", "sqlite_attach"),
        (
            "SELECT * FROM query('SELECT * FROM ducklake_' || "
            "'cleanup_old_files(''lake'', cleanup_all => true)')",
            "query() runs SQL built while the query runs",
        ),
        (
            "SELECT * FROM json_execute_serialized_sql(json_serialize_sql("
            "'SELECT * FROM ducklake_' || 'expire_snapshots(''lake'')'))",
            "json_execute_serialized_sql()",
        ),
        (
            "SELECT * FROM \"query\"('SELECT * FROM ducklake_' || "
            "'cleanup_old_files(''lake'', cleanup_all => true)')",
            "query() runs SQL built while the query runs",
        ),
        (
            "SELECT * FROM main.query/**/('SELECT * FROM ducklake_' || "
            "'cleanup_old_files(''lake'', cleanup_all => true)')",
            "query() runs SQL built while the query runs",
        ),
        (
            f"CALL enable_logging('QueryLog', storage = 'file', storage_path = '{table_dir}')",
            "enable_logging",
        ),
        (f"SELECT * FROM sqlite_scan('{home}/catalog.sqlite', 'entries')", "sqlite_scan"),
        (
            f"SELECT * FROM sqlite_query('{home}/lake.sqlite', 'DELETE FROM ducklake_table')",
            "sqlite_query",
        ),
        (f"SELECT * FROM read_csv('{home}/rejects/x.csv')", "Permission Error"),
        ("SELECT * FROM read_text('/etc/hostname')", "Permission Error"),
        ("CREATE TABLE lake.mine AS SELECT 1", "read-only"),
        ("DROP TABLE lake.dibao_recipients", "read-only"),
    ]


def _hashes(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root``. Left out: SQLite's ``-shm`` (shared memory for WAL
    readers, not data: merely reading a WAL database updates its read marks) and an empty
    ``-wal`` (SQLite creates one when a reader opens a WAL database)."""
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
        and not path.name.endswith("-shm")
        and not (path.name.endswith("-wal") and path.stat().st_size == 0)
    }


def _with_quarantine_and_two_versions(warehouse: Workspace) -> None:
    folder = warehouse.quarantine_dir / "dibao_recipients"
    folder.mkdir(parents=True)
    duckdb.execute(
        f"COPY (SELECT '王五' AS person_name, 7 AS _source_row) TO '{folder}/run-1.parquet'"
    )
    writer = lake_writer(warehouse)
    writer.execute(
        "INSERT INTO lake.dibao_recipients VALUES "
        "('赵六', '110101199001011237', '女', 600.00, DATE '2026-11-01')"
    )
    writer.close()


def _ordinary_queries_work(con) -> None:
    assert run_query(con, "SELECT count(*) FROM dibao_recipients")[1] == [(4,)]
    assert run_query(con, "SELECT count(*) FROM entries")[1] == [(2,)]
    first = run_query(
        con,
        "SELECT min(snapshot_id) FROM ducklake_snapshots('lake') "
        "WHERE changes['tables_created'] IS NOT NULL",
    )[1][0][0]
    at = f"SELECT count(*) FROM lake.dibao_recipients AT (VERSION => {first})"
    assert run_query(con, at)[1] == [(3,)]
    assert run_query(con, "SELECT person_name, _run_id FROM quarantine.dibao_recipients")[1] == [
        ("王五", "run-1")
    ]
    run_query(
        con, "CREATE TABLE mine AS SELECT gender, count(*) AS n FROM dibao_recipients GROUP BY ALL"
    )
    assert run_query(con, "SELECT sum(n) FROM mine")[1] == [(4,)]
    run_query(con, "SET VARIABLE cutoff = DATE '2026-10-01'")
    assert run_query(
        con, "SELECT count(*) FROM dibao_recipients WHERE approved_on >= getvariable('cutoff')"
    )[1] == [(2,)]
    assert run_query(con, "EXPLAIN SELECT * FROM dibao_recipients")[0]
    assert "dibao_recipients" in {o.name for o in describe_session(con)}


@pytest.mark.slow
def test_a_session_refuses_every_way_to_write_and_ordinary_queries_still_work(warehouse, tmp_path):
    _with_quarantine_and_two_versions(warehouse)
    outside = tmp_path / "outside"
    outside.mkdir()
    con = open_session(warehouse)
    for statement, error in attacks(warehouse.root, outside):
        with pytest.raises(duckdb.Error, match=re.escape(error)):  # noqa: PT012
            con.execute(statement)
            pytest.fail(f"not refused: {statement}")
        with contextlib.suppress(duckdb.Error):
            con.execute("ROLLBACK")  # a failed statement in a transaction aborts it
        assert run_query(con, "SELECT 1")[1] == [(1,)]
    _ordinary_queries_work(con)
    # A table a load adds while the session is open still gets its plain name.
    writer = lake_writer(warehouse)
    writer.execute("CREATE TABLE lake.she_bao_ka AS SELECT 1 AS card")
    writer.close()
    refresh_views(con)
    assert run_query(con, "SELECT card FROM she_bao_ka")[1] == [(1,)]
    con.close()
    assert list(outside.iterdir()) == []
    with Store.open(warehouse) as store:
        assert store.entries.get(DIBAO_CODE)["name"] == "城乡低保对象"


@pytest.mark.slow
def test_a_session_alone_leaves_every_file_byte_identical(warehouse, tmp_path):
    _with_quarantine_and_two_versions(warehouse)
    before = _hashes(warehouse.root)
    con = open_session(warehouse)
    for statement, _ in attacks(warehouse.root, tmp_path):
        with contextlib.suppress(duckdb.Error):
            con.execute(statement)
        with contextlib.suppress(duckdb.Error):
            con.execute("ROLLBACK")
    _ordinary_queries_work(con)
    con.close()
    assert _hashes(warehouse.root) == before
    assert list(tmp_path.glob("out*")) == []
    assert not (tmp_path / "new.duckdb").exists()


def _catalogue_dump(workspace: Workspace) -> str:
    with closing(sqlite3.connect(f"file:{workspace.metadata_db}?mode=ro", uri=True)) as con:
        return "\n".join(con.iterdump())


def _files_and_catalogue(workspace: Workspace) -> tuple[dict[str, str], str]:
    """Every file's bytes but the catalogue's, and the catalogue's rows: a command's store
    closing may let SQLite move the WAL into catalog.sqlite (the same rows, other bytes)."""
    files = {k: v for k, v in _hashes(workspace.root).items() if not k.startswith("catalog.")}
    return files, _catalogue_dump(workspace)


@pytest.mark.slow
def test_mulu_sql_refuses_writes_with_one_line_and_exit_5(warehouse, tmp_path):
    home = warehouse.root
    mulu = Path(sys.executable).with_name("mulu")
    before = _files_and_catalogue(warehouse)
    for statement in (
        f"ATTACH '{home}/catalog.sqlite' AS rw (TYPE sqlite); UPDATE rw.entries SET name = 'x'",
        f"COPY (SELECT * FROM dibao_recipients) TO '{tmp_path}/dibao.csv'",
    ):
        done = subprocess.run(
            [str(mulu), "--home", str(home), "sql", statement],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "COLUMNS": "80"},
        )
        assert done.returncode == 5, done.stderr
        [line] = done.stderr.strip().splitlines()  # one line, however narrow the terminal
        assert line.startswith("error: refused: ")
        assert line.endswith("docs/analysts.md")
    assert _files_and_catalogue(warehouse) == before
    assert not (tmp_path / "dibao.csv").exists()


@pytest.mark.slow
def test_the_shell_refuses_each_attack_and_goes_on(warehouse, tmp_path):
    _with_quarantine_and_two_versions(warehouse)
    statements = [statement for statement, _ in attacks(warehouse.root, tmp_path)]
    script = "".join(f"{s};\nROLLBACK;\n" for s in statements) + "SELECT 'alive' AS still;\n"
    before = _files_and_catalogue(warehouse)
    done = run_shell(warehouse.root, script)
    assert "alive" in done.stdout
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    refusals = [e for e in errors if "no transaction is active" not in e]
    assert len(refusals) == len(statements), "\n".join(refusals)
    assert done.returncode == 1
    assert _files_and_catalogue(warehouse) == before
    assert list(tmp_path.glob("out*")) == []


# --- mulu sql --------------------------------------------------------------------------------
@pytest.mark.slow
def test_sql_prints_json_with_iso_dates_and_numbers(warehouse):
    result = CliRunner().invoke(
        sql_app(),
        [
            "--home",
            str(warehouse.root),
            "sql",
            "--json",
            f"SELECT d.person_name, d.monthly_allowance, d.approved_on, e.updated_at, e.formats "
            f"FROM dibao_recipients d JOIN entries e ON e.code = '{DIBAO_CODE}' "
            f"ORDER BY d.approved_on",
        ],
    )
    assert result.exit_code == 0, result.output
    objects = json.loads(result.stdout)
    assert objects[0] == {
        "person_name": "张三",
        "monthly_allowance": 650,
        "approved_on": "2026-09-01",
        "updated_at": "2026-10-03T08:30:00",
        "formats": ["csv", "xlsx"],
    }
    assert [o["monthly_allowance"] for o in objects] == [650, 700.5, 650]
    limited = CliRunner().invoke(
        sql_app(),
        ["--home", str(warehouse.root), "sql", "--json", "--limit", "1", "SELECT * FROM range(5)"],
    )
    assert json.loads(limited.stdout) == [{"range": 0}]


@pytest.mark.slow
def test_sql_prints_a_table_and_fails_cleanly_on_bad_sql(warehouse):
    app = sql_app()
    table = CliRunner().invoke(
        app,
        [
            "--home",
            str(warehouse.root),
            "sql",
            "SELECT name, update_cycle FROM entries ORDER BY code",
        ],
    )
    assert table.exit_code == 0, table.output
    assert "城乡低保对象" in table.stdout
    assert "社保卡申领" in table.stdout
    assert "2 rows" in table.stdout
    bad = CliRunner().invoke(
        app, ["--home", str(warehouse.root), "sql", "SELECT * FROM no_such_dataset"]
    )
    assert bad.exit_code == 1
    assert "error:" in bad.stderr
    assert "no_such_dataset does not exist" in bad.stderr
    assert "Traceback" not in bad.output


@pytest.mark.slow
def test_the_installed_mulu_command_runs_sql(warehouse):
    mulu = Path(sys.executable).with_name("mulu")
    done = subprocess.run(
        [
            str(mulu),
            "--home",
            str(warehouse.root),
            "sql",
            "--json",
            "SELECT count(*) AS n FROM dibao_recipients",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [{"n": 3}]


@pytest.mark.slow
def test_the_shell_reads_statements_from_stdin(warehouse):
    done = run_shell(warehouse.root, "select 1;\n.quit\n")
    assert done.returncode == 0, done.stderr
    assert re.search(r"│\s+1\s+│", done.stdout)
    assert "1 row" in done.stdout
    script = (
        "SELECT gender,\n  count(*) AS people -- a comment; not the end\n"
        "FROM dibao_recipients\nGROUP BY gender ORDER BY gender;\n"
        ".tables\n"
        "SELECT 'a;b' AS text;\n"
        "SELECT * FROM nope;\n"
        "SELECT 'still running' AS after_the_error;\n"
        ".quit\n"
        "SELECT 'never run';\n"
    )
    done = run_shell(warehouse.root, script)
    assert re.search(r"│\s+女\s+│\s+1\s+│", done.stdout)
    assert re.search(r"│\s+男\s+│\s+2\s+│", done.stdout)
    assert "catalog.main.entry_updates" in done.stdout  # .tables
    assert "a;b" in done.stdout
    assert "still running" in done.stdout
    assert "never run" not in done.stdout
    assert "error: Catalog Error: Table with name nope does not exist" in done.stderr
    assert "Traceback" not in done.stderr
    assert done.returncode == 1  # piped input with a failed statement, as sqlite3 does


@pytest.mark.parametrize(
    ("text", "complete"),
    [
        ("select 1;", True),
        ("select 1", False),
        ("select ';'", False),
        ("select ';';", True),
        ("select 1; -- done", True),
        ("select 1 -- ;", False),
        ("select /* ; */ 1", False),
        ('select 1 AS "a;"', False),
        ("select $$;$$;", True),
        ("select 'it''s';", True),
    ],
)
def test_statements_end_at_a_semicolon_outside_quotes_and_comments(text, complete):
    assert statement_complete(text) is complete


# --- readers beside a load -------------------------------------------------------------------
READER = textwrap.dedent("""
    import json, sys, time
    from pathlib import Path
    from warehouse.analyst import open_session

    home, stop = Path(sys.argv[1]), Path(sys.argv[2])
    con = open_session(home)
    seen, errors = {}, []
    print("ready", flush=True)
    deadline = time.monotonic() + 120
    while not stop.exists() and time.monotonic() < deadline:
        try:
            rows, batches, entry = con.execute(
                "SELECT count(*), count(DISTINCT d.batch), any_value(e.name) "
                "FROM dibao_recipients d, entries e WHERE e.code = '301005/000012'").fetchone()
            key = f"{rows}/{batches}/{entry}"
            seen[key] = seen.get(key, 0) + 1
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
    print(json.dumps({"seen": seen, "errors": errors[:5]}, ensure_ascii=False))
""")
WRITER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    import duckdb
    from catalog.directory import Directory
    from warehouse.lake import connect_lake
    from warehouse.workspace import Workspace

    workspace, snapshots = Workspace(Path(sys.argv[1])), int(sys.argv[2])
    con = connect_lake(workspace)
    directory = Directory.open(workspace, user="loader")
    rows_of = "SELECT r AS id, {batch} AS batch FROM range({rows}) t(r)"
    slowest = 0.0
    for batch in range(1, snapshots + 1):
        rows = 1000 if batch % 2 else 2000
        started = time.monotonic()
        if batch % 5 == 0:  # a full refresh replaces the table in one snapshot
            con.execute("CREATE OR REPLACE TABLE lake.dibao_recipients AS "
                        + rows_of.format(batch=batch, rows=rows))
        else:
            con.execute("BEGIN")
            con.execute("DELETE FROM lake.dibao_recipients")
            con.execute("INSERT INTO lake.dibao_recipients "
                        + rows_of.format(batch=batch, rows=rows))
            con.execute("COMMIT")
        directory.report_update("301005/000012", source="pipeline", note=f"batch {batch}")
        slowest = max(slowest, time.monotonic() - started)
        time.sleep(0.05)  # let the readers query between snapshots
    print(f"wrote {snapshots} snapshots, slowest {slowest:.2f}s", flush=True)
""")


@pytest.mark.slow
def test_readers_and_a_load_never_block_or_break_each_other(workspace, directory, tmp_path):
    directory.create(DIBAO)
    writer = lake_writer(workspace)
    writer.execute(
        "CREATE TABLE lake.dibao_recipients AS SELECT r AS id, 0 AS batch FROM range(1000) t(r)"
    )
    writer.close()
    stop = tmp_path / "stop"
    readers = [
        subprocess.Popen(
            [sys.executable, "-c", READER, str(workspace.root), str(stop)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )
        for _ in range(2)
    ]
    try:
        for reader in readers:
            assert reader.stdout.readline().strip() == "ready", reader.stderr.read()
        started = time.monotonic()
        load = subprocess.run(
            [sys.executable, "-c", WRITER, str(workspace.root), "20"],
            capture_output=True,
            text=True,
            cwd=REPO,
            timeout=180,
            check=False,
        )
        load_seconds = time.monotonic() - started
    finally:
        stop.touch()
    results = [json.loads(reader.communicate(timeout=60)[0]) for reader in readers]
    assert load.returncode == 0, load.stderr
    written = re.search(r"wrote 20 snapshots, slowest ([0-9.]+)s", load.stdout)
    assert written, load.stdout
    # Readers never held a commit up to SQLite's busy timeout (5 s; in rollback-journal mode
    # commits wait on readers and readers fail with "database is locked").
    assert float(written.group(1)) < 5
    assert load_seconds < 120
    for result in results:
        assert result["errors"] == []
        # Always a whole snapshot: 1000 or 2000 rows of one batch, never a mix or none.
        assert set(result["seen"]) <= {"1000/1/城乡低保对象", "2000/1/城乡低保对象"}
        assert len(result["seen"]) == 2, result  # new snapshots were seen while open
    assert all(reader.returncode == 0 for reader in readers)


# --- the plain-duckdb recipe in docs/analysts.md ---------------------------------------------
def test_the_plain_duckdb_recipe_in_the_docs_runs_as_written(warehouse, monkeypatch, capsys):
    doc = (REPO / "docs" / "analysts.md").read_text(encoding="utf-8")
    [recipe] = re.findall(r"```python\n(.*?)```", doc, flags=re.DOTALL)
    assert "warehouse" not in recipe
    assert "import duckdb" in recipe
    monkeypatch.setenv("MULU_HOME", str(warehouse.root))
    monkeypatch.chdir(warehouse.root.parent)  # nothing depends on where it runs
    namespace: dict = {"__name__": "recipe"}
    exec(compile(recipe, "docs/analysts.md", "exec"), namespace)
    assert namespace["by_gender"] == [
        ("城乡低保对象", "每月", "女", 1, Decimal("650.00")),
        ("城乡低保对象", "每月", "男", 2, Decimal("1350.50")),
    ]
    assert "城乡低保对象" in capsys.readouterr().out
    namespace["con"].close()
