"""CLI tables and help at 80 columns (issue 13, a new user's findings): what one types next (run
ids, 申请编号, dataset names, logins, times) prints whole, never ``…``; free text wraps instead;
``mulu audit list`` refuses an unknown action or channel and shows details as key=value, not
Python dicts; ``grants add`` spells its options as ``sharing answer`` does; help paragraphs are
not broken mid-sentence.

``print_table`` on a real rich console 80 cells wide; the commands in real processes with
``COLUMNS=80`` over a real district (tests/sharing_workflow_fixtures.py, a real load)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.cells import cell_len
from rich.console import Console
from sharing_workflow_fixtures import USERS, District, build_district, publish

from catalog.sharing.users import UserAccounts
from mulu.cli import output
from pipelines.runner import run_datasets
from warehouse.store import Store
from warehouse.workspace import Workspace

MULU = str(Path(sys.executable).with_name("mulu"))
RUN_ID = "20261208T043509-72c4a1f0"
NUMBER = "SQ20261208000123"
DATASET = "contactless_enforcement_cases"
LOGIN = "mzj.officer"
WHEN = "2026-12-08T04:35:09"


def printed(monkeypatch, width: int, *args, **kwargs) -> str:
    """What ``print_table`` prints on a console ``width`` cells wide."""
    out = io.StringIO()
    monkeypatch.setattr(output, "console", Console(file=out, width=width, color_system=None))
    output.print_table(*args, **kwargs)
    return out.getvalue()


def assert_fits(text: str, width: int) -> None:
    assert "…" not in text
    assert max(cell_len(line) for line in text.splitlines()) <= width


def test_identifiers_print_whole_at_80_columns_and_free_text_wraps(monkeypatch):
    text = printed(
        monkeypatch,
        80,
        "待办",
        ["申请编号", "dataset", "提交时间", "用途 purpose"],
        [
            (
                NUMBER,
                DATASET,
                WHEN,
                "用于住房保障资格审核，核对申请人家庭的低保享受情况 (housing checks)",
            )
        ],
    )
    assert_fits(text, 80)
    for whole in (NUMBER, DATASET, WHEN):
        assert whole in text, whole
    assert "housing" in text  # the free text wraps, it is not cut
    users = printed(
        monkeypatch,
        80,
        "演示用户 demo users",
        ["登录名 login", "姓名", "单位 organisation", "角色 role", "演示什么"],
        [
            (
                LOGIN,
                "赵强",
                "示范区民政局",
                "officer",
                "为民政局申请「社保卡申领信息」 (applies for it)",
            ),
            ("data.office", "张敏", "示范区数据局", "steward", "审核共享申请、复核质量校验"),
        ],
    )
    assert_fits(users, 80)
    for whole in (LOGIN, "data.office", "示范区民政局", "steward", "(applies for it)"):
        assert whole in users
    runs = printed(
        monkeypatch,
        80,
        "loads",
        ["dataset", "rows", "status", "quality run"],
        [("social_security_card_applications", 9980, "warned", RUN_ID)],
    )
    assert_fits(runs, 80)
    assert "social_security_card_applications" in runs
    assert RUN_ID in runs


def test_numbers_keep_their_headers_and_a_narrow_terminal_drops_the_rules_first(monkeypatch):
    text = printed(
        monkeypatch,
        80,
        "stats",
        ["单位 organisation", "提供 provided", "申请 applied", "按时 on time", "逾期 overdue"],
        [("11330100MB0000001X", 12, 3, 11, 1)],
    )
    assert_fits(text, 80)
    for word in ("提供", "provided", "申请", "applied", "overdue", "11330100MB0000001X"):
        assert word in text
    narrow = printed(
        monkeypatch,
        70,
        None,
        ["run", "dataset", "status"],
        [(RUN_ID, "social_security_card_applications", "warned")],
    )
    assert_fits(narrow, 70)
    assert "┃" not in narrow  # the lighter rules
    assert RUN_ID in narrow
    assert "social_security_card_applications" in narrow


def test_identifiers_wider_than_the_terminal_fold_rather_than_cut(monkeypatch):
    text = printed(monkeypatch, 30, None, ["run", "dataset"], [(RUN_ID, DATASET)])
    assert_fits(text, 30)
    assert RUN_ID[:10] in text
    assert RUN_ID[-8:] in text


def test_markup_in_data_prints_as_written(monkeypatch):
    assert "[xls]" in printed(monkeypatch, 80, None, ["format"], [("[xls]",)])


# --- the commands, in real processes ---------------------------------------------------------
@pytest.fixture(scope="module")
def district(tmp_path_factory) -> Iterator[tuple[District, dict[str, str]]]:
    root = tmp_path_factory.mktemp("cli_output")
    workspace = Workspace(root / "ws").ensure()
    with Store.open(workspace) as store:
        found = build_district(workspace, store, root / "sources")
        publish(found)
        run_datasets(workspace)  # quality runs to list
        accounts = UserAccounts(store)
        tokens = {
            login: accounts.issue_token(login, name="tests", actor="tester").secret
            for login, _, _ in USERS
        }
        yield found, tokens


def mulu(
    district: District, token: str | None, *args: str, columns: int = 80
) -> subprocess.CompletedProcess:
    env = {
        k: v for k, v in os.environ.items() if k not in ("MULU_USER", "MULU_PASSWORD", "MULU_TOKEN")
    }
    env.update(COLUMNS=str(columns), MULU_HOME=str(district.workspace.root))
    if token:
        env["MULU_TOKEN"] = token
    return subprocess.run([MULU, *args], capture_output=True, text=True, env=env, check=False)


@pytest.mark.slow
def test_run_ids_dataset_names_and_times_print_whole_at_80_columns(district):
    found, tokens = district
    runs = json.loads(mulu(found, tokens["office"], "quality", "runs", "--json").stdout)
    assert runs
    shown = mulu(found, tokens["office"], "quality", "runs")
    assert shown.returncode == 0, shown.stderr
    assert_fits(shown.stdout, 80)
    for run in runs:
        assert run["run_id"] in shown.stdout  # pasteable into `mulu quality show RUN`
        assert run["dataset"] in shown.stdout

    # grants add spells its options as `sharing answer` does; the old spellings still work
    made = mulu(
        found,
        tokens["office"],
        "grants",
        "add",
        found.dataset,
        "--login",
        "zj_analyst",
        "--purpose",
        "住房保障资格审核",
        "--days",
        "30",
        "--columns",
        "person_name,id_card_no",
        "--columns",
        "household_size",
        "--unmasked",
        "person_name",
        "--row-filter",
        "household_size=1,3",
        "--json",
    )
    assert made.returncode == 0, made.stderr
    grant = json.loads(made.stdout)
    assert grant["columns"] == ["person_name", "id_card_no", "household_size"]
    assert grant["row_filter"] == {"household_size": ["1", "3"]}
    old = mulu(
        found,
        tokens["office"],
        "grants",
        "add",
        found.dataset,
        "--org",
        "ORG-SW",
        "--purpose",
        "水务核对",
        "--days",
        "30",
        "--column",
        "household_size",
        "--filter",
        "household_size=1",
        "--json",
    )
    assert old.returncode == 0, old.stderr
    assert json.loads(old.stdout)["columns"] == ["household_size"]

    mine = mulu(found, tokens["zj_analyst"], "grants", "mine")
    assert mine.returncode == 0, mine.stderr
    assert_fits(mine.stdout, 80)
    assert found.dataset in mine.stdout
    assert grant["expires_at"] in mine.stdout

    help_text = mulu(found, None, "grants", "add", "--help", columns=120).stdout
    assert "--columns" in help_text
    assert "--row-filter" in help_text
    assert "--column " not in help_text
    assert "--filter " not in help_text


@pytest.mark.slow
def test_audit_list_refuses_unknown_names_and_shows_details_plainly(district):
    found, tokens = district
    bogus = mulu(found, tokens["office"], "audit", "list", "--action", "bogus")
    assert bogus.returncode == 2
    assert "bogus" in bogus.stderr
    assert "application_apply" in bogus.stderr
    assert "0 of 0" not in bogus.stdout
    channel = mulu(found, tokens["office"], "audit", "list", "--channel", "email")
    assert channel.returncode == 2
    assert "portal" in channel.stderr

    mulu(
        found,
        tokens["office"],
        "grants",
        "add",
        found.dataset,
        "--login",
        "mz_analyst",
        "--purpose",
        "审计测试",
        "--days",
        "5",
        "--json",
    )
    shown = mulu(found, tokens["office"], "audit", "list", "--action", "grant")
    assert shown.returncode == 0, shown.stderr
    assert_fits(shown.stdout, 80)
    assert "{'" not in shown.stdout  # no Python dicts
    assert "grantee_login=mz_analyst" in "".join(shown.stdout.split())
    assert found.dataset in shown.stdout


@pytest.mark.slow
def test_help_paragraphs_are_not_broken_mid_sentence(district):
    found, _ = district
    sql_help = mulu(found, None, "sql", "--help", columns=200).stdout
    assert "only the datasets granted to them" in sql_help
    whoami = mulu(found, None, "whoami", "--help", columns=200).stdout
    assert "with which roles, for which organisation" in whoami
    assert "Also `mulu whoami`" not in whoami
    demo = mulu(found, None, "demo", "--help", columns=200).stdout
    assert "department datasets) into the workspace" in demo
    assert "JSON output" in demo
