"""Grants (共享授权, issue 13): a real workspace, a real load into the lake, the real store.
Creating and revoking grants, what access each principal gets (owner, grant, open, none),
several grants combined, expiry and revocation stopping access at once — also inside an open
analyst session — and the audit records of it all. The CLI (`mulu grants`, `mulu sql`) runs
through typer's runner against the same workspace."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from loading_fixtures import ROSTER_HEADER, ROSTER_ROWS, write_csv, write_spec
from module_stores import STORE_PARAMS, copied_store, module_store
from typer.testing import CliRunner

from catalog.directory import Directory
from catalog.sharing.analyst import open_session_for
from catalog.sharing.audit import AuditLog
from catalog.sharing.grants import Grants
from catalog.sharing.users import UserAccounts
from schemas.dataset_spec import load_spec
from schemas.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthenticated
from schemas.principal import Principal
from warehouse.analyst import describe_session, run_query
from warehouse.load import load_dataset
from warehouse.masking import mask_value
from warehouse.store import Store
from warehouse.workspace import Workspace

pytestmark = pytest.mark.both_stores

CODE = "301005/000012"
OTHER = "301005/000013"
NOW = dt.datetime(2026, 12, 7, 10, 0)
PASSWORD = "correct horse battery"


class Clock:
    def __init__(self, now: dt.datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


def build(workspace: Workspace, directory, tmp_path: Path) -> None:
    """Three organisations, five users, the 低保 roster loaded (民政局 provides it) and a second
    dataset open to the public (无条件开放)."""
    directory.create(
        {
            "code": CODE,
            "name": "城乡低保对象",
            "provider_name": "区民政局",
            "provider_code": "MZJ",
            "share_type": "有条件共享",
            "update_cycle": "每月",
        }
    )
    directory.create(
        {
            "code": OTHER,
            "name": "低保统计（开放）",
            "provider_name": "区民政局",
            "provider_code": "MZJ",
            "share_type": "无条件共享",
            "open_type": "无条件开放",
            "update_cycle": "每月",
        }
    )
    directory.create(
        {
            "name": "社保卡",
            "provider_name": "区人社局",
            "provider_code": "RSJ",
            "share_type": "无条件共享",
            "update_cycle": "每日",
        }
    )
    directory.create(
        {
            "name": "数据目录",
            "provider_name": "区数据局",
            "provider_code": "SJJ",
            "share_type": "无条件共享",
            "update_cycle": "每日",
        }
    )
    accounts = UserAccounts(directory.store)
    for login, org, roles in (
        ("alice", "RSJ", ["analyst"]),
        ("carol", "RSJ", ["analyst"]),
        ("bob", "MZJ", ["officer"]),
        ("stew", "SJJ", ["steward"]),
        ("root", "SJJ", ["admin"]),
    ):
        accounts.add(login, org=org, name=login, roles=roles, actor="test")
    source = write_csv(tmp_path / "src" / "roster.csv", ROSTER_HEADER, ROSTER_ROWS)
    folder = workspace.datasets_dir / "mzj"
    assert load_dataset(workspace, write_spec(folder, "dibao", source)).status == "published"
    write_spec(folder, "dibao_open", source)
    path = folder / "dibao_open.yaml"  # the same roster, serving the open entry
    path.write_text(path.read_text(encoding="utf-8").replace(CODE, OTHER), encoding="utf-8")
    assert load_dataset(workspace, load_spec(path)).status == "published"


@pytest.fixture(scope="module", params=STORE_PARAMS)
def built(request, tmp_path_factory) -> Iterator[Path]:
    """The workspace built once per module and store (loading takes seconds); tests get a
    copy (tests/module_stores.py)."""
    root = tmp_path_factory.mktemp("grants")
    workspace = Workspace(root / "ws").ensure()
    with module_store(request, workspace):
        directory = Directory.open(workspace, user="tester")
        try:
            build(workspace, directory, root)
        finally:
            directory.close()
        yield workspace.root


@pytest.fixture
def workspace(built, tmp_path) -> Iterator[Workspace]:
    copy = Workspace(shutil.copytree(built, tmp_path / "ws"))
    with copied_store(Workspace(built), copy):
        yield copy


@pytest.fixture
def shared(workspace) -> Iterator[tuple[Grants, Clock, dict[str, Principal]]]:
    clock = Clock()
    with Store.open(workspace) as store:
        accounts = UserAccounts(store)
        people = {
            login: accounts.principal(login, via="password")
            for login in ("alice", "carol", "bob", "stew", "root")
        }
        yield Grants(store, workspace, clock=clock), clock, people


def later(days: int = 30) -> dt.datetime:
    return NOW + dt.timedelta(days=days)


# --- creating and revoking ----------------------------------------------------------------
def test_a_steward_grants_and_revokes_and_both_are_audited(shared):
    grants, clock, p = shared
    grant = grants.create(
        p["stew"],
        dataset="dibao",
        purpose="低保复核",
        expires_at=later(),
        grantee_login="alice",
        columns=["person_name", "household_size"],
    )
    assert grant["status"] == "live"
    assert grant["columns"] == ["person_name", "household_size"]
    assert grant["entry_code"] == CODE
    assert grant["created_by"] == "stew"
    assert [g["id"] for g in grants.list(login="alice")] == [grant["id"]]
    assert grants.list(dataset="dibao_open") == []
    with pytest.raises(InvalidInput, match="理由"):
        grants.revoke(p["stew"], grant["id"], reason="  ")
    revoked = grants.revoke(p["stew"], grant["id"], reason="项目结束")
    assert revoked["status"] == "revoked"
    assert revoked["revoke_reason"] == "项目结束"
    with pytest.raises(Conflict):
        grants.revoke(p["stew"], grant["id"], reason="again")
    assert grants.list(login="alice", live_only=True) == []
    decisions = AuditLog(grants.store).entries(grant_id=grant["id"], newest_first=False)
    assert [(d["action"], d["actor"]) for d in decisions] == [
        ("grant", "stew"),
        ("revoke", "stew"),
    ]
    assert decisions[1]["detail"]["reason"] == "项目结束"


def test_only_stewards_grant_unless_the_workflow_checked_its_own_step(shared):
    grants, _, p = shared
    for who in (p["alice"], p["bob"]):
        with pytest.raises(Forbidden):
            grants.create(
                who, dataset="dibao", purpose="x", expires_at=later(), grantee_login="alice"
            )
    with pytest.raises(Unauthenticated):
        grants.create(
            Principal.anonymous(),
            dataset="dibao",
            purpose="x",
            expires_at=later(),
            grantee_login="alice",
        )
    made = grants.create(
        p["bob"],
        dataset="dibao",
        purpose="审批通过",
        expires_at=later(),
        grantee_org="RSJ",
        check_policy=False,
    )
    assert made["grantee_org"] == "RSJ"
    with pytest.raises(Forbidden):
        grants.revoke(p["alice"], made["id"], reason="no")
    assert (
        grants.create(  # admin holds every role
            p["root"], dataset="dibao", purpose="x", expires_at=later(), grantee_login="carol"
        )["created_by"]
        == "root"
    )


@pytest.mark.parametrize(
    ("change", "error", "words"),
    [
        ({"dataset": "nope"}, NotFound, "nope"),
        ({"columns": ["salary"]}, InvalidInput, "salary"),
        ({"unmasked": ["household_size"]}, InvalidInput, "个人信息"),
        ({"columns": ["household_size"], "unmasked": ["id_card_no"]}, InvalidInput, "授权字段"),
        ({"grantee_org": "RSJ"}, InvalidInput, "只能是一个"),
        ({"grantee_login": None}, InvalidInput, "只能是一个"),
        ({"grantee_login": "nobody"}, NotFound, "nobody"),
        ({"grantee_login": None, "grantee_org": "XXX"}, NotFound, "XXX"),
        ({"expires_at": NOW}, InvalidInput, "晚于现在"),
        ({"expires_at": NOW - dt.timedelta(days=1)}, InvalidInput, "晚于现在"),
        ({"purpose": " "}, InvalidInput, "用途"),
        ({"row_filter": {"salary": ["1"]}}, InvalidInput, "salary"),
        ({"row_filter": {"household_size": []}}, InvalidInput, "取值"),
    ],
)
def test_a_grant_that_does_not_fit_the_spec_is_refused(shared, change, error, words):
    grants, _, p = shared
    asked = {
        "dataset": "dibao",
        "purpose": "复核",
        "expires_at": later(),
        "grantee_login": "alice",
        **change,
    }
    with pytest.raises(error, match=words):
        grants.create(p["stew"], **asked)
    assert grants.list() == []


# --- access ---------------------------------------------------------------------------------
def test_the_providing_organisation_reads_its_own_data_in_clear(shared):
    grants, _, p = shared
    access = grants.access(p["bob"], "dibao")
    assert access.basis == "owner"
    assert access.masked == frozenset()
    assert access.columns == (
        "person_name",
        "id_card_no",
        "household_size",
        "monthly_allowance",
        "approved_on",
    )
    assert access.pii == {"person_name", "id_card_no"}


def test_without_a_grant_others_are_refused_and_open_data_is_masked_for_anyone(shared):
    grants, _, p = shared
    with pytest.raises(Forbidden, match="授权"):
        grants.access(p["alice"], "dibao")
    with pytest.raises(Unauthenticated):
        grants.access(Principal.anonymous(), "dibao")
    with pytest.raises(NotFound):
        grants.access(p["alice"], "nope")
    for who in (Principal.anonymous(), p["alice"]):
        open_data = grants.access(who, "dibao_open")
        assert open_data.basis == "open"
        assert open_data.masked == {"person_name", "id_card_no"}
    assert [a.dataset for a in grants.readable(Principal.anonymous())] == ["dibao_open"]
    assert [a.dataset for a in grants.readable(p["bob"])] == ["dibao", "dibao_open"]
    assert grants.access_for_entry(p["bob"], CODE).dataset == "dibao"
    with pytest.raises(NotFound):
        grants.access_for_entry(p["bob"], "999999/000001")


def test_a_grant_gives_its_columns_rows_and_unmasked_pii_only(shared):
    grants, _, p = shared
    grant = grants.create(
        p["stew"],
        dataset="dibao",
        purpose="复核",
        expires_at=later(),
        grantee_login="alice",
        columns=["person_name", "id_card_no", "household_size"],
        unmasked=["person_name"],
        row_filter={"household_size": ["1", "3"]},
    )
    access = grants.access(p["alice"], "dibao")
    assert access.basis == "grant"
    assert access.grant_id == grant["id"]
    assert access.columns == ("person_name", "id_card_no", "household_size")
    assert access.masked == {"id_card_no"}
    assert access.row_filter == (("household_size", ("1", "3")),)
    assert access.purpose == "复核"
    assert access.expires_at == later().isoformat()
    with pytest.raises(Forbidden):  # a grant to alice is not one to her colleague
        grants.access(p["carol"], "dibao")


def test_a_grant_to_an_organisation_serves_its_users_and_grants_combine(shared):
    grants, _, p = shared
    grants.create(
        p["stew"],
        dataset="dibao",
        purpose="统计",
        expires_at=later(10),
        grantee_org="RSJ",
        columns=["household_size", "monthly_allowance"],
        row_filter={"household_size": ["1", "3", "5"]},
    )
    assert grants.access(p["carol"], "dibao").columns == ("household_size", "monthly_allowance")
    grants.create(
        p["stew"],
        dataset="dibao",
        purpose="复核",
        expires_at=later(20),
        grantee_login="alice",
        columns=["person_name", "id_card_no"],
        unmasked=["id_card_no"],
        row_filter={"household_size": ["3", "4"]},
    )
    both = grants.access(p["alice"], "dibao")
    assert both.columns == ("person_name", "id_card_no", "household_size", "monthly_allowance")
    assert both.masked == {"person_name"}
    assert both.row_filter == (("household_size", ("3",)),)  # every grant's filter holds
    assert both.expires_at == later(10).isoformat()
    assert [g["grantee_login"] or g["grantee_org"] for g in grants.mine(p["alice"])] == [
        "alice",
        "RSJ",
    ]


def test_expiry_and_revocation_stop_access_at_once(shared):
    grants, clock, p = shared
    grant = grants.create(
        p["stew"],
        dataset="dibao",
        purpose="复核",
        expires_at=NOW + dt.timedelta(hours=1),
        grantee_login="alice",
    )
    assert grants.access(p["alice"], "dibao").basis == "grant"
    clock.now = NOW + dt.timedelta(hours=1)
    with pytest.raises(Forbidden):
        grants.access(p["alice"], "dibao")
    assert grants.get(grant["id"])["status"] == "expired"
    clock.now = NOW
    grants.revoke(p["stew"], grant["id"], reason="停止")
    with pytest.raises(Forbidden):
        grants.access(p["alice"], "dibao")
    assert grants.readable(p["alice"])[0].dataset == "dibao_open"


# --- the analyst session --------------------------------------------------------------------
@pytest.mark.slow
def test_an_analyst_session_holds_the_grant_and_records_each_read(shared, workspace):
    grants, clock, p = shared
    grant = grants.create(
        p["stew"],
        dataset="dibao",
        purpose="复核",
        expires_at=later(),
        grantee_login="alice",
        columns=["person_name", "id_card_no", "household_size"],
        unmasked=["person_name"],
        row_filter={"household_size": ["1", "3"]},
    )
    store = grants.store
    with open_session_for(store, workspace, p["alice"], clock=clock) as session:
        columns, rows = run_query(session, "SELECT * FROM dibao ORDER BY household_size")
        assert columns == ["person_name", "id_card_no", "household_size"]
        assert rows == [
            ("李四", mask_value("110101198507151234"), 1),
            ("张三", mask_value("010101199003074514"), 3),
        ]
        run_query(session, "SELECT count(*) FROM dibao_open")
        run_query(session, 'SELECT * FROM "DIBAO"/* quoted, a comment */ LIMIT 1')
        session.execute("CREATE VIEW names AS SELECT person_name FROM dibao")
        session.execute("CREATE MACRO few() AS TABLE SELECT * FROM names")
        run_query(session, "FROM few()")
        session.execute("PREPARE p AS SELECT * FROM dibao WHERE household_size = ?")
        run_query(session, "EXECUTE p(3)")
        run_query(session, "SELECT 1; SELECT * FROM dibao")
    reads = AuditLog(store).entries(action="access", newest_first=False)
    assert [(r["dataset"], r["rows"], r["grant_id"], r["channel"]) for r in reads] == [
        ("dibao", 2, grant["id"], "sql"),
        ("dibao_open", 1, None, "sql"),
        ("dibao", 1, grant["id"], "sql"),
        ("dibao", 2, grant["id"], "sql"),  # through the view and the macro (defining: none)
        ("dibao", 1, grant["id"], "sql"),  # the prepared statement, when executed
        ("dibao", 2, grant["id"], "sql"),  # the second of two statements
    ]
    assert reads[0]["columns"] == ["person_name", "id_card_no", "household_size"]
    assert reads[0]["actor"] == "alice"
    assert reads[0]["purpose"] == "复核"


@pytest.mark.slow
def test_a_revoked_or_expired_grant_drops_its_table_inside_an_open_session(shared, workspace):
    grants, clock, p = shared
    first = grants.create(
        p["stew"], dataset="dibao", purpose="复核", expires_at=later(), grantee_login="alice"
    )
    store = grants.store
    session = open_session_for(store, workspace, p["alice"], clock=clock)
    run_query(session, "CREATE TABLE mine AS SELECT * FROM dibao")
    run_query(session, "CREATE VIEW v AS SELECT person_name FROM dibao_open")
    assert run_query(session, "SELECT count(*) FROM mine")[1] == [(4,)]
    grants.revoke(p["stew"], first["id"], reason="停止")
    with pytest.raises(Exception, match="dibao"):
        run_query(session, "SELECT * FROM dibao")
    assert any("dibao" in n for n in session.take_notices())
    with pytest.raises(Exception, match="mine"):  # the analyst's copy went with it
        run_query(session, "SELECT * FROM mine")
    assert run_query(session, "SELECT count(*) FROM dibao_open")[1] == [(4,)]  # open data stays
    session.close()

    grants.create(
        p["stew"],
        dataset="dibao",
        purpose="复核",
        expires_at=NOW + dt.timedelta(minutes=5),
        grantee_login="alice",
    )
    session = open_session_for(store, workspace, p["alice"], clock=clock)
    assert run_query(session, "SELECT count(*) FROM dibao")[1] == [(4,)]
    clock.now = NOW + dt.timedelta(minutes=5)
    with pytest.raises(Exception, match="dibao"):
        run_query(session, "SELECT count(*) FROM dibao")
    session.close()
    creates = AuditLog(store).entries(action="access", dataset="dibao", newest_first=False)
    assert [r["rows"] for r in creates] == [4, 1]  # CREATE TABLE mine AS …: 4 rows copied


# --- the command line -----------------------------------------------------------------------
def cli(workspace: Workspace, *args: str, user: str | None = None, stdin: str | None = None):
    from mulu.cli import app

    env = {"MULU_HOME": str(workspace.root), "COLUMNS": "200"}
    if user:
        env.update(MULU_USER=user, MULU_PASSWORD=PASSWORD)
    return CliRunner().invoke(app, list(args), env=env, input=stdin)


@pytest.mark.slow
def test_grants_on_the_command_line_and_mulu_sql_as_the_grantee(shared, workspace):
    accounts = UserAccounts(shared[0].store)
    for login in ("alice", "stew"):
        accounts.set_password(login, PASSWORD, actor="test")
    result = cli(
        workspace,
        "grants",
        "add",
        "dibao",
        "--login",
        "alice",
        "--purpose",
        "复核",
        "--days",
        "30",
        "--column",
        "person_name",
        "--column",
        "id_card_no",
        "--json",
        user="stew",
    )
    assert result.exit_code == 0, result.output
    grant = json.loads(result.stdout)
    assert grant["columns"] == ["person_name", "id_card_no"]
    refused = cli(
        workspace,
        "grants",
        "add",
        "dibao",
        "--login",
        "carol",
        "--purpose",
        "x",
        "--days",
        "3",
        user="alice",
    )
    assert refused.exit_code != 0
    mine = cli(workspace, "grants", "mine", "--json", user="alice")
    assert [g["id"] for g in json.loads(mine.stdout)] == [grant["id"]]
    listed = cli(workspace, "grants", "list", "--dataset", "dibao", user="stew")
    assert "alice" in listed.stdout

    query = cli(workspace, "sql", "SELECT * FROM dibao ORDER BY 1", "--json", user="alice")
    assert query.exit_code == 0, query.output
    rows = json.loads(query.stdout)
    assert list(rows[0]) == ["person_name", "id_card_no"]
    assert {r["id_card_no"] for r in rows} >= {mask_value("110101198507151234")}
    escape = cli(workspace, "sql", "SELECT * FROM entries", user="alice")
    assert escape.exit_code != 0
    attach = cli(workspace, "sql", f"ATTACH '{workspace.metadata_db}'", user="alice")
    assert attach.exit_code == 5
    full = cli(workspace, "sql", "--local-admin", "SELECT count(*) AS n FROM entries", "--json")
    assert full.exit_code == 0
    assert json.loads(full.stdout) == [{"n": 4}]

    revoked = cli(workspace, "grants", "revoke", str(grant["id"]), "--reason", "结束", user="stew")
    assert revoked.exit_code == 0, revoked.output
    gone = cli(workspace, "sql", "SELECT * FROM dibao", user="alice")
    assert gone.exit_code != 0
    with Store.open(workspace) as store:
        reads = AuditLog(store).entries(action="access", actor="alice")
    assert [(r["dataset"], r["rows"]) for r in reads] == [("dibao", 4)]


@pytest.mark.slow
def test_the_shell_of_a_per_user_session_in_a_real_process(shared, workspace):
    grants, _, p = shared
    grants.create(
        p["stew"],
        dataset="dibao",
        purpose="复核",
        expires_at=dt.datetime.now() + dt.timedelta(days=3),
        grantee_login="alice",
        columns=["person_name", "household_size"],
    )
    UserAccounts(grants.store).set_password("alice", PASSWORD, actor="test")
    env = {**os.environ, "MULU_HOME": str(workspace.root), "COLUMNS": "200"}
    env.update(MULU_USER="alice", MULU_PASSWORD=PASSWORD)
    shell = subprocess.run(
        [str(Path(sys.executable).with_name("mulu")), "sql"],
        input=".help\n.tables\nSELECT sum(household_size) AS n FROM dibao;\n"
        "SELECT * FROM entries;\nSELECT person_name FROM dibao WHERE household_size = 3;\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert shell.returncode == 1, shell.stderr  # piped input: a statement failed
    assert "only the datasets granted to" in shell.stdout
    assert "alice" in shell.stdout
    assert "dibao_open" in shell.stdout  # .tables: open data too
    assert "授权 grant" in shell.stdout
    assert "开放数据 open data" in shell.stdout
    assert "9" in shell.stdout  # 3 + 1 + 5
    assert "entries does not exist" in shell.stderr
    assert mask_value("张三") in shell.stdout
    reads = AuditLog(grants.store).entries(action="access", actor="alice", newest_first=False)
    assert [(r["dataset"], r["rows"], r["remote"] is not None) for r in reads] == [
        ("dibao", 1, True),
        ("dibao", 1, True),
    ]


@pytest.mark.slow
def test_a_grant_revoked_while_the_shell_is_open_is_gone_at_the_next_statement(shared, workspace):
    grants, _, p = shared
    grant = grants.create(
        p["stew"],
        dataset="dibao",
        purpose="复核",
        expires_at=dt.datetime.now() + dt.timedelta(days=3),
        grantee_login="alice",
    )
    UserAccounts(grants.store).set_password("alice", PASSWORD, actor="test")
    env = {**os.environ, "MULU_HOME": str(workspace.root), "PYTHONUNBUFFERED": "1"}
    env.update(MULU_USER="alice", MULU_PASSWORD=PASSWORD, COLUMNS="200")
    shell = subprocess.Popen(
        [str(Path(sys.executable).with_name("mulu")), "sql"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert shell.stdin is not None
        assert shell.stdout is not None
        shell.stdin.write("SELECT count(*) AS first_count FROM dibao;\n")
        shell.stdin.flush()
        while "row" not in (line := shell.stdout.readline()):
            assert line, "the shell ended early"
        grants.revoke(p["stew"], grant["id"], reason="立即停止")
        out, err = shell.communicate("SELECT count(*) FROM dibao;\n", timeout=120)
    finally:
        if shell.poll() is None:
            shell.kill()
    assert "授权已结束，已移除：dibao" in err
    # DuckDB's own error, or the session's Chinese one naming the missing grant
    assert "dibao does not exist" in err or "没有数据集 dibao 的共享授权" in err
    assert shell.returncode == 1


def test_a_one_off_query_copies_only_the_datasets_it_names(shared, workspace):
    grants, clock, p = shared
    with open_session_for(
        grants.store, workspace, p["bob"], clock=clock, datasets={"DIBAO", "select"}
    ) as session:
        assert [o.name for o in describe_session(session)] == ["dibao"]
    with open_session_for(grants.store, workspace, p["bob"], clock=clock) as session:
        assert [o.name for o in describe_session(session)] == ["dibao", "dibao_open"]


# --- several grants never narrow a grant without a row filter (security review, issue 13) ---
@pytest.mark.slow
def test_a_filtered_grant_does_not_narrow_an_unfiltered_one(shared, workspace):
    from warehouse.granted import read_page

    grants, _, p = shared
    grants.create(
        p["stew"],
        dataset="dibao",
        purpose="复核",
        expires_at=later(20),
        grantee_login="alice",
        columns=["person_name", "household_size"],
    )
    assert read_page(workspace, grants.access(p["alice"], "dibao")).total == 4
    grants.create(
        p["stew"],
        dataset="dibao",
        purpose="统计",
        expires_at=later(10),
        grantee_org="RSJ",
        columns=["household_size", "monthly_allowance", "id_card_no"],
        unmasked=["id_card_no"],
        row_filter={"household_size": ["3"]},
    )
    access = grants.access(p["alice"], "dibao")
    assert access.row_filter == ()  # all rows, as before the organisation's grant
    assert read_page(workspace, access).total == 4
    # only what covers every row: the filtered grant's columns stay out, its expiry too
    assert access.columns == ("person_name", "household_size")
    assert access.masked == {"person_name"}
    assert access.expires_at == later(20).isoformat()
    carol = grants.access(p["carol"], "dibao")  # the organisation's grant alone
    assert carol.row_filter == (("household_size", ("3",)),)
    assert read_page(workspace, carol).total == 1


@pytest.mark.slow
def test_filters_on_the_same_column_unite_when_the_columns_allow(shared, workspace):
    from warehouse.granted import read_page

    grants, _, p = shared
    for org_or_login, values in (
        (("grantee_org", "RSJ"), ["3"]),
        (("grantee_login", "alice"), ["1"]),
    ):
        grants.create(
            p["stew"],
            dataset="dibao",
            purpose="统计",
            expires_at=later(),
            columns=["household_size", "monthly_allowance"],
            row_filter={"household_size": values},
            **{org_or_login[0]: org_or_login[1]},
        )
    access = grants.access(p["alice"], "dibao")
    assert access.row_filter == (("household_size", ("1", "3")),)  # not the empty intersection
    assert read_page(workspace, access).total == 2
    assert access.columns == ("household_size", "monthly_allowance")
    # filters on different columns: the conservative intersection (documented)
    grants.create(
        p["stew"],
        dataset="dibao",
        purpose="复核",
        expires_at=later(),
        grantee_login="alice",
        columns=["person_name"],
        row_filter={"person_name": ["张三", "李四"]},
    )
    # filters on different columns: the union is not one filter; their intersection would be
    # empty here (no common household_size), so the two grants on household_size stay the view
    kept = grants.access(p["alice"], "dibao")
    assert kept.row_filter == (("household_size", ("1", "3")),)
    assert kept.columns == ("household_size", "monthly_allowance")
    grants.create(
        p["stew"],
        dataset="dibao",
        purpose="复核",
        expires_at=later(),
        grantee_login="carol",
        columns=["person_name"],
        row_filter={"person_name": ["张三", "李四"]},
    )
    # carol: household_size=3 (her organisation) and person_name in 张三/李四: rows in both
    both = grants.access(p["carol"], "dibao")
    assert both.row_filter == (("household_size", ("3",)), ("person_name", ("张三", "李四")))
    assert both.columns == ("person_name", "household_size", "monthly_allowance")
    assert read_page(workspace, both).total == 1
