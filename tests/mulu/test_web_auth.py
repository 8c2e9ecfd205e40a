"""Web authentication and the protection of every request (issue 13): tokens (Bearer and
CKAN's headers), portal sessions (cookie flags, expiry by logout and by disabling the user),
the login form and its rate limits, CSRF (the session's token, the anonymous double-submit
cookie, a foreign Origin or Referer), the 401/403 matrix per role over the write routes,
security headers, messages kept server-side, reports dated in the future refused, and the
warning of ``mulu serve`` on a non-loopback host.

Real store and users in a tmp workspace (``UserAccounts``), the app in-process through
FastAPI's TestClient (``https://`` base URLs where the secure flavour is checked)."""

from __future__ import annotations

import concurrent.futures
import contextlib
import datetime as dt
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from api_server import free_port, serving
from fastapi.testclient import TestClient
from module_stores import STORE_PARAMS, module_store
from typer.testing import CliRunner
from web_users import add_user, bearer, start_session

from catalog.directory import Directory
from catalog.sharing.audit import AuditLog
from catalog.sharing.sessions import (
    MAX_LOGIN_FAILURES,
    MAX_REMOTE_FAILURES,
    PortalSessions,
)
from catalog.sharing.users import UserAccounts
from mulu.web.app import create_app
from mulu.web.portal.login_page import safe_next
from schemas.entry import catalogue_now
from schemas.errors import TooManyAttempts
from warehouse.store import Store
from warehouse.workspace import Workspace

pytestmark = pytest.mark.both_stores

MZJ, JTJ = "11341500MB0000001X", "11341500MB0000002X"
PASSWORD = "正确的马电池订书钉-2026"
ROLES = {
    "analyst": ("analyst", JTJ),
    "officer_jtj": ("officer", JTJ),  # another organisation's officer
    "officer_mzj": ("officer", MZJ),  # the entry's own organisation's officer
    "steward": ("steward", JTJ),
    "admin": ("admin", JTJ),
}


# Tests of the web tier's headers alone read nothing the store decides: SQLite's site only.
WEB_ONLY = pytest.mark.parametrize("site", ["sqlite"], indirect=True)


@pytest.fixture(scope="module", params=STORE_PARAMS)
def site(request, tmp_path_factory):
    """A workspace with two organisations, one entry of 区民政局, a user per role (tokens) and
    one with a password; the app's client (plain http). Once per store (tests/module_stores.py)."""
    workspace = Workspace(tmp_path_factory.mktemp("auth") / "ws").ensure()
    with module_store(request, workspace):
        yield from _site(workspace)


def _site(workspace: Workspace):
    directory = Directory.open(workspace, user="tester")
    try:
        directory.add_organisations([{"code": MZJ, "name": "区民政局"}])
        directory.add_organisations([{"code": JTJ, "name": "区交通局"}])
        code = directory.create(
            {
                "name": "城乡低保对象名单",
                "provider_name": "区民政局",
                "provider_code": MZJ,
                "share_type": "有条件共享",
                "open_type": "不予开放",
                "update_cycle": "每月",
            }
        )
    finally:
        directory.close()
    tokens = {
        name: add_user(workspace, name, roles=(role,), org=org)
        for name, (role, org) in ROLES.items()
    }
    add_user(workspace, "li.ming", roles=("steward",), org=MZJ, password=PASSWORD)
    with TestClient(create_app(workspace)) as client:
        yield client, workspace, code, tokens


def quoted(code: str) -> str:
    return urllib.parse.quote(code, safe="")


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def fresh_client(workspace: Workspace, base_url: str = "http://testserver") -> TestClient:
    return TestClient(create_app(workspace), base_url=base_url)


# --- the 401/403 matrix ------------------------------------------------------------------------
REPORT = {
    None: 401,
    "analyst": 403,
    "officer_jtj": 403,  # not its organisation's entry
    "officer_mzj": 201,
    "steward": 201,
    "admin": 201,
}
REVIEW = {None: 401, "analyst": 403, "officer_jtj": 403, "officer_mzj": 403, "steward": 404}
RUNS = {None: 401, "analyst": 403, "officer_jtj": 200, "steward": 200, "admin": 200}


