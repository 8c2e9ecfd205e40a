"""The CLI acts as an authenticated user under each command's declared policy (issue 13): every
command declares one; a workspace with users refuses anonymous and wrong-role commands (exit
5, naming --user/--token/--local-admin); tokens, passwords and the explicit local admin work
and are what history records; a workspace without users runs as before (local mode).

Real workspaces, real store, real argon2; CliRunner in-process, and the console script in a
real process once."""

from __future__ import annotations

import getpass
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from catalog.directory import Directory
from catalog.sharing.users import UserAccounts
from mulu.cli import app
from mulu.cli.policy import acting, command_policy
from schemas.entry import catalogue_now
from schemas.errors import Forbidden, InvalidInput
from warehouse.store import Store
from warehouse.workspace import Workspace

MULU = str(Path(sys.executable).with_name("mulu"))
MZJ = "11330100MB0000001X"  # 民政局: provides the entry
RSJ = "11330100MB0000002X"  # 人社局: another department
PASSWORD = "正确的马电池订书钉-2026"
ENTRY = {
    "name": "城乡低保对象信息",
    "provider_name": "示范区民政局",
    "share_type": "有条件共享",
    "share_condition": "仅限社会救助业务使用",
    "update_cycle": "每月",
    "summary": "城乡最低生活保障对象名单",
}
# `mulu whoami` once the root registers it (mulu/cli/__init__.py), else `mulu users whoami`.
WHOAMI = (
    ("whoami",)
    if "whoami" in getattr(typer.main.get_command(app), "commands", {})
    else ("users", "whoami")
)
CLEAN_ENV: dict[str, str | None] = {
    "MULU_USER": None,
    "MULU_PASSWORD": None,
    "MULU_TOKEN": None,
    "COLUMNS": "200",
}


# --- every command declares its policy ------------------------------------------------------
def _commands(command: Any, path: str) -> list[tuple[str, Any]]:
    """Every command that runs code of its own: leaves, and groups that run without a
    subcommand (``mulu freshness``). (Typer vendors click: a group is what has commands.)"""
    if getattr(command, "commands", None) is not None:
        found = [(path, command)] if command.invoke_without_command else []
        for name, sub in command.commands.items():
            found += _commands(sub, f"{path} {name}")
        return found
    return [(path, command)]


def test_every_command_declares_a_policy():
    commands = _commands(typer.main.get_command(app), "mulu")
    assert len(commands) > 30
    missing = [path for path, command in commands if command_policy(command.callback) is None]
    assert not missing, f"commands without @requires(policy): {', '.join(missing)}"


def test_a_command_without_a_policy_is_refused():
    bare = typer.Typer()

    @bare.command()
    def nothing(ctx: typer.Context) -> None:
        acting(ctx)

    @bare.command()
    def other() -> None:  # two commands: typer runs `nothing` by name
        pass

    done = CliRunner().invoke(bare, ["nothing"])
    assert isinstance(done.exception, Forbidden)
    assert "未声明权限" in str(done.exception)


# --- behaviour on a real workspace ------------------------------------------------------------
@pytest.fixture
def entry(directory: Directory) -> str:
    directory.add_organisations(
        [{"code": MZJ, "name": "示范区民政局"}, {"code": RSJ, "name": "示范区人社局"}]
    )
    return directory.create(ENTRY)


@pytest.fixture
def tokens(directory: Directory, entry: str) -> dict[str, str]:
    """Users of each role (no passwords: argon2 is slow) and a token each."""
    accounts = UserAccounts(directory.store)
    for login, org, role in (
        ("admin", MZJ, "admin"),
        ("steward", RSJ, "steward"),
        ("mzj.officer", MZJ, "officer"),
        ("rsj.officer", RSJ, "officer"),
        ("rsj.analyst", RSJ, "analyst"),
    ):
        accounts.add(login, org=org, name=login, roles=[role], actor="test")
    found = {
        login: accounts.issue_token(login, name="test", actor="test").secret
        for login in ("admin", "steward", "mzj.officer", "rsj.officer", "rsj.analyst")
    }
    directory.store.close()
    return found


def cli(workspace: Workspace, *args: str, **env: str) -> Any:
    return CliRunner().invoke(
        app,
        ["--home", str(workspace.root), *args],
        env={**CLEAN_ENV, **env},
        catch_exceptions=False,
    )


def history(workspace: Workspace, code: str) -> list[dict[str, Any]]:
    with Store.open(workspace) as store:
        return Directory(store).history(code)


def reports(workspace: Workspace, code: str) -> list[dict[str, Any]]:
    with Store.open(workspace) as store:
        return store.history.updates(code)


