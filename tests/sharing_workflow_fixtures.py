"""A small district for the sharing workflow's tests (issue 13): three organisations, users of
every role, a 有条件共享 / 无条件共享 / 不予共享 entry each, and a real dataset spec (the roster
of tests/loading_fixtures.py) serving the conditional and the unconditional entry."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from loading_fixtures import ROSTER_COLUMNS, ROSTER_HEADER, ROSTER_ROWS, write_csv

from catalog.directory import Directory
from catalog.sharing.users import UserAccounts
from schemas.principal import Principal
from warehouse.store import Store
from warehouse.workspace import Workspace

PROVIDER, APPLICANT, OFFICE, OTHER = "ORG-MZ", "ORG-ZJ", "ORG-SJ", "ORG-SW"
ORGS = [
    {"code": PROVIDER, "name": "示范区民政局", "contact_email": "mzj@example.cn"},
    {"code": APPLICANT, "name": "示范区住建局", "contact_email": "zjj@example.cn"},
    {"code": OFFICE, "name": "示范区数据资源局", "contact_email": "sjj@example.cn"},
    {"code": OTHER, "name": "示范区水务局"},
]
USERS = [  # login, org, roles
    ("office", OFFICE, ["steward"]),
    ("mz_officer", PROVIDER, ["officer"]),
    ("mz_analyst", PROVIDER, ["analyst"]),
    ("zj_officer", APPLICANT, ["officer"]),
    ("zj_analyst", APPLICANT, ["analyst"]),
    ("sw_officer", OTHER, ["officer"]),
]
LEGAL_BASIS = "依据《中华人民共和国个人信息保护法》第十三条，涉及个人敏感信息"


class Clock:
    """A settable clock (catalogue time)."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


@dataclass
class District:
    workspace: Workspace
    store: Store
    entries: dict[str, str] = field(default_factory=dict)  # conditional | unconditional | closed
    who: dict[str, Principal] = field(default_factory=dict)
    dataset: str = "low_income_roster"
    spec_path: Path | None = None


def build_district(workspace: Workspace, store: Store, sources: Path) -> District:
    directory = Directory(store, user="tester")
    directory.add_organisations(ORGS)
    district = District(workspace, store)
    for label, share_type, condition in (
        ("conditional", "有条件共享", "仅用于住房保障资格审核"),
        ("unconditional", "无条件共享", None),
        ("closed", "不予共享", LEGAL_BASIS),
    ):
        district.entries[label] = directory.create(
            {
                "name": f"城乡低保对象名册（{label}）",
                "provider_name": "示范区民政局",
                "provider_code": PROVIDER,
                "share_type": share_type,
                "share_condition": condition,
                "update_cycle": "每月",
            }
        )
    accounts = UserAccounts(store)
    for login, org, roles in USERS:
        accounts.add(login, org=org, name=login, actor="tester", roles=roles)
        district.who[login] = accounts.principal(login, via="password")
    source = write_csv(sources / "roster.csv", ROSTER_HEADER, ROSTER_ROWS)
    folder = workspace.datasets_dir / PROVIDER
    folder.mkdir(parents=True, exist_ok=True)
    for name, label in ((district.dataset, "conditional"), ("open_roster", "unconditional")):
        spec: dict[str, Any] = {
            "name": name,
            "title": "城乡低保对象名册",
            "entry_code": district.entries[label],
            "source": {"url": str(source)},
            "columns": [dict(c) for c in ROSTER_COLUMNS],
            "load": {"mode": "replace"},
        }
        path = folder / f"{name}.yaml"
        path.write_text(yaml.safe_dump(spec, allow_unicode=True, sort_keys=False), "utf-8")
        if name == district.dataset:
            district.spec_path = path
    return district


def publish(district: District) -> None:
    """Load the conditional entry's dataset for real (it is then published)."""
    from schemas.dataset_spec import load_spec
    from warehouse.load.dataset import load_dataset

    assert district.spec_path is not None
    result = load_dataset(district.workspace, load_spec(district.spec_path), store=district.store)
    assert result.status == "published", result
