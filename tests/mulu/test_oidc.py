"""Single sign-on via OIDC (issue 13) against a real provider started inside the test.

The provider is a small hand-written OpenID Connect server on 127.0.0.1 (discovery, an
``/authorize`` that signs its user in at once and redirects back with a code, a ``/token``
endpoint checking the client secret and the PKCE verifier and issuing an RS256 ID token signed
with joserfc, and ``/jwks``). Mulu's real server runs beside it (``mulu serve``); a
``requests`` session follows the redirects as a browser would. Also: a token with the wrong
nonce, issuer or audience, an expired one, one signed by another key, an unknown or disabled
user, a callback replayed or come back to another browser — each refused; and no
``config/oidc.yaml``, no SSO (404).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from api_server import serving
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from catalog.directory import Directory
from catalog.sharing.oidc import OidcConfig, PendingLogins, load_config, validate_id_token
from catalog.sharing.users import UserAccounts
from schemas.errors import Forbidden, InvalidInput, Unauthenticated
from warehouse.store import Store
from warehouse.workspace import Workspace

ORG = "11330100MB0000001X"
CLIENT_ID = "mulu-portal"
SECRET_ENV = "MULU_TEST_OIDC_SECRET"
CLIENT_SECRET = "s3cret-" + "x" * 20


# --- the provider ---------------------------------------------------------------------------
class Provider:
    """A minimal OpenID Connect provider. ``username`` is who /authorize signs in; ``tamper``
    overrides ID token claims; ``foreign_key`` signs with a key not in the JWKS (same kid)."""

    def __init__(self) -> None:
        params = {"kid": "key-1", "use": "sig", "alg": "RS256"}
        self.key = RSAKey.generate_key(2048, parameters=params, private=True)
        self.foreign = RSAKey.generate_key(2048, parameters=params, private=True)
        self.username = "li.ming"
        self.email = "li.ming@example.gov.cn"
        self.tamper: dict[str, Any] = {}
        self.foreign_key = False
        self.codes: dict[str, dict[str, str]] = {}
        self.token_requests: list[dict[str, str]] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Provider:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def metadata(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": self.issuer + "/authorize",
            "token_endpoint": self.issuer + "/token",
            "jwks_uri": self.issuer + "/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        }

    def id_token(self, nonce: str) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": "user-" + self.username,
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 300,
            "nonce": nonce,
            "preferred_username": self.username,
            "email": self.email,
            "email_verified": True,
        }
        claims.update(self.tamper)
        key = self.foreign if self.foreign_key else self.key
        return jwt.encode({"alg": "RS256", "kid": "key-1"}, claims, key)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _json(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                url = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(url.query))
                if url.path == "/.well-known/openid-configuration":
                    self._json(200, provider.metadata())
                elif url.path == "/jwks":
                    self._json(200, KeySet([provider.key]).as_dict(private=False))
                elif url.path == "/authorize":
                    ok = (
                        query.get("response_type") == "code"
                        and query.get("client_id") == CLIENT_ID
                        and query.get("code_challenge_method") == "S256"
                        and query.get("code_challenge")
                        and query.get("state")
                        and query.get("nonce")
                        and "openid" in query.get("scope", "").split()
                    )
                    if not ok:
                        self._json(400, {"error": "invalid_request", "query": query})
                        return
                    code = secrets.token_urlsafe(16)
                    provider.codes[code] = query
                    back = (
                        query["redirect_uri"]
                        + "?"
                        + urllib.parse.urlencode({"code": code, "state": query["state"]})
                    )
                    self.send_response(302)
                    self.send_header("Location", back)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                else:
                    self._json(404, {"error": "not_found"})

            def do_POST(self) -> None:
                if self.path != "/token":
                    self._json(404, {"error": "not_found"})
                    return
                length = int(self.headers.get("Content-Length") or 0)
                form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
                provider.token_requests.append(form)
                basic = self.headers.get("Authorization", "")
                expected = (
                    "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
                )
                if basic != expected:
                    self._json(401, {"error": "invalid_client"})
                    return
                asked = provider.codes.pop(form.get("code", ""), None)
                verifier = form.get("code_verifier", "")
                challenge = (
                    base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
                    .rstrip(b"=")
                    .decode()
                )
                if (
                    asked is None
                    or form.get("grant_type") != "authorization_code"
                    or form.get("redirect_uri") != asked["redirect_uri"]
                    or challenge != asked["code_challenge"]
                ):
                    self._json(400, {"error": "invalid_grant"})
                    return
                self._json(
                    200,
                    {
                        "access_token": secrets.token_urlsafe(16),
                        "token_type": "Bearer",
                        "expires_in": 300,
                        "id_token": provider.id_token(asked["nonce"]),
                    },
                )

        return Handler


# --- Mulu beside it -------------------------------------------------------------------------
def _workspace(root: Path, provider: Provider, **extra: Any) -> Workspace:
    workspace = Workspace(root).ensure()
    directory = Directory.open(workspace, user="tester")
    try:
        directory.add_organisations([{"code": ORG, "name": "示范区民政局"}])
        accounts = UserAccounts(directory.store)
        accounts.add("li.ming", org=ORG, name="李明", actor="tester", roles=["analyst"])
        accounts.add("wang.gone", org=ORG, name="王离职", actor="tester")
        accounts.disable("wang.gone", actor="tester")
    finally:
        directory.close()
    settings = {
        "issuer": provider.issuer,
        "client_id": CLIENT_ID,
        "client_secret_env": SECRET_ENV,
        "scopes": ["openid", "profile", "email"],
        **extra,
    }
    workspace.oidc_file.parent.mkdir(parents=True, exist_ok=True)
    workspace.oidc_file.write_text(yaml.safe_dump(settings, allow_unicode=True), "utf-8")
    return workspace


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    with Provider() as running:
        yield running


@pytest.fixture(scope="module")
def mulu(provider: Provider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    workspace = _workspace(tmp_path_factory.mktemp("oidc") / "ws", provider)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(SECRET_ENV, CLIENT_SECRET)
        with serving(workspace.root) as base:
            yield base


@pytest.fixture(autouse=True)
def well_behaved(provider: Provider) -> None:
    provider.tamper = {}
    provider.foreign_key = False
    provider.username = "li.ming"
    provider.email = "li.ming@example.gov.cn"


def sign_in(base: str, browser: requests.Session | None = None, next_url: str = "/"):
    browser = browser or requests.Session()
    answer = browser.get(base + "/login/oidc", params={"next": next_url}, timeout=30)
    return browser, answer


@pytest.mark.server
@pytest.mark.slow
def test_sign_on_starts_a_portal_session_as_that_user(mulu: str, provider: Provider):
    anonymous = requests.get(mulu + "/", timeout=30)
    assert "李明" not in anonymous.text
    browser, answer = sign_in(mulu, next_url="/?q=x")
    assert answer.status_code == 200, answer.text
    # Went to the provider, back to the callback, then to ``next``.
    hops = [urllib.parse.urlsplit(r.url).path for r in answer.history]
    assert hops == ["/login/oidc", "/authorize", "/login/oidc/callback"]
    assert answer.url == mulu + "/?q=x"
    assert browser.cookies.get("mulu_session")
    assert not browser.cookies.get("mulu_oidc")  # the login's binding cookie is gone
    # The session works: the page is that user's (name and the logout form).
    page = browser.get(mulu + "/", timeout=30)
    assert "李明" in page.text
    assert 'action="/logout"' in page.text
    # The provider got the PKCE verifier and the client secret (checked there); the code once.
    assert provider.token_requests[-1]["code_verifier"]
    # The sign-on redirect carried state, nonce and an S256 challenge.
    first = answer.history[0]
    asked = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(first.headers["location"]).query))
    assert asked["code_challenge_method"] == "S256"
    assert asked["state"]
    assert asked["nonce"]
    assert asked["code_challenge"]
    assert asked["redirect_uri"] == mulu + "/login/oidc/callback"


@pytest.mark.server
@pytest.mark.slow
@pytest.mark.parametrize(
    ("tamper", "foreign", "words"),
    [
        ({"nonce": "someone-elses-nonce"}, False, "claim: &#39;nonce&#39;"),
        ({"iss": "http://127.0.0.1:1/evil"}, False, "claim: &#39;iss&#39;"),
        ({"aud": "another-client"}, False, "claim: &#39;aud&#39;"),
        ({"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200}, False, "expired"),
        ({}, True, "bad_signature"),
    ],
    ids=["wrong-nonce", "wrong-issuer", "wrong-audience", "expired", "foreign-key"],
)
def test_a_bad_id_token_is_refused(mulu: str, provider: Provider, tamper, foreign, words):
    provider.tamper = tamper
    provider.foreign_key = foreign
    browser, answer = sign_in(mulu)
    assert answer.status_code == 401, answer.text
    assert "统一身份认证" in answer.text
    assert words in answer.text.lower()
    assert not browser.cookies.get("mulu_session")
    assert "李明" not in browser.get(mulu + "/", timeout=30).text


@pytest.mark.server
@pytest.mark.slow
@pytest.mark.parametrize("who", ["nobody.here", "wang.gone"], ids=["unknown", "disabled"])
def test_a_user_mulu_does_not_know_or_disabled_is_refused(mulu: str, provider: Provider, who):
    provider.username = who
    browser, answer = sign_in(mulu)
    assert answer.status_code == 403, answer.text
    assert "请联系数据管理员" in answer.text
    assert not browser.cookies.get("mulu_session")


@pytest.mark.server
@pytest.mark.slow
def test_the_callback_is_used_once_and_only_by_the_browser_that_began(mulu: str):
    browser = requests.Session()
    begun = browser.get(mulu + "/login/oidc", allow_redirects=False, timeout=30)
    assert begun.status_code == 303
    at_provider = browser.get(begun.headers["location"], allow_redirects=False, timeout=30)
    callback = at_provider.headers["location"]
    # Another browser (no binding cookie) following the same callback signs nobody in.
    stranger = requests.Session()
    refused = stranger.get(callback, allow_redirects=False, timeout=30)
    assert refused.status_code == 401
    assert not stranger.cookies.get("mulu_session")
    # That took the login: the right browser now finds it used up too (one use).
    again = browser.get(callback, allow_redirects=False, timeout=30)
    assert again.status_code == 401
    assert "重新登录" in again.text


@pytest.mark.server
@pytest.mark.slow
def test_next_never_leaves_the_site(mulu: str):
    _, answer = sign_in(mulu, next_url="//evil.example/x")
    assert answer.status_code == 200
    assert answer.url == mulu + "/"


@pytest.mark.server
@pytest.mark.slow
def test_without_settings_there_is_no_sign_on(tmp_path: Path):
    workspace = Workspace(tmp_path / "ws").ensure()
    with serving(workspace.root) as base:
        for path in ("/login/oidc", "/login/oidc/callback?code=x&state=y"):
            answer = requests.get(base + path, allow_redirects=False, timeout=30)
            assert answer.status_code == 404, path


# --- the settings and the checks, without a server ----------------------------------------
def test_settings_never_hold_the_secret_and_name_the_login(tmp_path: Path):
    path = tmp_path / "oidc.yaml"
    assert load_config(path) is None
    path.write_text("issuer: https://sso.example.gov.cn\nclient_id: m\nclient_secret: abc\n")
    with pytest.raises(InvalidInput, match="client_secret_env"):
        load_config(path)
    path.write_text("issuer: http://sso.example.gov.cn\nclient_id: m\n")
    with pytest.raises(InvalidInput, match="https"):
        load_config(path)
    config = OidcConfig.from_mapping(
        {
            "issuer": "https://sso.example.gov.cn/",
            "client_id": "m",
            "login_claim": "email",
            "users": {"Zhang.San@Example.gov.cn": "zhangsan"},
            "allowed_domains": ["example.gov.cn"],
        }
    )
    assert config.issuer == "https://sso.example.gov.cn"
    assert config.scopes[0] == "openid"
    verified = {"email_verified": True}
    assert config.login_for({"email": "zhang.san@example.gov.cn", **verified}) == "zhangsan"
    assert config.login_for({"email": "li@example.gov.cn", **verified}) == "li@example.gov.cn"
    with pytest.raises(Forbidden, match="域名"):
        config.login_for({"email": "zhang.san@evil.example", **verified})
    with pytest.raises(Forbidden, match="email"):
        config.login_for({"preferred_username": "x"})
    with pytest.raises(Forbidden):
        config.login_for({"email": "li@example.gov.cn", "email_verified": False})


def test_an_unsigned_or_symmetric_token_is_refused():
    key = RSAKey.generate_key(2048, parameters={"kid": "k"}, private=True)
    jwks = KeySet([key]).as_dict(private=False)
    now = int(time.time())
    claims = {"iss": "https://i", "aud": "c", "sub": "s", "iat": now, "exp": now + 60, "nonce": "n"}
    good = jwt.encode({"alg": "RS256", "kid": "k"}, claims, key)
    check = {"jwks": jwks, "issuer": "https://i", "client_id": "c", "nonce": "n"}
    assert validate_id_token(good, **check)["sub"] == "s"
    header = base64.urlsafe_b64encode(b'{"alg":"none"}').rstrip(b"=").decode()
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(Unauthenticated):
        validate_id_token(f"{header}.{body}.", **check)
    with pytest.raises(Unauthenticated):
        validate_id_token("not a token", **check)
    with pytest.raises(Unauthenticated, match="nonce"):
        validate_id_token(good, **{**check, "nonce": "other"})


def test_pending_logins_expire_and_bind_to_the_browser(workspace: Workspace):
    pending = PendingLogins(Store.open(workspace), ttl=0.05, most=2)
    first = pending.begin("b1", next_url="/", redirect_uri="http://127.0.0.1/cb")
    with pytest.raises(Unauthenticated, match="另一|本浏览器"):
        pending.take(first.state, "b2")
    second = pending.begin("b1", next_url="/", redirect_uri="http://127.0.0.1/cb")
    time.sleep(0.1)
    with pytest.raises(Unauthenticated, match="过期"):
        pending.take(second.state, "b1")
    for _ in range(5):  # never more than ``most`` kept
        pending.begin("b", next_url="/", redirect_uri="x")
    assert pending.count() <= 2


@pytest.mark.parametrize("flag", [None, "false", "False", 0, 1, "yes", False])
def test_an_email_login_needs_email_verified_exactly_true(flag):
    config = OidcConfig.from_mapping(
        {"issuer": "https://sso.example.gov.cn", "client_id": "m", "login_claim": "email"}
    )
    claims = {"email": "li@example.gov.cn"}
    if flag is not None:
        claims["email_verified"] = flag
    with pytest.raises(Forbidden, match="未经验证"):
        config.login_for(claims)
    for good in (True, "true", "TRUE"):
        assert config.login_for({**claims, "email_verified": good}) == "li@example.gov.cn"


def test_users_mapped_by_email_need_a_verified_email_too():
    config = OidcConfig.from_mapping(
        {
            "issuer": "https://sso.example.gov.cn",
            "client_id": "m",
            "login_claim": "upn",
            "users": {"zhang.san@example.gov.cn": "zhangsan"},
        }
    )
    with pytest.raises(Forbidden, match="未经验证"):
        config.login_for({"upn": "zhang.san@example.gov.cn"})
    assert (
        config.login_for({"upn": "zhang.san@example.gov.cn", "email_verified": "true"})
        == "zhangsan"
    )


def test_match_sub_maps_the_providers_subject_through_users_only():
    base = {"issuer": "https://sso.example.gov.cn", "client_id": "m"}
    with pytest.raises(InvalidInput, match="users"):
        OidcConfig.from_mapping({**base, "match": "sub"})
    with pytest.raises(InvalidInput, match="match"):
        OidcConfig.from_mapping({**base, "match": "email", "users": {"a": "b"}})
    config = OidcConfig.from_mapping({**base, "match": "sub", "users": {"3f2a-77c1": "zhangsan"}})
    # the subject decides, whatever the changeable username or e-mail says
    claims = {"sub": "3f2a-77c1", "preferred_username": "root", "email": "x@evil.example"}
    assert config.login_for(claims) == "zhangsan"
    with pytest.raises(Forbidden, match="sub"):
        config.login_for({"sub": "other", "preferred_username": "zhangsan"})
    with pytest.raises(Forbidden):
        config.login_for({"preferred_username": "zhangsan"})
    domains = OidcConfig.from_mapping(
        {**base, "match": "sub", "users": {"s1": "li"}, "allowed_domains": ["example.gov.cn"]}
    )
    assert (
        domains.login_for({"sub": "s1", "email": "li@example.gov.cn", "email_verified": True})
        == "li"
    )
    with pytest.raises(Forbidden):
        domains.login_for({"sub": "s1", "email": "li@example.gov.cn"})