def test_without_users_the_workspace_runs_in_local_mode(workspace, directory, entry):
    directory.store.close()
    done = cli(workspace, "freshness", "report", entry, "--json", MULU_USER="区民政局")
    assert done.exit_code == 0, done.output
    assert reports(workspace, entry)[-1]["reported_by"] == "区民政局"
    assert cli(workspace, "catalog", "show", entry, "--json").exit_code == 0
    assert cli(workspace, "catalog", "retire", entry, MULU_USER="管理员").exit_code == 0
    assert history(workspace, entry)[-1]["changed_by"] == "管理员"
    me = json.loads(cli(workspace, *WHOAMI, "--json", MULU_USER="区民政局").stdout)
    assert (me["actor"], me["via"], me["roles"][0]["role"]) == ("区民政局", "local", "admin")
    assert "本地模式" in me["mode"]


def test_a_fresh_folder_is_not_created_by_asking_who_acts(tmp_path):
    done = CliRunner().invoke(app, ["--home", str(tmp_path / "none"), *WHOAMI], env=CLEAN_ENV)
    assert done.exit_code == 0, done.output
    assert not (tmp_path / "none").exists()


def test_anonymous_commands_exit_5_naming_how_to_sign_in(workspace, entry, tokens):
    for args in (
        ("freshness", "report", entry),
        ("catalog", "retire", entry),
        ("catalog", "stats"),  # reads too: the CLI does not filter to open entries
        ("search", "低保"),
        ("freshness",),
        ("users", "add", "x", "--org", MZJ, "--name", "x"),
    ):
        done = cli(workspace, *args)
        assert done.exit_code == Forbidden.exit_code, (args, done.output)
        assert "需要登录身份" in done.stderr, args
        for option in ("--user", "--token", "--local-admin"):
            assert option in done.stderr, (args, option)
    assert reports(workspace, entry) == []
    # Tools that touch no one's data still run.
    assert cli(workspace, "catalog", "mappings", "--json").exit_code == 0
    assert (
        cli(workspace, "sharing", "deadline", "--from", "2026-09-30", "--days", "2").exit_code == 0
    )
    me = json.loads(cli(workspace, *WHOAMI, "--json").stdout)
    assert me["actor"] == "anonymous"


def test_the_wrong_role_exits_5_and_changes_nothing(workspace, entry, tokens):
    analyst = tokens["rsj.analyst"]
    for args in (
        ("freshness", "report", entry),
        ("catalog", "retire", entry),
        ("freshness", "policy", entry, "--cycle", "每季度"),
        ("freshness", "notify", "--webhook", "http://127.0.0.1:9/", "--dry-run"),
        ("run",),
        ("users", "add", "x", "--org", MZJ, "--name", "x"),
        ("users", "list"),
        ("users", "grant-role", "rsj.analyst", "steward"),
    ):
        done = cli(workspace, "--token", analyst, *args)
        assert done.exit_code == Forbidden.exit_code, (args, done.output)
        assert "无权限" in done.output, args
    # Another department's officer: not their organisation's entry.
    done = cli(workspace, "--token", tokens["rsj.officer"], "freshness", "report", entry)
    assert done.exit_code == Forbidden.exit_code
    assert "本单位" in done.output
    assert reports(workspace, entry) == []
    assert history(workspace, entry)[-1]["action"] == "create"
    # A signed-in analyst reads the catalogue's metadata.
    assert cli(workspace, "--token", analyst, "catalog", "show", entry).exit_code == 0


@pytest.mark.slow
def test_a_token_acts_as_its_user_and_is_recorded(workspace, entry, tokens):
    done = cli(workspace, "--token", tokens["mzj.officer"], "freshness", "report", entry)
    assert done.exit_code == 0, done.output
    assert reports(workspace, entry)[-1]["reported_by"] == "mzj.officer"
    # A report dated in the future is refused; today's date alone is now.
    future = cli(
        workspace,
        "--token",
        tokens["mzj.officer"],
        "freshness",
        "report",
        entry,
        "--at",
        "2030-01-01",
    )
    assert future.exit_code == InvalidInput.exit_code, future.output
    assert "不能晚于当前时间" in future.output
    today = catalogue_now().date().isoformat()
    done = cli(
        workspace, "--token", tokens["mzj.officer"], "freshness", "report", entry, "--at", today
    )
    assert done.exit_code == 0, done.output
    # MULU_TOKEN too; the steward for any organisation.
    done = cli(
        workspace,
        "freshness",
        "policy",
        entry,
        "--cycle",
        "每季度",
        "--json",
        MULU_TOKEN=tokens["steward"],
    )
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["set_by"] == "steward"
    done = cli(workspace, "--token", tokens["steward"], "catalog", "retire", entry)
    assert done.exit_code == 0, done.output
    assert history(workspace, entry)[-1]["changed_by"] == "steward"
    me = json.loads(cli(workspace, "--token", tokens["mzj.officer"], *WHOAMI, "--json").stdout)
    assert me["actor"] == "mzj.officer"
    assert me["via"] == "token"
    assert me["org_name"] == "示范区民政局"
    assert [r["role"] for r in me["roles"]] == ["officer"]
    bad = cli(workspace, "--token", "not-a-token", "catalog", "stats")
    assert bad.exit_code == Forbidden.exit_code
    assert "令牌无效" in bad.output
    # A wrong token is refused even for a command that needs no identity.
    assert cli(workspace, "--token", "not-a-token", "catalog", "mappings").exit_code == 5


