"""The 401/403 matrix (issue 13): every route of the app, called by nobody and by a user of each
role, answers as its declared policy says — anonymous callers of a signed-in route are refused
(401, or the login page), a role the policy does not name gets 403 naming the role it needs,
and a role it names gets past the policy (whatever the route then says about the made-up ids
and bodies of this test: 404, 400, 422 …).

In-process (TestClient) over a real workspace and store, real users and API tokens; the policy
comes from the route itself (``mulu.web.auth.route_policy``), so a route whose guard is declared
but not enforced, or enforced with another policy than declared, fails here."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from web_users import add_user, bearer

from catalog.policies import Policy
from mulu.web.app import create_app
from mulu.web.auth import route_policy
from schemas.principal import Principal
from schemas.roles import Role
from warehouse.workspace import Workspace

ROLES = ("admin", "steward", "officer", "analyst", "none")
# Routes answering in their own envelope (CKAN) or not at all without settings (SSO).
SKIPPED = ("/api/action/", "/api/3/action/", "/login/oidc")
# Signing in and out: a form post whose answer is about the password, not a role.
SIGN_IN = {("POST", "/login"), ("POST", "/logout")}
ROLE_REFUSAL = "需要角色"


@pytest.fixture(scope="module")
def app_and_tokens(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, dict]]:
    workspace = Workspace(tmp_path_factory.mktemp("matrix") / "ws").ensure()
    tokens = {
        role: add_user(workspace, f"u.{role}", roles=() if role == "none" else (role,))
        for role in ROLES
    }
    app = create_app(workspace)
    with TestClient(app, follow_redirects=False) as client:
        yield client, tokens


def _routes(app: Any) -> list[tuple[str, str, Policy]]:
    found = []
    for route in app.routes:
        if not isinstance(route, APIRoute) or route.path.startswith(SKIPPED):
            continue
        policy = route_policy(route)
        if policy is None:  # test_route_policies fails on these
            continue
        path = re.sub(
            r"\{(\w+)(:path)?\}", lambda m: "1" if "id" in m.group(1) else "x", route.path
        )
        for method in sorted((route.methods or set()) - {"HEAD"}):
            if (method, path) not in SIGN_IN:
                found.append((method, path, policy))
    return found


def _principal(role: str) -> Principal:
    roles = frozenset() if role == "none" else frozenset({Role(role)})
    return Principal(login=f"u.{role}", org_code="T", roles=roles, via="token")


def _call(client: TestClient, method: str, path: str, token: str | None) -> Any:
    headers = bearer(token) if token else {}
    if method == "GET":
        return client.get(path, headers=headers)
    # Same-site, as a browser's form post would be; a token request needs no CSRF token.
    headers["Origin"] = "http://testserver"
    return client.request(method, path, json={}, headers=headers)


def _refused_anonymous(answer: Any) -> bool:
    """401 (API), the login page (a portal GET), or 403 (a portal form post without the
    anonymous CSRF pair is refused before any route runs)."""
    if answer.status_code == 303:
        return "/login" in answer.headers.get("location", "")
    return answer.status_code in (401, 403)


@pytest.mark.slow
def test_every_route_answers_each_role_as_its_policy_says(app_and_tokens):
    client, tokens = app_and_tokens
    routes = _routes(client.app)
    assert len(routes) > 40  # the whole app, not a handful
    wrong = []
    for method, path, policy in routes:
        anonymous = _call(client, method, path, None)
        if policy.signed_in and not _refused_anonymous(anonymous):
            wrong.append(f"{method} {path} anonymous: {anonymous.status_code}")
        for role in ROLES:
            answer = _call(client, method, path, tokens[role])
            refused_for_role = answer.status_code == 403 and ROLE_REFUSAL in answer.text
            allowed = not policy.roles or _principal(role).has(*policy.roles)
            if answer.status_code == 401:
                wrong.append(f"{method} {path} {role}: 401 with a valid token")
            elif allowed and refused_for_role:
                wrong.append(f"{method} {path} {role}: refused, policy {policy.name} allows it")
            elif not allowed and not refused_for_role:
                wrong.append(
                    f"{method} {path} {role}: {answer.status_code}, policy {policy.name} "
                    "should refuse it (403)"
                )
    assert not wrong, "\n".join(wrong)
