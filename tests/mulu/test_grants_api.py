"""Grants over REST (FastAPI's TestClient over ``create_app``, real tokens) and the portal's
/grants page (a real session cookie and its CSRF token): who may list, create and revoke, what
each user may read now, and a revocation taking effect at once."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sharing_workflow_fixtures import APPLICANT, USERS, District, build_district, publish
from web_users import start_session

from catalog.sharing.audit import AuditLog
from catalog.sharing.users import UserAccounts
from mulu.web.app import create_app
from schemas.entry import catalogue_now
from warehouse.store import Store
from warehouse.workspace import Workspace

pytestmark = pytest.mark.slow  # the app's start (search index) and a real load take seconds


@pytest.fixture
def site(workspace: Workspace, tmp_path: Path) -> Iterator[tuple[TestClient, District, dict]]:
    with Store.open(workspace) as store:
        district = build_district(workspace, store, tmp_path / "sources")
        publish(district)
        accounts = UserAccounts(store)
        tokens = {
            login: accounts.issue_token(login, name="tests", actor="tester").secret
            for login, _, _ in USERS
        }
        with TestClient(create_app(workspace)) as client:
            yield client, district, tokens


def auth(tokens: dict[str, str], login: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens[login]}"}


def soon(days: int = 30) -> str:
    return (catalogue_now() + dt.timedelta(days=days)).replace(microsecond=0).isoformat()


def test_grants_over_rest(site):
    client, district, tokens = site
    body = {
        "dataset": district.dataset,
        "purpose": "住房保障资格审核",
        "expires_at": soon(),
        "grantee_login": "zj_analyst",
        "columns": ["person_name", "id_card_no", "household_size"],
        "unmasked": ["person_name"],
        "row_filter": {"household_size": ["1", "3"]},
    }
    assert client.post("/api/grants", json=body).status_code == 401
    assert (
        client.post("/api/grants", json=body, headers=auth(tokens, "zj_officer")).status_code == 403
    )
    bad = client.post(
        "/api/grants", json={**body, "unmasked": ["household_size"]}, headers=auth(tokens, "office")
    )
    assert bad.status_code == 400
    assert "个人信息" in bad.json()["detail"]
    made = client.post("/api/grants", json=body, headers=auth(tokens, "office"))
    assert made.status_code == 201, made.text
    grant = made.json()
    assert grant["status"] == "live"
    assert grant["created_by"] == "office"

    readable = client.get("/api/grants/readable", headers=auth(tokens, "zj_analyst")).json()
    assert readable == [
        {
            "dataset": district.dataset,
            "entry_code": district.entries["conditional"],
            "basis": "grant",
            "columns": ["person_name", "id_card_no", "household_size"],
            "masked": ["id_card_no"],
            "row_filter": {"household_size": ["1", "3"]},
            "grant_id": grant["id"],
            "purpose": "住房保障资格审核",
            "expires_at": body["expires_at"],
        }
    ]
    owner = client.get("/api/grants/readable", headers=auth(tokens, "mz_analyst")).json()
    assert [(a["dataset"], a["basis"], a["masked"]) for a in owner] == [
        (district.dataset, "owner", [])
    ]
    assert client.get("/api/grants/readable", headers=auth(tokens, "zj_officer")).json() == []
    assert client.get("/api/grants/readable").status_code == 401

    everything = client.get("/api/grants", headers=auth(tokens, "office")).json()
    assert [g["id"] for g in everything] == [grant["id"]]
    assert [
        g["id"] for g in client.get("/api/grants", headers=auth(tokens, "zj_analyst")).json()
    ] == [grant["id"]]
    assert client.get("/api/grants", headers=auth(tokens, "sw_officer")).json() == []
    assert (
        client.get(f"/api/grants/{grant['id']}", headers=auth(tokens, "sw_officer")).status_code
        == 404
    )
    assert (
        client.get(f"/api/grants/{grant['id']}", headers=auth(tokens, "zj_analyst")).status_code
        == 200
    )

    revoke = f"/api/grants/{grant['id']}/revoke"
    assert (
        client.post(revoke, json={"reason": "x"}, headers=auth(tokens, "zj_analyst")).status_code
        == 403
    )
    assert (
        client.post(revoke, json={"reason": " "}, headers=auth(tokens, "office")).status_code == 400
    )
    done = client.post(revoke, json={"reason": "项目结束"}, headers=auth(tokens, "office"))
    assert done.status_code == 200
    assert done.json()["status"] == "revoked"
    assert (
        client.post(revoke, json={"reason": "again"}, headers=auth(tokens, "office")).status_code
        == 409
    )
    assert client.get("/api/grants/readable", headers=auth(tokens, "zj_analyst")).json() == []
    live = client.get("/api/grants?live=true", headers=auth(tokens, "zj_analyst")).json()
    assert live == []
    decisions = AuditLog(district.store).entries(grant_id=grant["id"], newest_first=False)
    assert [d["action"] for d in decisions] == ["grant", "revoke"]


def test_an_organisation_grant_over_rest(site):
    client, district, tokens = site
    made = client.post(
        "/api/grants",
        json={
            "dataset": district.dataset,
            "purpose": "统计",
            "expires_at": soon(5),
            "grantee_org": APPLICANT,
        },
        headers=auth(tokens, "office"),
    )
    assert made.status_code == 201, made.text
    for login in ("zj_officer", "zj_analyst"):
        found = client.get("/api/grants/readable", headers=auth(tokens, login)).json()
        assert [a["masked"] for a in found] == [["id_card_no", "person_name"]]
    both = client.post(
        "/api/grants",
        json={
            "dataset": district.dataset,
            "purpose": "x",
            "expires_at": soon(),
            "grantee_org": APPLICANT,
            "grantee_login": "zj_analyst",
        },
        headers=auth(tokens, "office"),
    )
    assert both.status_code == 400
    past = client.post(
        "/api/grants",
        json={
            "dataset": district.dataset,
            "purpose": "x",
            "expires_at": "2020-01-01T00:00:00",
            "grantee_org": APPLICANT,
        },
        headers=auth(tokens, "office"),
    )
    assert past.status_code == 400


def test_the_grants_page(site, workspace):
    client, district, _ = site

    def signed_in(login: str) -> str:
        secret, csrf = start_session(workspace, login)
        client.cookies.clear()
        client.cookies.set("mulu_session", secret)
        return csrf

    assert client.get("/grants", follow_redirects=False).status_code in (401, 303)
    csrf = signed_in("office")
    page = client.get("/grants")
    assert page.status_code == 200
    assert "全部授权" in page.text
    assert 'id="new-grant"' in page.text
    assert 'name="csrf_token"' in page.text
    form = {
        "csrf_token": csrf,
        "dataset": district.dataset,
        "grantee_login": "zj_analyst",
        "purpose": "住房保障资格审核",
        "expires_at": (catalogue_now() + dt.timedelta(days=10)).date().isoformat(),
        "columns": "person_name, household_size",
        "unmasked": "",
        "row_filter": "household_size=1,3",
    }
    no_token = client.post("/grants", data={**form, "csrf_token": ""}, follow_redirects=False)
    assert no_token.status_code in (400, 403)
    made = client.post("/grants", data=form, follow_redirects=False)
    assert made.status_code == 303
    listed = client.get(made.headers["location"])
    assert "已授权" in listed.text
    assert "household_size ∈ 1/3" in listed.text
    grant_id = district.store.grants.find(login="zj_analyst")[0]["id"]
    assert f'action="/grants/{grant_id}/revoke' in listed.text
    wrong = client.post("/grants", data={**form, "columns": "salary"}, follow_redirects=False)
    assert wrong.status_code == 303
    assert "salary" in client.get("/grants").text

    csrf_analyst = signed_in("zj_analyst")
    mine = client.get("/grants")
    assert "授权给我或本单位的" in mine.text
    assert "共享授权" in mine.text  # the basis of what they may read now
    assert "全部授权" not in mine.text
    assert "/revoke" not in mine.text
    refused = client.post(
        f"/grants/{grant_id}/revoke",
        data={"csrf_token": csrf_analyst, "reason": "x"},
        follow_redirects=False,
    )
    assert refused.status_code == 403

    csrf = signed_in("office")
    no_reason = client.post(
        f"/grants/{grant_id}/revoke",
        data={"csrf_token": csrf, "reason": ""},
        follow_redirects=False,
    )
    assert no_reason.status_code == 303
    assert "理由" in client.get("/grants").text
    revoked = client.post(
        f"/grants/{grant_id}/revoke",
        data={"csrf_token": csrf, "reason": "项目结束"},
        follow_redirects=False,
    )
    assert revoked.status_code == 303
    shown = client.get(f"/grants?dataset={district.dataset}&lang=zh")
    assert "已撤销授权" in shown.text
    assert "项目结束" in shown.text
    assert district.store.grants.get(grant_id)["revoked_by"] == "office"
