"""Every HTTP route declares who may call it (issue 13): ``who: Principal = guard(POLICY)``.

The app is built over a fresh workspace and each of its routes (REST, CKAN, DCAT and the
portal's pages, whoever added them) must carry a policy; only FastAPI's own documentation
routes are exempt. A new route without ``guard`` fails here, named."""

from __future__ import annotations

from pathlib import Path

from fastapi.routing import APIRoute
from starlette.routing import Mount, Route

from catalog.policies import POLICIES
from mulu.web.app import create_app
from mulu.web.auth import route_policy
from warehouse.workspace import Workspace

# FastAPI's own: the OpenAPI document and the documentation pages over it.
EXEMPT = {"/api/openapi.json", "/api/docs", "/docs/oauth2-redirect", "/redoc"}


def test_every_route_declares_a_policy(tmp_path: Path):
    app = create_app(Workspace(tmp_path / "ws"))
    routes = [r for r in app.routes if isinstance(r, APIRoute | Route | Mount)]
    checked = [r for r in routes if getattr(r, "path", None) not in EXEMPT]
    assert len(checked) > 20  # the app's routes were found at all
    missing = [
        f"{sorted(getattr(r, 'methods', None) or [])} {r.path}"
        for r in checked
        if route_policy(r) is None
    ]
    assert not missing, "routes without guard(POLICY): " + ", ".join(missing)
    assert {route_policy(r) for r in checked} <= set(POLICIES)


def test_writes_are_never_public(tmp_path: Path):
    """A route that changes something needs an identity (PUBLIC is for reads)."""
    app = create_app(Workspace(tmp_path / "ws"))
    # The login form, logout (an expired session's browser may still press it) and the CKAN
    # action API (reads only, POST being CKAN's other way to ask) take anonymous posts.
    anonymous_posts = {"/login", "/logout", "/api/action/{name}", "/api/3/action/{name}"}
    public_writes = [
        r.path
        for r in app.routes
        if isinstance(r, APIRoute)
        and set(r.methods) & {"POST", "PUT", "PATCH", "DELETE"}
        and r.path not in anonymous_posts
        and not r.path.startswith(("/login/", "/auth/", "/oidc/"))  # single sign-on steps
        and (policy := route_policy(r)) is not None
        and not policy.signed_in
    ]
    assert not public_writes, f"writes open to anonymous callers: {public_writes}"