@pytest.mark.parametrize(("who", "status"), REPORT.items())
def test_update_reports_need_the_entrys_officer_or_a_steward(site, who, status):
    client, _, code, tokens = site
    headers = bearer(tokens[who]) if who else {}
    answer = client.post(
        f"/api/entries/{quoted(code)}/updates", json={"note": f"by {who}"}, headers=headers
    )
    assert answer.status_code == status, answer.text
    if status == 201:  # recorded as the authenticated user, whatever the body claims
        history = client.get(f"/api/entries/{quoted(code)}/history", headers=headers).json()
        assert [u["reported_by"] for u in history["updates"] if u["note"] == f"by {who}"] == [who]
    if status == 401:
        assert answer.headers["www-authenticate"].startswith("Bearer")
        assert "请先登录" in answer.json()["detail"]


@pytest.mark.parametrize(("who", "status"), REVIEW.items())
def test_reviews_need_a_steward(site, who, status):
    client, _, _, tokens = site
    headers = bearer(tokens[who]) if who else {}
    answer = client.post(
        "/api/quality/runs/nope/reviews", json={"action": "accept"}, headers=headers
    )
    assert answer.status_code == status, answer.text  # a steward passes: then no such run


@pytest.mark.parametrize(("who", "status"), RUNS.items())
def test_quality_runs_are_read_by_officers_and_stewards(site, who, status):
    client, _, _, tokens = site
    headers = bearer(tokens[who]) if who else {}
    assert client.get("/api/quality/runs", headers=headers).status_code == status