def test_local_admin_is_explicit_and_recorded_as_such(workspace, entry, tokens):
    done = cli(workspace, "--local-admin", "catalog", "retire", entry, "--reason", "合并")
    assert done.exit_code == 0, done.output
    assert history(workspace, entry)[-1]["changed_by"] == f"local-admin:{getpass.getuser()}"
    done = cli(workspace, "--local-admin", "users", "grant-role", "rsj.analyst", "officer")
    assert done.exit_code == 0, done.output
    with Store.open(workspace) as store:
        event = UserAccounts(store).events("rsj.analyst")[-1]
    assert (event["action"], event["actor"]) == ("grant", f"local-admin:{getpass.getuser()}")


def test_own_tokens_for_anyone_else_admin(workspace, entry, tokens):
    analyst = ["--token", tokens["rsj.analyst"]]
    done = cli(workspace, *analyst, "users", "token", "--name", "notebook", "--json")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["login"] == "rsj.analyst"
    listed = json.loads(cli(workspace, *analyst, "users", "tokens", "--json").stdout)
    assert [t["name"] for t in listed] == ["test", "notebook"]
    for args in (
        ("users", "token", "mzj.officer", "--name", "x"),
        ("users", "tokens", "mzj.officer"),
        ("users", "password", "mzj.officer", "--password-stdin"),
    ):
        refused = cli(workspace, *analyst, *args)
        assert refused.exit_code == Forbidden.exit_code, args
    with Store.open(workspace) as store:
        others = store.users.tokens("mzj.officer")[0]["id"]
    assert cli(workspace, *analyst, "users", "revoke-token", str(others)).exit_code == 5
    done = cli(workspace, "--token", tokens["admin"], "users", "revoke-token", str(others))
    assert done.exit_code == 0, done.output
    # The revoked token no longer works, at once.
    assert cli(workspace, "--token", tokens["mzj.officer"], "catalog", "stats").exit_code == 5


@pytest.mark.slow
def test_user_with_password_and_the_bootstrap(workspace, entry, directory):
    directory.store.close()
    # No users yet: local mode adds the first admin, and says local mode ends.
    done = CliRunner().invoke(
        app,
        ["--home", str(workspace.root), "users", "add", "chief", "--org", MZJ, "--name", "王"]
        + ["--role", "admin", "--password-stdin"],
        input=PASSWORD + "\n",
        env=CLEAN_ENV,
    )
    assert done.exit_code == 0, done.output
    assert "第一个用户" in done.output
    done = cli(workspace, "--user", "chief", "catalog", "retire", entry, MULU_PASSWORD=PASSWORD)
    assert done.exit_code == 0, done.output
    assert history(workspace, entry)[-1]["changed_by"] == "chief"
    wrong = cli(workspace, "--user", "chief", "catalog", "stats", MULU_PASSWORD=PASSWORD + "x")
    assert wrong.exit_code == Forbidden.exit_code
    assert "密码错误" in wrong.output
    # No password and no terminal: refused, saying what is missing.
    missing = cli(workspace, "--user", "chief", "catalog", "stats")
    assert missing.exit_code == Forbidden.exit_code
    assert "MULU_PASSWORD" in missing.output
    # MULU_USER alone does not sign in; for a command needing no identity it is ignored.
    assert cli(workspace, "catalog", "mappings", MULU_USER="chief").exit_code == 0
    # The old `users --as LOGIN` is the root --user now (password required), deprecated.
    done = cli(workspace, "users", "--as", "chief", "whoami", "--json", MULU_PASSWORD=PASSWORD)
    assert done.exit_code == 0, done.output
    assert "deprecated" in done.output


