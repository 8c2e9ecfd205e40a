"""The audit log over HTTP and on the CLI (issue 13): ``GET /api/audit`` (filters, paging),
``/api/audit/verify``, ``/api/audit/export``, the portal's ``/audit`` page and its CSV export —
401 anonymous, 403 officer, 200 steward; looking is itself recorded; a row edited under the
running server is named by verify. ``mulu audit list|verify|export`` likewise.

A real ``mulu serve`` on 127.0.0.1, real users and API tokens, a real store."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import sqlite3
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_server import serving
from typer.testing import CliRunner

from catalog.directory import Directory
from catalog.sharing.audit import AuditLog
from catalog.sharing.users import UserAccounts
from mulu.cli import app
from schemas.principal import Principal
from schemas.roles import Role
from warehouse.store import Store
from warehouse.store.sql.audit import digest
from warehouse.workspace import Workspace

MZJ = "11330100MB0000001X"  # 民政局
DSJ = "11330100MB0000009X"  # 大数据局 (the data office)
ANALYST = Principal(login="mzj.analyst", org_code=MZJ, roles=frozenset({Role.ANALYST}))
CLEAN_ENV: dict[str, str | None] = {
    "MULU_USER": None,
    "MULU_PASSWORD": None,
    "MULU_TOKEN": None,
    "COLUMNS": "200",
}


def _prepare(workspace: Workspace) -> dict[str, str]:
    """Organisations, a steward, an officer and an analyst with a token each, and 25 audit
    entries (20 accesses, 5 decisions)."""
    directory = Directory.open(workspace, user="test")
    try:
        directory.add_organisations(
            [{"code": MZJ, "name": "示范区民政局"}, {"code": DSJ, "name": "示范区大数据局"}]
        )
    finally:
        directory.close()
    with Store.open(workspace) as store:
        accounts = UserAccounts(store)
        for login, org, role in (
            ("dsj.steward", DSJ, "steward"),
            ("mzj.officer", MZJ, "officer"),
            ("mzj.analyst", MZJ, "analyst"),
        ):
            accounts.add(login, org=org, name=login, roles=[role], actor="test")
        tokens = {
            login: accounts.issue_token(login, name="test", actor="test").secret
            for login in ("dsj.steward", "mzj.officer", "mzj.analyst")
        }
        log = AuditLog(store)
        for i in range(20):
            log.access(
                ANALYST,
                channel="rest" if i % 2 else "download",
                dataset="dibao" if i < 10 else "yibao",
                columns=["姓名", "金额"],
                rows=i,
                grant_id=3,
                purpose="低保复核",
                remote="10.0.0.8",
            )
        for i in range(5):
            log.decision(
                Principal(login="dsj.steward", org_code=DSJ, roles=frozenset({Role.STEWARD})),
                action="application_approve",
                application_id=i + 1,
                reason="同意",
            )
    return tokens


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Workspace, dict]]:
    workspace = Workspace(tmp_path_factory.mktemp("audit_api") / "ws").ensure()
    tokens = _prepare(workspace)
    with serving(workspace.root) as base:
        yield base, workspace, tokens


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


OPENER = urllib.request.build_opener(_NoRedirect)


def fetch(url: str, token: str | None = None) -> tuple[int, dict[str, str], bytes]:
    """GET without following redirects: (status, headers, body)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(url, headers=headers)
    try:
        with OPENER.open(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def entries(workspace: Workspace, **filters: Any) -> list[dict[str, Any]]:
    with Store.open(workspace) as store:
        return AuditLog(store).entries(limit=None, **filters)


ROUTES = (
    "/api/audit",
    "/api/audit?actor=mzj.analyst",
    "/api/audit/verify",
    "/api/audit/export",
    "/audit",
    "/audit/export.csv",
)


@pytest.mark.slow
def test_anonymous_401_officer_403_steward_200(site):
    base, _workspace, tokens = site
    for route in ROUTES:
        status, headers, _ = fetch(base + route)
        if route.startswith("/api/"):
            assert status == 401, route
        else:  # a portal page: to the login form, and back after it
            assert status == 303, route
            assert headers["location"].startswith("/login?next="), route
        for login in ("mzj.officer", "mzj.analyst"):
            status, _, _ = fetch(base + route, tokens[login])
            assert status == 403, (route, login)
        status, _, body = fetch(base + route, tokens["dsj.steward"])
        assert status == 200, (route, body[:300])


@pytest.mark.slow
def test_entries_filters_paging_and_the_view_recorded(site):
    base, workspace, tokens = site
    steward = tokens["dsj.steward"]
    status, _, body = fetch(base + "/api/audit?action=access&limit=7&offset=7", steward)
    assert status == 200
    page = json.loads(body)
    assert page["total"] == 20
    assert (page["limit"], page["offset"]) == (7, 7)
    assert [e["seq"] for e in page["entries"]] == list(range(13, 6, -1))
    first = page["entries"][0]
    assert first["actor"] == "mzj.analyst"
    assert first["actor_org"] == MZJ
    assert first["columns"] == ["姓名", "金额"]
    assert first["grant_id"] == 3
    assert first["purpose"] == "低保复核"
    assert first["remote"] == "10.0.0.8"
    assert len(first["hash"]) == 64

    query = urllib.parse.urlencode({"dataset": "dibao", "channel": "rest", "actor": "mzj.analyst"})
    found = json.loads(fetch(f"{base}/api/audit?{query}", steward)[2])
    assert found["total"] == 5
    assert {(e["dataset"], e["channel"]) for e in found["entries"]} == {("dibao", "rest")}
    decisions = json.loads(fetch(base + "/api/audit?action=application_approve", steward)[2])
    assert decisions["total"] == 5
    assert decisions["entries"][0]["detail"]["kind"] == "decision"
    today = json.loads(fetch(base + "/api/audit?since=2000-01-01&until=2999-12-31", steward)[2])
    assert today["total"] >= 25
    assert json.loads(fetch(base + "/api/audit?since=2999-01-01", steward)[2])["total"] == 0
    status, _, body = fetch(base + "/api/audit?since=yesterday", steward)
    assert status == 400
    assert "since" in body.decode()
    assert fetch(base + "/api/audit?limit=0", steward)[0] == 422

    # Each look is in the log itself, as the steward, through the REST channel.
    views = entries(workspace, action="audit_view", channel="rest")
    assert views
    assert {v["actor"] for v in views} == {"dsj.steward"}
    assert views[-1]["remote"] == "127.0.0.1"
    assert any(v["detail"].get("filters") == {"action": "application_approve"} for v in views)
    # Refused looks leave no view behind.
    assert not entries(workspace, action="audit_view", actor="mzj.officer")


@pytest.mark.slow
def test_verify_and_exports_round_trip(site):
    base, workspace, tokens = site
    steward = tokens["dsj.steward"]
    check = json.loads(fetch(base + "/api/audit/verify", steward)[2])
    assert check["ok"] is True
    assert check["problems"] == []
    assert check["checked"] >= 25
    assert entries(workspace, action="audit_verify")[0]["detail"]["ok"] is True

    status, headers, body = fetch(
        base + "/api/audit/export?format=jsonl&actor=mzj.analyst", steward
    )
    assert status == 200
    assert headers["content-type"].startswith("application/x-ndjson")
    assert "attachment" in headers["content-disposition"]
    rows = [json.loads(line) for line in body.decode().splitlines()]
    assert len(rows) == 20
    assert all(digest(row) == row["hash"] for row in rows)
    stored = entries(workspace, actor="mzj.analyst", newest_first=False)
    assert [r["hash"] for r in rows] == [r["hash"] for r in stored]

    status, headers, body = fetch(base + "/audit/export.csv?dataset=yibao", steward)
    assert status == 200
    assert headers["content-type"].startswith("text/csv")
    assert body.startswith(b"\xef\xbb\xbf")
    table = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    assert len(table) == 10
    want = hashlib.sha256("".join(r["hash"] for r in stored[10:]).encode()).hexdigest()
    assert hashlib.sha256("".join(r["hash"] for r in table).encode()).hexdigest() == want
    exports = entries(workspace, action="audit_export")
    assert {(e["channel"], e["rows"]) for e in exports} >= {("rest", 20), ("portal", 10)}
    assert fetch(base + "/api/audit/export?format=xml", steward)[0] == 422


@pytest.mark.slow
def test_the_portal_page(site):
    base, _workspace, tokens = site
    status, headers, body = fetch(
        base + "/audit?action=access&dataset=dibao", tokens["dsj.steward"]
    )
    assert status == 200
    page = body.decode()
    assert "审计日志" in page
    assert "哈希链完整" in page
    assert 'id="audit-entries"' in page
    assert "共 10 条" in page
    assert "数据访问" in page
    assert "姓名、金额" in page
    assert 'href="/audit/export.csv?dataset=dibao&amp;action=access"' in page
    assert 'name="viewport"' in page  # phone-usable: the base's viewport and the stacked table
    assert "@media (max-width:700px)" in page
    assert "content-security-policy" in {k.lower() for k in headers}
    # Paging: 50 a page, newest first; a bad date is said, not a crash.
    assert "下一页" not in page
    status, _, body = fetch(base + "/audit?since=notadate", tokens["dsj.steward"])
    assert status == 200
    assert "筛选条件有误" in body.decode()
    status, _, body = fetch(base + "/audit?lang=en", tokens["dsj.steward"])
    assert "Hash chain intact" in body.decode()


@pytest.mark.slow
def test_an_edited_row_shows_on_the_running_server(tmp_path: Path):
    workspace = Workspace(tmp_path / "ws").ensure()
    tokens = _prepare(workspace)
    with serving(workspace.root) as base:
        steward = tokens["dsj.steward"]
        assert json.loads(fetch(base + "/api/audit/verify", steward)[2])["ok"] is True
        con = sqlite3.connect(workspace.metadata_db, isolation_level=None)
        try:
            con.execute("DROP TRIGGER audit_log_no_update")
            con.execute("UPDATE audit_log SET rows = 0 WHERE seq = 12")
        finally:
            con.close()
        check = json.loads(fetch(base + "/api/audit/verify", steward)[2])
        assert check["ok"] is False
        assert check["first_broken"] == 12
        assert "内容被修改" in check["problems"][0]
        page = fetch(base + "/audit", steward)[2].decode()
        assert "哈希链被破坏" in page
        assert "首个异常记录: seq 12" in page


# --- the CLI ------------------------------------------------------------------------------
def cli(workspace: Workspace, *args: str) -> Any:
    return CliRunner().invoke(
        app, ["--home", str(workspace.root), *args], env=CLEAN_ENV, catch_exceptions=False
    )


@pytest.mark.slow
def test_cli_list_verify_export(tmp_path: Path):
    workspace = Workspace(tmp_path / "ws").ensure()
    tokens = _prepare(workspace)
    steward = ["--token", tokens["dsj.steward"]]
    done = cli(workspace, *steward, "audit", "list", "--dataset", "yibao", "--limit", "3", "--json")
    assert done.exit_code == 0, done.output
    shown = json.loads(done.stdout)
    assert shown["total"] == 10
    assert [e["seq"] for e in shown["entries"]] == [20, 19, 18]
    done = cli(workspace, *steward, "audit", "list", "--action", "application_approve")
    assert done.exit_code == 0, done.output
    assert "application_approve" in done.stdout
    assert "5 of 5" in done.stdout

    done = cli(workspace, *steward, "audit", "verify")
    assert done.exit_code == 0, done.output
    assert "audit chain intact" in done.stdout

    out = tmp_path / "audit.csv"
    done = cli(workspace, *steward, "audit", "export", str(out), "--channel", "download")
    assert done.exit_code == 0, done.output
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")
    assert len(list(csv.DictReader(out.open(encoding="utf-8-sig", newline="")))) == 10
    out = tmp_path / "audit.jsonl"
    assert cli(workspace, *steward, "audit", "export", str(out)).exit_code == 0
    assert len(out.read_text(encoding="utf-8").splitlines()) >= 25
    done = cli(workspace, *steward, "audit", "export", str(tmp_path / "a.xml"))
    assert done.exit_code == 2
    done = cli(workspace, *steward, "audit", "list", "--since", "nonsense")
    assert done.exit_code == 2

    recorded = entries(workspace, channel="cli")
    assert {e["action"] for e in recorded} == {"audit_view", "audit_verify", "audit_export"}
    assert {e["actor"] for e in recorded} == {"dsj.steward"}

    # Officers and analysts are refused (exit 5); nothing recorded for them.
    for login in ("mzj.officer", "mzj.analyst"):
        for args in (("list",), ("verify",), ("export", str(tmp_path / "x.csv"))):
            done = cli(workspace, "--token", tokens[login], "audit", *args)
            assert done.exit_code == 5, (login, args, done.output)
    assert not (tmp_path / "x.csv").exists()
    assert {e["actor"] for e in entries(workspace, channel="cli")} == {"dsj.steward"}

    # A deleted row: verify exits 1 and names it.
    con = sqlite3.connect(workspace.metadata_db, isolation_level=None)
    try:
        con.execute("DROP TRIGGER audit_log_no_delete")
        con.execute("DELETE FROM audit_log WHERE seq = 7")
    finally:
        con.close()
    done = cli(workspace, *steward, "audit", "verify", "--json")
    assert done.exit_code == 1
    check = json.loads(done.stdout)
    assert check["ok"] is False
    assert check["first_broken"] == 8
    done = cli(workspace, *steward, "audit", "verify")
    assert done.exit_code == 1
    assert "seq 8: 记录缺失 (rows deleted) — seq 7 不存在" in done.output


# --- the page in a real browser, phone-sized ------------------------------------------------
CHROMIUM = os.environ.get("MULU_CHROMIUM", "/usr/bin/chromium")


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.server
def test_the_page_on_a_phone(site, tmp_path: Path):
    from playwright.sync_api import sync_playwright

    base, _workspace, tokens = site
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Debian's chromium is needed at {CHROMIUM}: run `make browser`")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        try:
            context = browser.new_context(
                locale="zh-CN",
                viewport={"width": 390, "height": 844},
                extra_http_headers={"Authorization": f"Bearer {tokens['dsj.steward']}"},
            )
            page = context.new_page()
            page.goto(base + "/audit")
            assert "哈希链完整" in page.inner_text("#audit-verify")
            page.fill("input[name=dataset]", "yibao")
            page.select_option("select[name=channel]", "download")
            page.click(".audit-filters button")
            page.wait_for_url("**/audit?*dataset=yibao*")
            assert "共 5 条" in page.inner_text("main")
            # Rows stack as cards: nothing wider than the screen.
            assert page.evaluate("document.documentElement.scrollWidth") <= 390
            cell = page.locator("#audit-entries td").first
            assert cell.evaluate("e => getComputedStyle(e).display") == "flex"
            page.screenshot(path=str(tmp_path / "audit-phone.png"), full_page=True)
            href = page.get_attribute("#audit-export", "href")
            assert href == "/audit/export.csv?dataset=yibao&channel=download"
        finally:
            browser.close()