@pytest.mark.slow
def test_portal_pages_that_need_a_sign_in_go_to_the_login_form(site):
    client, workspace, _, _ = site
    anonymous = fresh_client(workspace)
    answer = anonymous.get("/quality?pending=1", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=%2Fquality%3Fpending%3D1"
    secret, csrf = start_session(workspace, "analyst")
    anonymous.cookies.set("mulu_session", secret)
    assert anonymous.get("/quality").status_code == 403  # signed in, the wrong role
    forbidden = anonymous.post(
        "/quality/nope/review", data={"action": "accept", "csrf_token": csrf}
    )
    assert forbidden.status_code == 403


# --- tokens ------------------------------------------------------------------------------------
def test_tokens_in_every_header_ckan_clients_use(site):
    client, _, _, tokens = site
    secret = tokens["steward"]
    for headers in (
        {"Authorization": f"Bearer {secret}"},
        {"Authorization": secret},  # CKAN's own form
        {"X-CKAN-API-Key": secret},
    ):
        assert client.get("/api/quality/runs", headers=headers).status_code == 200, headers


def test_bad_expired_revoked_and_disabled_users_tokens_are_401(site):
    client, workspace, _, _ = site
    bad = client.get("/api/stats", headers=bearer("not-a-token"))
    assert bad.status_code == 401  # refused, not read as anonymous
    assert bad.json()["detail"] == "令牌无效 (invalid token)"
    ckan = client.get("/api/3/action/status_show", headers={"Authorization": "not-a-token"})
    assert ckan.status_code == 403  # CKAN's answer to a bad key: ckanapi's NotAuthorized
    assert ckan.json()["error"]["__type"] == "Authorization Error"

    secret = add_user(workspace, "short.lived", roles=("steward",), org=JTJ)
    assert client.get("/api/quality/runs", headers=bearer(secret)).status_code == 200
    with Store.open(workspace) as store:
        accounts = UserAccounts(store)
        token_id = accounts.tokens("short.lived")[0]["id"]
        accounts.revoke_token(token_id, actor="test-admin")
    revoked = client.get("/api/quality/runs", headers=bearer(secret))
    assert revoked.status_code == 401  # at once: the next request
    assert "已吊销" in revoked.json()["detail"]

    expiring = add_user(workspace, "expiring", roles=("steward",), org=JTJ)
    with Store.open(workspace) as store, store.database.transaction() as con:
        con.execute(
            "UPDATE api_tokens SET expires_at = '2020-01-01T00:00:00' WHERE login = ?",
            ("expiring",),
        )
    expired = client.get("/api/quality/runs", headers=bearer(expiring))
    assert expired.status_code == 401
    assert "过期" in expired.json()["detail"]

    disabled = add_user(workspace, "leaver", roles=("steward",), org=JTJ)
    assert client.get("/api/quality/runs", headers=bearer(disabled)).status_code == 200
    with Store.open(workspace) as store:
        UserAccounts(store).disable("leaver", actor="test-admin")
    assert client.get("/api/quality/runs", headers=bearer(disabled)).status_code == 401


# --- portal sessions ---------------------------------------------------------------------------
def _login(client: TestClient, login: str, password: str, next_: str = "/"):
    form = client.get("/login")
    return client.post(
        "/login",
        data={
            "login": login,
            "password": password,
            "next": next_,
            "csrf_token": csrf_of(form.text),
        },
        follow_redirects=False,
    )


@pytest.mark.slow  # two argon2 checks
def test_login_sets_a_safe_cookie_and_logout_ends_the_session(site):
    _, workspace, _, _ = site
    client = fresh_client(workspace)
    wrong = _login(client, "li.ming", "wrong password!")
    assert wrong.status_code == 401
    assert "登录名或密码错误" in wrong.text  # on the form itself
    assert "mulu_session" not in wrong.headers.get("set-cookie", "")

    answer = _login(client, "li.ming", PASSWORD, "/quality")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/quality"
    cookie = next(c for c in answer.headers.get_list("set-cookie") if "mulu_session=" in c)
    assert cookie.startswith("mulu_session=")
    assert {"HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=43200"} <= set(cookie.split("; "))
    assert "Secure" not in cookie  # plain http here; see the https test
    secret = cookie.split(";")[0].split("=", 1)[1]
    with Store.open(workspace) as store:  # only the secret's hash is stored
        live = PortalSessions(store).live("li.ming")
        assert secret not in str(live)
        assert len(live) == 1

    page = client.get("/quality")
    assert page.status_code == 200
    assert "已登录" in page.text  # the message, once
    assert "已登录" not in client.get("/quality").text
    logout = client.post("/logout", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False)
    assert logout.status_code == 303
    assert client.get("/quality", follow_redirects=False).status_code == 303  # to /login
    # The old cookie, replayed, is dead.
    replay = fresh_client(workspace)
    replay.cookies.set("mulu_session", secret)
    assert replay.get("/quality", follow_redirects=False).status_code == 303

    with Store.open(workspace) as store:
        actions = [e["action"] for e in AuditLog(store).entries(actor="li.ming", limit=None)]
        assert {"login", "logout"} <= set(actions)
        failed = AuditLog(store).entries(action="login_failed", limit=None)
        assert any(e["detail"].get("login") == "li.ming" for e in failed)


@pytest.mark.slow
def test_over_https_the_cookie_is_secure_host_only_and_hsts_is_sent(site):
    _, workspace, _, _ = site
    client = fresh_client(workspace, "https://mulu.example")
    page = client.get("/login")
    assert page.headers["strict-transport-security"].startswith("max-age=")
    csrf_cookie = page.headers["set-cookie"]
    assert csrf_cookie.startswith("__Host-mulu_csrf=")
    assert "Secure" in csrf_cookie.split("; ")
    secret, _ = start_session(workspace, "steward")
    client.cookies.set("__Host-mulu_session", secret)
    assert client.get("/quality").status_code == 200
    plain = fresh_client(workspace)
    assert "strict-transport-security" not in plain.get("/login").headers
    plain.cookies.set("__Host-mulu_session", secret)  # the https cookie means nothing on http
    assert plain.get("/quality", follow_redirects=False).status_code == 303


def test_a_disabled_users_session_stops_at_once(site):
    _, workspace, _, _ = site
    add_user(workspace, "leaving.steward", roles=("steward",), org=JTJ)
    secret, csrf = start_session(workspace, "leaving.steward")
    client = fresh_client(workspace)
    client.cookies.set("mulu_session", secret)
    assert client.get("/quality").status_code == 200
    with Store.open(workspace) as store:
        UserAccounts(store).disable("leaving.steward", actor="test-admin")
    assert client.get("/quality", follow_redirects=False).status_code == 303
    review = client.post(
        "/api/quality/runs/nope/reviews", json={"action": "accept"}, headers={"X-CSRF-Token": csrf}
    )
    assert review.status_code == 401
    with Store.open(workspace) as store:
        assert PortalSessions(store).live("leaving.steward") == []  # ended, not only refused


def test_an_expired_session_is_anonymous(site):
    _, workspace, _, _ = site
    with Store.open(workspace) as store:
        old = PortalSessions(store, clock=lambda: catalogue_now() - dt.timedelta(hours=13))
        secret, _ = old.start("steward", via="password", remote="127.0.0.1")
    client = fresh_client(workspace)
    client.cookies.set("mulu_session", secret)
    answer = client.get("/quality", follow_redirects=False)
    assert answer.status_code == 303
    assert "mulu_session=;" in answer.headers["set-cookie"]  # the dead cookie is cleared


@pytest.mark.slow
def test_login_is_rate_limited_per_login_and_per_address(site):
    _, workspace, _, _ = site
    add_user(workspace, "target", roles=("analyst",), org=JTJ, password=PASSWORD)
    with Store.open(workspace) as store:
        now = catalogue_now().isoformat()
        for _ in range(MAX_LOGIN_FAILURES):
            store.sessions.add_attempt("target", "10.0.0.9", now, False)
        sessions = PortalSessions(store)
        with pytest.raises(TooManyAttempts) as refused:  # even with the right password
            sessions.login("target", PASSWORD, remote="10.0.0.1")
        assert 800 < refused.value.retry_after <= 901
        for i in range(MAX_REMOTE_FAILURES):
            store.sessions.add_attempt(f"guess{i}", "10.0.0.66", now, False)
        with pytest.raises(TooManyAttempts):
            sessions.login("li.ming", PASSWORD, remote="10.0.0.66")
    client = fresh_client(workspace)
    answer = _login(client, "target", PASSWORD)
    assert answer.status_code == 429
    assert int(answer.headers["retry-after"]) > 800
    assert "登录失败次数过多" in answer.text


@pytest.mark.slow  # MAX_LOGIN_FAILURES real argon2 checks
def test_failed_logins_through_the_form_lock_the_login(site):
    _, workspace, _, _ = site
    add_user(workspace, "forgetful", roles=("analyst",), org=JTJ, password=PASSWORD)
    client = fresh_client(workspace)
    for _ in range(MAX_LOGIN_FAILURES):
        assert _login(client, "forgetful", "not the password").status_code == 401
    assert _login(client, "forgetful", PASSWORD).status_code == 429


def test_next_is_only_ever_a_local_path():
    assert safe_next("/quality?pending=1") == "/quality?pending=1"
    for hostile in ("//evil.example/", "http://evil.example/", "/\\evil.example", "evil", ""):
        assert safe_next(hostile) == "/"


# --- CSRF --------------------------------------------------------------------------------------
def test_a_cookie_sessions_writes_need_its_csrf_token(site):
    _, workspace, code, _ = site
    secret, csrf = start_session(workspace, "officer_mzj")
    client = fresh_client(workspace)
    client.cookies.set("mulu_session", secret)
    path = f"/api/entries/{quoted(code)}/updates"
    missing = client.post(path, json={"note": "no token"})
    assert missing.status_code == 403
    assert "CSRF" in missing.json()["detail"]
    wrong = client.post(path, json={"note": "wrong"}, headers={"X-CSRF-Token": "x" * 43})
    assert wrong.status_code == 403
    assert client.post(path, json={"note": "ok"}, headers={"X-CSRF-Token": csrf}).status_code == 201
    # A portal form: the token in the form body.
    form = client.post("/quality/nope/review", data={"action": "accept"})
    assert form.status_code == 403


def test_a_foreign_origin_is_refused_even_with_the_token(site):
    """The issue's case: a form posted from http://evil.example by a signed-in steward's
    browser decided a run. Now refused before any route runs."""
    _, workspace, _, tokens = site
    secret, csrf = start_session(workspace, "steward")
    client = fresh_client(workspace)
    client.cookies.set("mulu_session", secret)
    data = {"action": "reject", "csrf_token": csrf}
    for headers in (
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Referer": "http://evil.example/page"},
        {"Origin": "http://testserver.evil.example"},
    ):
        answer = client.post("/quality/nope/review", data=data, headers=headers)
        assert answer.status_code == 403, headers
        assert "跨站请求被拒绝" in answer.text
    same = client.post("/quality/nope/review", data=data, headers={"Origin": "http://testserver"})
    assert same.status_code == 404  # through: no such run
    proxied = client.post(  # behind a TLS proxy that forwards the host it was asked for
        "/quality/nope/review",
        data=data,
        headers={"Origin": "https://mulu.example", "X-Forwarded-Host": "mulu.example"},
    )
    assert proxied.status_code == 404
    # A token is no cookie a foreign page can make the browser send: exempt.
    scripted = client.post(
        "/api/quality/runs/nope/reviews",
        json={"action": "reject"},
        headers={**bearer(tokens["steward"]), "Origin": "http://evil.example"},
    )
    assert scripted.status_code == 404


def test_the_anonymous_login_form_uses_a_double_submit_cookie(site):
    _, workspace, _, _ = site
    client = fresh_client(workspace)
    page = client.get("/login")
    token = csrf_of(page.text)
    assert client.cookies.get("mulu_csrf") == token
    no_token = client.post("/login", data={"login": "li.ming", "password": "x"})
    assert no_token.status_code == 403
    other = fresh_client(workspace)  # a token from another browser's cookie does not match
    assert (
        other.post("/login", data={"login": "x", "password": "y", "csrf_token": token}).status_code
        == 403
    )


# --- headers, messages, dates ------------------------------------------------------------------
@pytest.mark.parametrize(
    "path", ["/", "/login", "/freshness", "/api/stats", "/api/entries/nope", "/no-such-page"]
)
@pytest.mark.slow
@WEB_ONLY
def test_security_headers_on_every_answer(site, path):
    client, _, _, _ = site
    headers = client.get(path).headers
    csp = headers["content-security-policy"]
    for part in (
        "default-src 'self'",
        "frame-ancestors 'none'",
        "form-action 'self'",
        "base-uri 'none'",
    ):
        assert part in csp
    assert "script-src" not in csp  # no script at all on the portal
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"
    assert "strict-transport-security" not in headers  # plain http


@WEB_ONLY
def test_the_api_docs_keep_working_under_their_own_csp(site):
    client, _, _, _ = site
    docs = client.get("/api/docs")
    assert docs.status_code == 200
    assert "https://cdn.jsdelivr.net" in docs.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in docs.headers["content-security-policy"]


@WEB_ONLY
def test_no_message_text_is_taken_from_the_url(site):
    client, workspace, _, _ = site
    injected = "<b>您的账号已被冻结</b>请致电"
    query = urllib.parse.urlencode({"flash": injected, "error": injected})
    for path in ("/", "/freshness", "/login"):
        page = client.get(f"{path}?{query}")
        assert "您的账号已被冻结" not in page.text, path
    secret, _ = start_session(workspace, "steward")
    steward = fresh_client(workspace)
    steward.cookies.set("mulu_session", secret)
    assert "您的账号已被冻结" not in steward.get(f"/quality?{query}").text
    # A forged flash cookie (not signed by this server) shows nothing.
    steward.cookies.set("mulu_flash", "W1wi5L2g5aW9XCJdXQ==.deadbeef")
    assert 'id="flash"' not in steward.get("/quality").text


def test_a_report_dated_in_the_future_is_refused(site):
    client, _, code, tokens = site
    path = f"/api/entries/{quoted(code)}/updates"
    officer = bearer(tokens["officer_mzj"])
    future = client.post(path, json={"at": "2030-01-01T00:00:00"}, headers=officer)
    assert future.status_code == 400
    assert "不能晚于当前时间" in future.json()["detail"]
    skewed = (catalogue_now() + dt.timedelta(minutes=2)).isoformat()  # within the clock skew
    assert client.post(path, json={"at": skewed}, headers=officer).status_code == 201
    entry = client.get(f"/api/entries/{quoted(code)}", headers=officer).json()
    assert not entry["updated_at"].startswith("2030")


def test_serve_warns_on_a_host_other_than_loopback(tmp_path):
    from mulu.cli import app

    home = tmp_path / "ws"
    # 192.0.2.1 (TEST-NET-1) is no address of this machine: the bind fails after the warning.
    result = CliRunner().invoke(
        app, ["--home", str(home), "serve", "--host", "192.0.2.1", "--port", "9"]
    )
    assert "警告" in result.output
    assert "Warning" in result.output
    assert "TLS" in result.output
    from mulu.cli.serve_command import is_loopback

    assert is_loopback("127.0.0.1")
    assert is_loopback("::1")
    assert is_loopback("localhost")
    assert not is_loopback("0.0.0.0")
    assert not is_loopback("192.168.1.5")


def test_the_public_sees_the_freshness_of_open_entries_only(site):
    client, _, code, tokens = site
    public = client.get("/api/freshness").json()
    assert code not in [e["code"] for e in public["entries"]]  # 不予开放
    assert sum(public["counts"].values()) == len(public["entries"])
    signed_in = client.get("/api/freshness", headers=bearer(tokens["analyst"])).json()
    assert code in [e["code"] for e in signed_in["entries"]]
    assert client.get("/api/freshness/scorecard").status_code == 200  # figures per organisation


def test_the_login_page_offers_single_sign_on_when_configured(tmp_path, store_dialect):
    workspace = Workspace(tmp_path / "ws").ensure()
    with fresh_client(workspace) as client:
        assert 'id="sso"' not in client.get("/login").text
    workspace.oidc_file.parent.mkdir(parents=True, exist_ok=True)
    workspace.oidc_file.write_text(
        "issuer: https://sso.example.gov.cn\nclient_id: mulu\nbutton: 区统一身份认证\n",
        encoding="utf-8",
    )
    with fresh_client(workspace) as client:
        page = client.get("/login", params={"next": "/quality"}).text
    assert '<a class="sso" id="sso" href="/login/oidc?next=%2Fquality">区统一身份认证</a>' in page


# --- security review of issue 13: the login limit under load, forwarded headers, sessions
# after a password change, no caching of what a signed-in user sees ---------------------------
FAKE_CSRF = "c" * 43  # the anonymous double-submit: any long token, in the cookie and the form


def _post_login(base: str, login: str, password: str, headers: dict[str, str] | None = None) -> int:
    """POST the login form to a real server as a fresh browser; the status (no redirects)."""
    body = urllib.parse.urlencode(
        {"login": login, "password": password, "next": "/", "csrf_token": FAKE_CSRF}
    ).encode()
    request = urllib.request.Request(
        base + "/login",
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": f"mulu_csrf={FAKE_CSRF}",
            **(headers or {}),
        },
    )

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    try:
        with urllib.request.build_opener(NoRedirect).open(request, timeout=60) as answer:
            return answer.status
    except urllib.error.HTTPError as exc:
        return exc.code


