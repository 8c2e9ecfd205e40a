"""The district of the sharing journey (tests/mulu/test_sharing_journey.py, issue 13).

Three organisations: the data office (数据资源局), organisation A (住建局, the applicant) and
organisation B (民政局, the provider); real users made with ``UserAccounts`` (with passwords,
so the browser signs in through ``/login``, and API tokens for the CLI and REST); one
有条件共享 entry of B served by a dataset really loaded into the lake with three PII columns
(姓名, 身份证号, 手机号). Nothing is faked: ``mulu serve`` and ``mulu`` read this workspace as
they read anyone's.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from loading_fixtures import write_csv

from catalog.directory import Directory
from catalog.sharing.users import UserAccounts
from schemas.dataset_spec import load_spec
from schemas.identity import make_id_card
from schemas.principal import Principal
from warehouse.load.dataset import load_dataset
from warehouse.store import Store
from warehouse.workspace import Workspace

OFFICE, ORG_A, ORG_B = "ORG-SJJ", "ORG-ZJJ", "ORG-MZJ"
ORGS = [
    {"code": OFFICE, "name": "示范区数据资源局", "contact_email": "sjj@example.cn"},
    {"code": ORG_A, "name": "示范区住建局", "contact_email": "zjj@example.cn"},
    {"code": ORG_B, "name": "示范区民政局", "contact_email": "mzj@example.cn"},
]
STEWARD, OFFICER_A, OFFICER_B, ANALYST_A = (
    "sjj_steward",
    "zjj_officer",
    "mzj_officer",
    "zjj_analyst",
)
USERS = {  # login: (organisation, role, display name)
    STEWARD: (OFFICE, "steward", "数据办 王科长"),
    OFFICER_A: (ORG_A, "officer", "住建局 李联络员"),
    OFFICER_B: (ORG_B, "officer", "民政局 赵联络员"),
    ANALYST_A: (ORG_A, "analyst", "住建局 陈分析员"),
}
PASSWORD = "Journey-pass-2026"

DATASET = "relief_roster"
ENTRY_NAME = "困难群众救助对象名册"
# The dataset's columns: (name, source header, pii)
COLUMNS = [
    ("person_name", "姓名", "姓名"),
    ("id_card_no", "身份证号", "身份证号"),
    ("mobile", "手机号", "手机号"),
    ("household_size", "家庭人口", None),
    ("monthly_allowance", "月救助金额(元)", None),
]
TYPES = {"household_size": {"type": "integer"}, "monthly_allowance": {"type": "decimal(10,2)"}}
PEOPLE = [  # 姓名, 身份证号, 手机号, 家庭人口, 月救助金额
    ("张三", make_id_card("320303", dt.date(1980, 1, 2), 5), "13800138001", "3", "1250.50"),
    ("李四", make_id_card("320303", dt.date(1975, 6, 18), 7), "13900139002", "1", "830.00"),
    ("王五", make_id_card("320311", dt.date(1990, 3, 7), 1), "13700137003", "4", "1620.00"),
    ("赵六", make_id_card("320311", dt.date(1962, 11, 30), 3), "13600136004", "2", "990.00"),
]


@dataclass
class District:
    workspace: Workspace
    entry_code: str
    tokens: dict[str, str] = field(default_factory=dict)  # login: API token secret
    who: dict[str, Principal] = field(default_factory=dict)

    @property
    def lake_files(self) -> list[Path]:
        return sorted(self.workspace.lake_dir.rglob("*.parquet"))


def build_district(root: Path) -> District:
    """The workspace under ``root``: organisations, users (password and token each), the
    entry, and the dataset loaded and published."""
    workspace = Workspace(root / "ws").ensure()
    directory = Directory.open(workspace, user="journey-setup")
    try:
        directory.add_organisations(ORGS)
        code = directory.create(
            {
                "name": ENTRY_NAME,
                "provider_name": "示范区民政局",
                "provider_code": ORG_B,
                "share_type": "有条件共享",
                "share_condition": "仅用于住房保障资格审核",
                "update_cycle": "每月",
                "summary": "民政局每月汇总的困难群众救助对象",
                "data_items": [{"name": source, "data_type": "字符型"} for _, source, _ in COLUMNS],
                "updated_at": dt.datetime(2026, 11, 5),
            }
        )
        district = District(workspace, code)
        accounts = UserAccounts(directory.store)
        for login, (org, role, name) in USERS.items():
            accounts.add(
                login, org=org, name=name, actor="journey-setup", roles=[role], password=PASSWORD
            )
            district.tokens[login] = accounts.issue_token(
                login, name="journey", actor="journey-setup"
            ).secret
            district.who[login] = accounts.principal(login, via="password")
    finally:
        directory.close()
    source = write_csv(
        root / "exchange" / "救助对象.csv", [source for _, source, _ in COLUMNS], PEOPLE
    )
    folder = workspace.datasets_dir / ORG_B
    folder.mkdir(parents=True, exist_ok=True)
    spec: dict[str, Any] = {
        "name": DATASET,
        "title": ENTRY_NAME,
        "entry_code": code,
        "source": {"url": str(source)},
        "columns": [
            {"name": name, "source": src, **({"pii": pii} if pii else {}), **TYPES.get(name, {})}
            for name, src, pii in COLUMNS
        ],
        "load": {"mode": "replace"},
    }
    path = folder / f"{DATASET}.yaml"
    path.write_text(yaml.safe_dump(spec, allow_unicode=True, sort_keys=False), "utf-8")
    with Store.open(workspace) as store:
        result = load_dataset(workspace, load_spec(path), store=store)
    assert result.status == "published", result
    return district


# --- the CLI as a real process ---------------------------------------------------------------
MULU = str(Path(sys.executable).with_name("mulu"))
CLEAN = ("MULU_USER", "MULU_PASSWORD", "MULU_TOKEN")


def mulu_env(workspace: Workspace, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in CLEAN}
    env.update({"MULU_HOME": str(workspace.root), "COLUMNS": "200", "NO_COLOR": "1"})
    env.update(extra)
    return env


def start_mulu(
    workspace: Workspace,
    args: list[str],
    *,
    token: str | None = None,
    stdin: bool = False,
    **env: str,
) -> subprocess.Popen[str]:
    """``mulu [--token T] ARGS`` started (not waited for), as a separate process; ``stdin``:
    its input is a pipe the caller writes (a shell), else it reads nothing."""
    command = [MULU, *(["--token", token] if token else []), *args]
    return subprocess.Popen(
        command,
        env=mulu_env(workspace, **env),
        stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_mulu(
    workspace: Workspace, args: list[str], *, token: str | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    process = start_mulu(workspace, args, token=token, **env)
    out, err = process.communicate(timeout=120)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)
