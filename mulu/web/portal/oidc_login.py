"""Single sign-on via OIDC (统一身份认证, issue 13): ``/login/oidc`` and its callback.

Optional: without the workspace's ``config/oidc.yaml`` both routes answer 404 (and the login
page shows no SSO button: ``catalog.sharing.oidc.sign_on_button``). With it:

- ``GET /login/oidc?next=/path`` begins a login (state, nonce and PKCE verifier kept in the
  store, so any server process may take the callback: ``catalog.sharing.oidc.PendingLogins``), binds it to this browser with a
  short-lived ``mulu_oidc`` cookie, and redirects to the provider;
- ``GET /login/oidc/callback?code=…&state=…`` takes the login back (once, same browser),
  exchanges the code, checks the ID token (signature by the provider's JWKS, iss, aud, exp,
  nonce), maps its login claim to an EXISTING active user, starts a portal session
  (``PortalSessions.start(via="oidc")``, the same cookie a password login sets) and redirects to
  ``next``. Anything refused is a Chinese page (401 for a failed sign-on, 403 for an account
  with no Mulu user), recorded in the audit log as ``login_failed``.

The routes are plain ``def``: talking to the provider runs in the thread pool.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from catalog.policies import PUBLIC
from catalog.sharing.audit import AuditLog
from catalog.sharing.oidc import OidcClient, OidcConfig, PendingLogins, load_config, principal_for
from catalog.sharing.sessions import SESSION_HOURS, PortalSessions
from mulu.web.auth import flash, guard, remote_of, set_session_cookie
from mulu.web.deps import Web
from mulu.web.portal.render import render
from schemas.errors import MuluError, NotFound, Unauthenticated
from schemas.principal import Principal
from warehouse.store import Store

BINDING_COOKIE = "mulu_oidc"
BINDING_SECONDS = 600
CALLBACK = "/login/oidc/callback"


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a path on this site only (never ``//host`` or a URL)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


class SignOn:
    """The workspace's single sign-on: its settings (read again when the file changes), the
    provider client (discovery and JWKS kept) and the logins begun."""

    def __init__(self, path: Path, store: Store) -> None:
        self.path = path
        self.pending = PendingLogins(store)
        self._lock = threading.Lock()
        self._seen: tuple[str, OidcConfig, OidcClient] | None = None

    def current(self) -> tuple[OidcConfig, OidcClient]:
        """The settings and client; NotFound (404) when single sign-on is off."""
        try:
            text = self.path.read_bytes()
        except (FileNotFoundError, IsADirectoryError):
            raise NotFound("未启用统一身份认证 (single sign-on is not configured)") from None
        digest = hashlib.sha256(text).hexdigest()
        with self._lock:
            if self._seen is not None and self._seen[0] == digest:
                return self._seen[1], self._seen[2]
        config = load_config(self.path)
        if config is None:
            raise NotFound("未启用统一身份认证 (single sign-on is not configured)")
        client = OidcClient(config)
        with self._lock:
            self._seen = (digest, config, client)
        return config, client


def _https(request: Request) -> bool:
    return request.url.scheme == "https"


def _binding_name(request: Request) -> str:
    return ("__Host-" if _https(request) else "") + BINDING_COOKIE


def _failed(request: Request, web: Web, error: MuluError, login: object = None) -> HTMLResponse:
    AuditLog(web.store).event(
        Principal.anonymous(),
        "login_failed",
        channel="portal",
        remote=remote_of(request),
        via="oidc",
        login=str(login) if login else None,
        reason=error.message,
    )
    response = render(request, "sso_error.html", message=error.message)
    response.status_code = error.http_status
    response.delete_cookie(_binding_name(request), path="/", secure=_https(request))
    return response


def register(app: FastAPI, web: Web) -> None:
    sign_on = SignOn(web.workspace.oidc_file, web.store)

    @app.get("/login/oidc", include_in_schema=False)
    def oidc_begin(
        request: Request,
        next: str = "/",
        who: Principal = guard(PUBLIC),
    ) -> Response:
        config, client = sign_on.current()
        redirect_uri = config.redirect_uri or str(request.url_for("oidc_callback"))
        binding = secrets.token_urlsafe(32)
        pending = sign_on.pending.begin(
            binding, next_url=safe_next(next), redirect_uri=redirect_uri
        )
        try:
            target = client.authorization_url(pending)
        except MuluError as exc:
            return _failed(request, web, exc)
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(
            _binding_name(request),
            binding,
            max_age=BINDING_SECONDS,
            path="/",
            httponly=True,
            samesite="lax",  # sent on the provider's top-level redirect back
            secure=_https(request),
        )
        return response

    @app.get(CALLBACK, name="oidc_callback", include_in_schema=False)
    def oidc_callback(
        request: Request,
        code: str = "",
        state: str = "",
        error: str = "",
        error_description: str = "",
        who: Principal = guard(PUBLIC),
    ) -> Response:
        config, client = sign_on.current()
        claims: dict[str, object] = {}
        try:
            pending = sign_on.pending.take(state, request.cookies.get(_binding_name(request)))
            if error:
                raise Unauthenticated(
                    f"统一身份认证未完成：{error} {error_description[:200]} (sign-on not completed)"
                )
            if not code:
                raise Unauthenticated("统一身份认证未返回授权码 (no code)")
            claims = client.finish(pending, code)
            user = principal_for(web.store, config, claims)
            assert user.login is not None
            secret, _session = PortalSessions(web.store).start(
                user.login, via="oidc", remote=remote_of(request)
            )
        except MuluError as exc:
            return _failed(request, web, exc, claims.get(config.login_claim))
        response = RedirectResponse(pending.next_url, status_code=303)
        set_session_cookie(request, response, secret, max_age=int(SESSION_HOURS * 3600))
        response.delete_cookie(_binding_name(request), path="/", secure=_https(request))
        flash(request, f"已通过统一身份认证登录：{user.display_name or user.login}")
        return response