@contextlib.contextmanager
def serving_with(home, *options: str):
    """``mulu serve`` with extra options (``tests/api_server.serving`` takes none)."""
    port = free_port()
    mulu = str(Path(sys.executable).with_name("mulu"))
    process = subprocess.Popen(
        [mulu, "serve", "--port", str(port), *options],
        env={**os.environ, "MULU_HOME": str(home)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(base + "/api/openapi.json", timeout=2).read()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(process.stderr.read().decode()) from None
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.slow
@pytest.mark.server
def test_parallel_wrong_passwords_get_no_more_checks_than_the_limit(tmp_path, store_dialect):
    """The review's case: 40 parallel wrong passwords got 37 × 401, so the check-then-record
    limit let nearly all of them reach argon2. Now the count and the attempt are one
    transaction: at most MAX_LOGIN_FAILURES are checked, the rest are 429."""
    workspace = Workspace(tmp_path / "ws").ensure()
    add_user(workspace, "victim", roles=("analyst",), password=PASSWORD)
    with serving(workspace.root) as base, concurrent.futures.ThreadPoolExecutor(30) as pool:
        statuses = list(
            pool.map(lambda i: _post_login(base, "victim", f"guess number {i}"), range(30))
        )
    assert statuses.count(401) <= MAX_LOGIN_FAILURES, statuses
    assert statuses.count(401) + statuses.count(429) == 30, statuses
    with Store.open(workspace) as store:
        attempts = store.sessions.attempts("victim")
    assert len(attempts) <= MAX_LOGIN_FAILURES
    assert not any(a["ok"] for a in attempts)


@pytest.mark.slow
@pytest.mark.server
def test_a_forwarded_for_header_is_ignored_unless_a_proxy_is_trusted(tmp_path, store_dialect):
    """By default the address is the connection's: a client rotating X-Forwarded-For from
    loopback neither escapes the per-address limit nor writes a made-up address into the
    audit log. ``--forwarded-allow-ips`` trusts a named proxy's header."""
    workspace = Workspace(tmp_path / "ws").ensure()
    add_user(workspace, "someone", roles=("analyst",), password=PASSWORD)
    with Store.open(workspace) as store:
        now = catalogue_now().isoformat()
        for i in range(MAX_REMOTE_FAILURES):  # loopback has used up its failures
            store.sessions.add_attempt(f"guess{i}", "127.0.0.1", now, False)
    with serving(workspace.root) as base:
        for i in range(3):
            forged = {"X-Forwarded-For": f"203.0.113.{i + 1}"}
            assert _post_login(base, "someone", "not the password", forged) == 429
    with Store.open(workspace) as store:
        assert store.sessions.attempts("someone") == []  # refused before any check
    with serving_with(workspace.root, "--forwarded-allow-ips", "127.0.0.1") as base:
        forwarded = {"X-Forwarded-For": "198.51.100.7"}
        assert _post_login(base, "someone", "not the password", forwarded) == 401
    with Store.open(workspace) as store:
        assert store.sessions.attempts("someone")[-1]["remote"] == "198.51.100.7"
        failed = AuditLog(store).entries(action="login_failed", limit=None)
        # The three refusals (too many failures) are recorded too, from the connection's own
        # address, never the forged one.
        assert sorted(e["remote"] for e in failed) == ["127.0.0.1"] * 3 + ["198.51.100.7"]


def test_serve_trusts_forwarded_headers_only_when_told():
    from mulu.cli.serve_command import forwarded_headers

    assert forwarded_headers(False, None) is None
    assert forwarded_headers(True, None) == "127.0.0.1,::1"
    assert forwarded_headers(False, "10.0.0.2") == "10.0.0.2"


@pytest.mark.slow
def test_a_password_change_ends_the_users_sessions(site):
    _, workspace, _, _ = site
    add_user(workspace, "changer", roles=("steward",), org=JTJ, password=PASSWORD)
    secret, csrf = start_session(workspace, "changer")
    client = fresh_client(workspace)
    client.cookies.set("mulu_session", secret)
    assert client.get("/quality").status_code == 200
    with Store.open(workspace) as store:
        UserAccounts(store).set_password("changer", PASSWORD + "-new", actor="changer")
    assert client.get("/quality", follow_redirects=False).status_code == 303  # to /login
    replay = client.post(
        "/api/quality/runs/nope/reviews", json={"action": "accept"}, headers={"X-CSRF-Token": csrf}
    )
    assert replay.status_code == 401
    with Store.open(workspace) as store:
        assert PortalSessions(store).live("changer") == []


@pytest.mark.parametrize("path", ["/", "/quality", "/freshness", "/api/stats", "/sharing/mine"])
def test_nothing_a_signed_in_user_sees_is_cached(site, path):
    client, workspace, _, tokens = site
    secret, _ = start_session(workspace, "steward")
    browser = fresh_client(workspace)
    browser.cookies.set("mulu_session", secret)
    assert browser.get(path).headers["cache-control"] == "no-store", path
    api = client.get(path, headers=bearer(tokens["steward"]))
    assert api.headers["cache-control"] == "no-store", path


@WEB_ONLY
def test_public_pages_stay_cacheable_but_data_paths_never(site):
    client, _, code, _ = site
    assert "no-store" not in client.get("/").headers.get("cache-control", "")
    for path in ("/api/data/nope", f"/entry/{quoted(code)}", "/api/action/datastore_search"):
        assert client.get(path).headers["cache-control"] == "no-store", path
