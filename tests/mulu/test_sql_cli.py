"""``mulu sql`` as a signed-in user (issue 13, the new-user findings): a dataset of the workspace
without a grant says so in Chinese and how to apply (exit 5, not DuckDB's "did you mean
duckdb_indexes"); every refusal exits 5 (a locked setting too); the shell leaves on ``\\q``,
``quit`` and ``exit`` as on ``.quit``; ``.tables`` names each table's basis.

A real district (tests/sharing_workflow_fixtures.py), a real load, real tokens; the CLI
in-process (CliRunner)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from sharing_workflow_fixtures import USERS, District, build_district, publish
from typer.testing import CliRunner

from catalog.sharing.grants import Grants
from catalog.sharing.users import UserAccounts
from mulu.cli import app
from schemas.entry import catalogue_now
from warehouse.store import Store
from warehouse.workspace import Workspace

pytestmark = pytest.mark.slow  # a real load

ENV = {"MULU_USER": None, "MULU_PASSWORD": None, "MULU_TOKEN": None, "COLUMNS": "200"}


@pytest.fixture(scope="module")
def district(tmp_path_factory) -> Iterator[tuple[District, dict[str, str]]]:
    root = tmp_path_factory.mktemp("sql_cli")
    workspace = Workspace(root / "ws").ensure()
    with Store.open(workspace) as store:
        found = build_district(workspace, store, root / "sources")
        publish(found)
        accounts = UserAccounts(store)
        tokens = {
            login: accounts.issue_token(login, name="tests", actor="tester").secret
            for login, _, _ in USERS
        }
        yield found, tokens


def sql(district: District, token: str, *args: str, stdin: str | None = None) -> Any:
    return CliRunner().invoke(
        app,
        ["--home", str(district.workspace.root), "--token", token, "sql", *args],
        env=ENV,
        input=stdin,
    )


def test_a_dataset_without_a_grant_says_so_and_how_to_apply(district):
    found, tokens = district
    done = sql(found, tokens["zj_analyst"], f"SELECT * FROM {found.dataset}")
    assert done.exit_code == 5, done.output
    assert f"没有数据集 {found.dataset} 的共享授权 (no grant for {found.dataset})" in done.stderr
    assert f"mulu sharing apply {found.entries['conditional']}" in done.stderr
    assert "duckdb_indexes" not in done.stderr
    # Any other missing table is DuckDB's own error, exit 1.
    other = sql(found, tokens["zj_analyst"], "SELECT * FROM no_such_table")
    assert other.exit_code == 1
    assert "no_such_table" in other.stderr
    assert "共享授权" not in other.stderr


@pytest.mark.parametrize(
    "statement",
    [
        "SET enable_external_access = true",
        "RESET threads",
        "COPY (SELECT 1) TO 'out.csv'",
        "ATTACH 'other.db'",
        "SELECT * FROM read_csv('/etc/hostname')",
    ],
)
def test_every_refusal_exits_5(district, statement):
    found, tokens = district
    done = sql(found, tokens["mz_analyst"], statement)
    assert done.exit_code == 5, (statement, done.output)


@pytest.mark.parametrize("leave", ["\\q", "quit", "exit", "exit;", ".quit", "QUIT"])
def test_the_shell_leaves_on_q_quit_and_exit(district, leave):
    found, tokens = district
    done = sql(
        found, tokens["mz_analyst"], stdin=f"SELECT 41 + 1 AS answer;\n{leave}\nSELECT 'after';\n"
    )
    assert done.exit_code == 0, done.output
    assert "42" in done.stdout
    assert "after" not in done.stdout


def test_the_shell_says_which_grant_is_missing_and_tables_name_the_basis(district):
    found, tokens = district
    done = sql(found, tokens["mz_analyst"], stdin=".tables\n")
    assert done.exit_code == 0, done.output
    assert found.dataset in done.stdout
    assert "本单位" in done.stdout  # the provider's own analyst: owner
    assert "授权 grant" not in done.stdout

    shell = sql(found, tokens["zj_analyst"], stdin=f"SELECT * FROM {found.dataset};\n")
    assert f"没有数据集 {found.dataset} 的共享授权" in shell.stderr
    assert "mulu sharing apply" in shell.stderr

    expires = catalogue_now() + dt.timedelta(days=30)
    grant = Grants(found.store, found.workspace).create(
        found.who["office"],
        dataset=found.dataset,
        purpose="住房保障资格审核",
        expires_at=expires,
        grantee_login="zj_analyst",
        columns=["person_name", "household_size"],
    )
    try:
        granted = sql(found, tokens["zj_analyst"], stdin=".tables\n")
        assert granted.exit_code == 0, granted.output
        assert f"授权 grant {grant['id']}" in granted.stdout
        assert "本单位" not in granted.stdout
    finally:
        Grants(found.store, found.workspace).revoke(
            found.who["office"], grant["id"], reason="测试结束"
        )


def test_the_help_names_every_way_to_leave(district: tuple[District, dict[str, str]]) -> None:
    found, tokens = district
    done = sql(found, tokens["mz_analyst"], stdin=".help\n")
    assert "\\q, quit, exit" in done.stdout
