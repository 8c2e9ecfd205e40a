"""The sharing workflow over REST (FastAPI's TestClient over ``create_app``, real tokens), the
portal's pages (a real session cookie and its CSRF token) and the CLI (``mulu sharing`` as a
real process with a token): apply, forward, the provider's answer with a column subset, refusal
without a reason (400), wrong role (403), anonymous (401), 不予共享 (403 with its basis)."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sharing_workflow_fixtures import LEGAL_BASIS, USERS, District, build_district
from web_users import start_session

from catalog.directory import Directory
from catalog.sharing.grants import Grants
from catalog.sharing.users import UserAccounts
from mulu.web.app import create_app
from warehouse.store import Store
from warehouse.workspace import Workspace

pytestmark = pytest.mark.both_stores

MULU = str(Path(sys.executable).with_name("mulu"))


@pytest.fixture
def site(workspace: Workspace, tmp_path: Path) -> Iterator[tuple[TestClient, District, dict]]:
    with Store.open(workspace) as store:
        district = build_district(workspace, store, tmp_path / "sources")
        accounts = UserAccounts(store)
        tokens = {
            login: accounts.issue_token(login, name="tests", actor="tester").secret
            for login, _, _ in USERS
        }
        with TestClient(create_app(workspace)) as client:
            yield client, district, tokens


def auth(tokens: dict[str, str], login: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens[login]}"}


@pytest.mark.slow  # the app's start (search index) takes a few seconds
def test_rest_flow_with_statuses(site: tuple[TestClient, District, dict[str, str]]):
    client, district, tokens = site
    base = "/api/sharing/applications"
    body = {
        "entry_code": district.entries["conditional"],
        "purpose": "住房保障资格审核",
        "scenario": "核验",
        "columns": ["person_name", "id_card_no", "household_size"],
    }
    assert client.post(base, json=body).status_code == 401
    created = client.post(base, json=body, headers=auth(tokens, "zj_analyst"))
    assert created.status_code == 201, created.text
    app = created.json()
    assert app["state"] == "submitted"
    too_long = client.post(
        base, json={**body, "period_end": "2099-12-31"}, headers=auth(tokens, "zj_officer")
    )
    assert too_long.status_code == 400
    assert "最长期限" in too_long.text
    number = app["number"]
    closed = client.post(
        base,
        json={**body, "entry_code": district.entries["closed"], "columns": []},
        headers=auth(tokens, "zj_officer"),
    )
    assert closed.status_code == 403
    assert LEGAL_BASIS in closed.text

    assert client.get(f"{base}/{app['id']}").status_code == 401
    assert client.get(f"{base}/{number}", headers=auth(tokens, "sw_officer")).status_code == 403
    shown = client.get(f"{base}/{number}", headers=auth(tokens, "zj_analyst")).json()
    assert shown["id"] == app["id"]
    assert shown["actions"] == ["withdraw"]

    check = f"{base}/{app['id']}/check"
    forward = {"action": "forward"}
    assert client.post(check, json=forward, headers=auth(tokens, "mz_officer")).status_code == 403
    response = client.post(check, json=forward, headers=auth(tokens, "office"))
    assert response.status_code == 200, response.text
    assert response.json()["state"] == "forwarded"
    assert client.post(check, json=forward, headers=auth(tokens, "office")).status_code == 409

    inbox = client.get(base, params={"box": "inbox"}, headers=auth(tokens, "mz_officer")).json()
    assert [a["number"] for a in inbox["provider"]] == [number]
    assert inbox["office"] == []

    answer = f"{base}/{app['id']}/answer"
    refuse = {"approve": False, "reason": "  "}
    assert client.post(answer, json=refuse, headers=auth(tokens, "mz_officer")).status_code == 400
    subset = {"approve": True, "columns": ["person_name", "household_size"]}
    assert client.post(answer, json=subset, headers=auth(tokens, "mz_analyst")).status_code == 403
    assert client.post(answer, json=subset, headers=auth(tokens, "sw_officer")).status_code == 403
    late = client.post(
        answer, json={**subset, "expires_at": "2099-01-01"}, headers=auth(tokens, "mz_officer")
    )
    assert late.status_code == 400, late.text
    until = (dt.date.today() + dt.timedelta(days=20)).isoformat()
    done = client.post(
        answer, json={**subset, "expires_at": until}, headers=auth(tokens, "mz_officer")
    )
    assert done.status_code == 200, done.text
    grant = Grants(district.store, district.workspace).get(done.json()["grant_id"])
    assert list(grant["columns"]) == ["person_name", "household_size"]
    assert grant["expires_at"] == f"{until}T23:59:59"

    mine = client.get(base, headers=auth(tokens, "zj_analyst")).json()
    assert [(a["number"], a["state"]) for a in mine] == [(number, "approved")]
    month = app["created_at"][:7]
    stats = client.get(
        "/api/sharing/statistics", params={"month": month}, headers=auth(tokens, "zj_analyst")
    ).json()
    assert stats[0]["received"] == 1
    assert stats[0]["shared"] == 1

    # A refusal with its reason, an escalation by the applicant, the office's settlement.
    second = client.post(
        base, json={**body, "columns": []}, headers=auth(tokens, "zj_officer")
    ).json()
    url = f"{base}/{second['number']}"
    client.post(f"{url}/check", json=forward, headers=auth(tokens, "office"))
    refused = client.post(
        f"{url}/answer",
        json={"approve": False, "reason": "超出范围"},
        headers=auth(tokens, "mz_officer"),
    )
    assert refused.json()["state"] == "refused"
    appeal = {"reason": "确需此数据"}
    assert (
        client.post(f"{url}/escalate", json=appeal, headers=auth(tokens, "zj_analyst")).status_code
        == 403
    )
    assert (
        client.post(f"{url}/escalate", json=appeal, headers=auth(tokens, "zj_officer")).status_code
        == 200
    )
    settle = {"approve": False, "reason": "维持提供方意见"}
    assert (
        client.post(f"{url}/settle", json=settle, headers=auth(tokens, "mz_officer")).status_code
        == 403
    )
    settled = client.post(f"{url}/settle", json=settle, headers=auth(tokens, "office"))
    assert settled.status_code == 200
    assert settled.json()["state"] == "refused"
    assert client.post(f"{url}/withdraw", headers=auth(tokens, "zj_officer")).status_code == 409
    assert client.get(f"{base}/SQ20990101-0001", headers=auth(tokens, "office")).status_code == 404

    # An entry changed to 不予共享 after applying: the office's forward is refused (409).
    third = client.post(
        base, json={**body, "columns": []}, headers=auth(tokens, "zj_officer")
    ).json()
    Directory(district.store, user="tester").update(
        district.entries["conditional"], {"share_type": "不予共享", "share_condition": LEGAL_BASIS}
    )
    stopped = client.post(
        f"{base}/{third['id']}/check", json=forward, headers=auth(tokens, "office")
    )
    assert stopped.status_code == 409
    assert LEGAL_BASIS in stopped.text


@pytest.mark.slow
def test_portal_pages_apply_and_decide(
    site: tuple[TestClient, District, dict[str, str]], workspace: Workspace
):
    client, district, _ = site
    code = district.entries["conditional"]
    assert client.get(f"/sharing/apply/{code}", follow_redirects=False).status_code in (
        401,
        303,
    )

    def signed_in(login: str) -> str:
        secret, csrf = start_session(workspace, login)
        client.cookies.clear()
        client.cookies.set("mulu_session", secret)
        return csrf

    csrf = signed_in("zj_officer")
    page = client.get(f"/sharing/apply/{code}")
    assert page.status_code == 200
    assert 'name="csrf_token"' in page.text
    assert 'value="id_card_no"' in page.text  # a checkbox per column of the spec
    posted = client.post(
        f"/sharing/apply/{code}",
        data={
            "csrf_token": csrf,
            "purpose": "住房保障资格审核",
            "scenario": "核验",
            "columns": ["person_name", "household_size"],
            "period_end": "",
        },
        follow_redirects=False,
    )
    assert posted.status_code == 303, posted.text
    location = posted.headers["location"]
    assert re.fullmatch(r"/sharing/applications/\d+", location)
    app_id = int(location.rsplit("/", 1)[1])
    shown = client.get(location)
    assert "待数据办审核" in shown.text
    assert "按时" in shown.text
    assert "我的申请" in client.get("/sharing/mine").text

    csrf = signed_in("office")
    inbox = client.get("/sharing/inbox")
    assert inbox.status_code == 200
    assert f"/sharing/applications/{app_id}" in inbox.text
    page = client.get(f"/sharing/applications/{app_id}")
    assert 'name="csrf_token"' in page.text
    assert 'value="forward"' in page.text
    no_token = client.post(
        f"/sharing/applications/{app_id}/check", data={"action": "forward"}, follow_redirects=False
    )
    assert no_token.status_code in (400, 403)
    forwarded = client.post(
        f"/sharing/applications/{app_id}/check",
        data={"csrf_token": csrf, "action": "forward"},
        follow_redirects=False,
    )
    assert forwarded.status_code == 303
    assert "待提供方答复" in client.get(f"/sharing/applications/{app_id}").text

    csrf = signed_in("mz_officer")
    refused = client.post(
        f"/sharing/applications/{app_id}/answer",
        data={"csrf_token": csrf, "decision": "refuse", "reason": ""},
        follow_redirects=False,
    )
    assert refused.status_code == 303  # back to the page, the error shown there
    page = client.get(f"/sharing/applications/{app_id}")
    assert "拒绝须说明理由" in page.text
    assert "待提供方答复" in page.text
    assert 'name="expires_at"' in page.text
    until = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    approved = client.post(
        f"/sharing/applications/{app_id}/answer",
        data={
            "csrf_token": csrf,
            "decision": "approve",
            "columns": ["household_size"],
            "expires_at": until,
        },
        follow_redirects=False,
    )
    assert approved.status_code == 303
    assert "已同意" in client.get(f"/sharing/applications/{app_id}").text
    stored = district.store.applications.get(app_id)
    assert stored is not None
    grant = Grants(district.store, district.workspace).get(stored["grant_id"])
    assert list(grant["columns"]) == ["household_size"]
    assert grant["expires_at"] == f"{until}T23:59:59"


@pytest.mark.slow
def test_cli_apply_check_answer_show(site: tuple[TestClient, District, dict[str, str]]):
    _, district, tokens = site

    def mulu(login: str, *args: str) -> subprocess.CompletedProcess:
        env = {
            **os.environ,
            "MULU_HOME": str(district.workspace.root),
            "MULU_TOKEN": tokens[login],
            "COLUMNS": "200",
        }
        return subprocess.run(
            [MULU, "sharing", *args], capture_output=True, text=True, env=env, check=False
        )

    def data(result: subprocess.CompletedProcess) -> Any:
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    code = district.entries["conditional"]
    app = data(
        mulu("zj_officer", "apply", code, "--purpose", "核验", "--scenario", "窗口",
             "--columns", "person_name,household_size", "--json")
    )  # fmt: skip
    number = app["number"]
    assert mulu("mz_officer", "check", number, "--action", "forward").returncode == 5
    forwarded = mulu("office", "check", number, "--action", "forward")
    assert forwarded.returncode == 0, forwarded.stderr
    assert "已审核" in forwarded.stdout
    assert mulu("mz_officer", "answer", number, "--refuse").returncode == 2  # no reason
    inbox = data(mulu("mz_officer", "inbox", "--json"))
    assert [a["number"] for a in inbox["provider"]] == [number]
    until = (dt.date.today() + dt.timedelta(days=40)).isoformat()
    answered = data(
        mulu("mz_officer", "answer", number, "--approve", "--columns", "household_size",
             "--until", until, "--json")
    )  # fmt: skip
    assert answered["state"] == "approved"
    grant = Grants(district.store, district.workspace).get(answered["grant_id"])
    assert grant["expires_at"] == f"{until}T23:59:59"
    shown = mulu("zj_officer", "show", number)
    assert "已同意" in shown.stdout
    assert "办理记录" in shown.stdout
    assert number in mulu("zj_officer", "applications").stdout
    stats = data(mulu("zj_officer", "stats", "--month", app["created_at"][:7], "--json"))
    assert stats[0]["shared"] == 1
