"""Who reads quality runs over the web (issue 13's security review): a run's failing-row
samples are the dataset's own rows, so an officer reads only the runs of their own
organisation's entries — on /api/quality/runs, /api/quality/runs/{id}, /quality and
/quality/{id} as ``mulu quality show`` does (``catalog.reviews.run_for``) — and never the
server's file paths; stewards read every run with them.

A real blocked load (GE, lake, store) of 区民政局's roster with one bad 身份证号; real users
with tokens and portal sessions; the app in-process through TestClient."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from loading_fixtures import write_csv, write_spec
from web_users import add_user, bearer, start_session

from catalog.directory import Directory
from catalog.reviews import run_for, runs_for
from mulu.web.app import create_app
from quality.gate import load_validated
from schemas.errors import Forbidden
from schemas.identity import make_id_card
from schemas.principal import Principal
from schemas.roles import Role
from warehouse.store import Store
from warehouse.workspace import Workspace

pytestmark = pytest.mark.slow

MZJ, JTJ = "11341500MB0000001X", "11341500MB0000002X"
TODAY = dt.date(2026, 11, 25)
GOOD = make_id_card("320303", dt.date(1980, 1, 2), 5)
BAD = GOOD[:17] + ("0" if GOOD[17] != "0" else "1")  # a wrong check digit blocks the load


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    folder = tmp_path_factory.mktemp("quality-access")
    workspace = Workspace(folder / "ws").ensure()
    directory = Directory.open(workspace, user="tester")
    try:
        directory.add_organisations([{"code": MZJ, "name": "区民政局"}])
        directory.add_organisations([{"code": JTJ, "name": "区交通局"}])
        code = directory.create(
            {
                "name": "城乡低保对象",
                "provider_name": "区民政局",
                "provider_code": MZJ,
                "share_type": "有条件共享",
                "update_cycle": "每月",
            }
        )
        source = write_csv(
            folder / "exchange" / "低保.csv", ["身份证号", "姓名"], [[GOOD, "张三"], [BAD, "李四"]]
        )
        spec = write_spec(
            folder / "specs",
            "dibao",
            source,
            primary_key=["id_card_no"],
            columns=[
                {"name": "id_card_no", "source": "身份证号", "format": "身份证号"},
                {"name": "person_name", "source": "姓名"},
            ],
        ).model_copy(update={"entry_code": code})
        result = load_validated(directory.store, workspace, spec, today=TODAY, data_docs=False)
        assert result.status == "blocked"
    finally:
        directory.close()
    tokens = {
        login: add_user(workspace, login, roles=(role,), org=org)
        for login, role, org in (
            ("mzj.officer", "officer", MZJ),
            ("jtj.officer", "officer", JTJ),
            ("steward", "steward", JTJ),
        )
    }
    with TestClient(create_app(workspace)) as client:
        yield {
            "client": client,
            "workspace": workspace,
            "run": result.quality_run_id,
            "tokens": tokens,
            "folder": folder,
        }


def listed(site, login: str) -> list[str]:
    answer = site["client"].get("/api/quality/runs", headers=bearer(site["tokens"][login]))
    assert answer.status_code == 200
    return [r["run_id"] for r in answer.json()]


def detail(site, login: str):
    return site["client"].get(
        f"/api/quality/runs/{site['run']}", headers=bearer(site["tokens"][login])
    )


def test_another_organisations_officer_neither_lists_nor_reads_the_run(site):
    assert site["run"] not in listed(site, "jtj.officer")
    refused = detail(site, "jtj.officer")
    assert refused.status_code == 403
    assert BAD not in refused.text
    assert "李四" not in refused.text
    assert (
        site["client"]
        .get(f"/api/quality/runs/{site['run'][:12]}", headers=bearer(site["tokens"]["jtj.officer"]))
        .status_code
        == 403
    )  # a prefix too


def test_the_providers_officer_reads_its_failing_rows_without_server_paths(site):
    assert site["run"] in listed(site, "mzj.officer")
    answer = detail(site, "mzj.officer")
    assert answer.status_code == 200
    run = answer.json()
    samples = [s for r in run["results"] for s in r["samples"]]
    assert any(BAD in s["values"].values() for s in samples)
    assert run["quarantine_path"] is None
    assert run["data_docs"] is None
    assert run["load"] is None or run["load"]["held_path"] is None
    assert {s["source_file"] for s in samples} <= {"低保.csv", None}
    assert str(site["folder"]) not in answer.text
    assert str(site["workspace"].root) not in answer.text


def test_a_steward_reads_every_run_with_its_paths(site):
    assert site["run"] in listed(site, "steward")
    run = detail(site, "steward").json()
    assert run["quarantine_path"]
    assert run["quarantine_path"].startswith(str(site["workspace"].root))


def test_the_quality_pages_follow_the_same_rule(site):
    workspace, run_id = site["workspace"], site["run"]
    pages = {}
    for login in ("jtj.officer", "mzj.officer"):
        secret, _ = start_session(workspace, login)
        browser = TestClient(create_app(workspace))
        browser.cookies.set("mulu_session", secret)
        pages[login] = browser
    other = pages["jtj.officer"]
    assert run_id not in other.get("/quality").text
    refused = other.get(f"/quality/{run_id}")
    assert refused.status_code == 403
    assert BAD not in refused.text
    own = pages["mzj.officer"]
    assert run_id in own.get("/quality").text
    page = own.get(f"/quality/{run_id}")
    assert page.status_code == 200
    assert BAD in page.text
    assert str(site["folder"]) not in page.text


def test_the_catalog_check_is_the_one_every_channel_uses(site):
    """``run_for``/``runs_for``: Forbidden for another organisation, as ``mulu quality show``
    refuses with ``require_org``; a steward's view keeps the paths."""
    with Store.open(site["workspace"]) as store:
        other = Principal("x", org_code=JTJ, roles=frozenset({Role.OFFICER}))
        with pytest.raises(Forbidden):
            run_for(other, store, site["workspace"], site["run"])
        assert runs_for(other, store, site["workspace"], limit=10) == []
        own = Principal("y", org_code=MZJ, roles=frozenset({Role.OFFICER}))
        assert [r["run_id"] for r in runs_for(own, store, site["workspace"], limit=1)] == [
            site["run"]
        ]
        steward = Principal("z", org_code=JTJ, roles=frozenset({Role.STEWARD}))
        assert run_for(steward, store, site["workspace"], site["run"])["quarantine_path"]


def test_source_paths_shown_to_officers_are_file_names(tmp_path: Path):
    from catalog.reviews import without_server_paths

    shown = without_server_paths(
        {
            "quarantine_path": "/srv/mulu/quarantine/x.parquet",
            "data_docs": "/srv/mulu/docs/x.html",
            "load": {"status": "held", "held_path": "/srv/mulu/held/x.parquet"},
            "results": [{"samples": [{"source_file": "/srv/exchange/民政/低保.csv"}]}],
        }
    )
    assert "/srv" not in str(shown)
    assert shown["results"][0]["samples"][0]["source_file"] == "低保.csv"