@pytest.mark.slow
def test_the_console_script_refuses_and_accepts(workspace, entry, tokens):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MULU_")}
    env |= {"MULU_HOME": str(workspace.root), "COLUMNS": "200"}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([MULU, *args], capture_output=True, text=True, env=env, check=False)

    refused = run("freshness", "report", entry)
    assert refused.returncode == 5
    assert "需要登录身份" in refused.stderr
    assert "--local-admin" in refused.stderr
    assert "Traceback" not in refused.stderr
    done = run("--token", tokens["mzj.officer"], "freshness", "report", entry)
    assert done.returncode == 0, done.stderr
    done = run("--local-admin", "catalog", "show", entry, "--history", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["history"][-1]["changed_by"] == "mzj.officer"


@pytest.mark.slow
def test_a_review_records_the_signed_in_steward(tmp_path, workspace, directory, entry, tokens):
    """A blocked load (real GE gate): only a steward decides, recorded by login; its failing
    rows are shown to stewards and the provider's officers only."""
    import datetime as dt

    from loading_fixtures import write_csv, write_spec

    from quality.gate import load_validated
    from schemas.identity import make_id_card

    good = make_id_card("320303", dt.date(1980, 1, 2), 5)
    bad = good[:17] + ("0" if good[17] != "0" else "1")  # a wrong check digit blocks the load
    source = write_csv(
        tmp_path / "x" / "低保.csv", ["身份证号", "姓名"], [[good, "张三"], [bad, "李四"]]
    )
    spec = write_spec(
        tmp_path / "specs",
        "dibao",
        source,
        primary_key=["id_card_no"],
        columns=[
            {"name": "id_card_no", "source": "身份证号", "pii": "身份证号", "format": "身份证号"},
            {"name": "person_name", "source": "姓名"},
        ],
    ).model_copy(update={"entry_code": entry})
    with Store.open(workspace) as store:
        result = load_validated(
            store, workspace, spec, today=dt.date(2026, 11, 25), data_docs=False
        )
    assert result.status == "blocked"
    run = result.quality_run_id

    assert cli(workspace, "--token", tokens["mzj.officer"], "quality", "show", run).exit_code == 0
    other = cli(workspace, "--token", tokens["rsj.officer"], "quality", "show", run)
    assert other.exit_code == Forbidden.exit_code
    assert "本单位" in other.output
    refused = cli(workspace, "--token", tokens["mzj.officer"], "quality", "review", run, "--accept")
    assert refused.exit_code == Forbidden.exit_code
    done = cli(
        workspace, "--token", tokens["steward"], "quality", "review", run, "--reject", "--json"
    )
    assert done.exit_code == 0, done.output
    shown = json.loads(
        cli(workspace, "--token", tokens["steward"], "quality", "show", run, "--json").stdout
    )
    assert [r["reviewer"] for r in shown["reviews"]] == ["steward"]


@pytest.mark.slow
def test_cli_passwords_share_the_portals_limit_and_audit(workspace, entry, directory):
    """Wrong passwords on the CLI count against the same per-login limit as the portal's form
    (no way around one through the other) and are in the audit log, channel cli; the
    refusals past the limit are too; a command's own actions record where it ran from."""
    from catalog.sharing.audit import AuditLog
    from catalog.sharing.sessions import MAX_LOGIN_FAILURES

    UserAccounts(directory.store).add(
        "chief", org=MZJ, name="王", roles=["admin"], actor="test", password=PASSWORD
    )
    directory.store.close()
    outputs = [
        cli(workspace, "--user", "chief", "catalog", "stats", MULU_PASSWORD="wrong-password!")
        for _ in range(MAX_LOGIN_FAILURES + 1)
    ]
    assert all(done.exit_code == Forbidden.exit_code for done in outputs)
    assert all("密码错误" in done.output for done in outputs[:MAX_LOGIN_FAILURES])
    assert "失败次数过多" in outputs[-1].output
    # Locked now: even the right password waits (the portal's form would say the same).
    locked = cli(workspace, "--user", "chief", "catalog", "stats", MULU_PASSWORD=PASSWORD)
    assert locked.exit_code == Forbidden.exit_code
    with Store.open(workspace) as store:
        failed = AuditLog(store).entries(action="login_failed", limit=None)
    assert len(failed) == MAX_LOGIN_FAILURES + 2
    assert {e["channel"] for e in failed} == {"cli"}
    assert all(e["detail"]["login"] == "chief" for e in failed)
    assert all(str(e["remote"]).startswith("cli:") for e in failed)


def test_quality_runs_follow_the_webs_rule(workspace, entry, tokens):
    """As on the web (/api/quality/runs): officers and stewards list runs, an analyst may not
    (runs name other organisations' failing loads); officers see their own organisation's."""
    refused = cli(workspace, "quality", "runs", MULU_TOKEN=tokens["rsj.analyst"])
    assert refused.exit_code == Forbidden.exit_code
    assert "无权限" in refused.output
    assert (
        cli(workspace, "quality", "runs", "--json", MULU_TOKEN=tokens["rsj.officer"]).exit_code == 0
    )
