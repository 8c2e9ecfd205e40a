"""Signing in and out of the portal (``/login``, ``/logout``).

``GET /login`` shows the form (Chinese, phone-sized); ``POST /login`` checks the password
(``catalog.sharing.sessions.PortalSessions.login``: rate-limited, audited), starts a session,
sets the session cookie and redirects to ``next`` when that is a path on this site (never
elsewhere), else to the search page. A refusal is shown on the form itself (401 wrong login or
password, 429 too many attempts with ``Retry-After``). ``POST /logout`` ends the session and
clears the cookie. Both forms carry the CSRF token (anonymous: the double-submit cookie).
"""

from __future__ import annotations

import urllib.parse

from fastapi import FastAPI, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from catalog.policies import PUBLIC
from catalog.sharing.oidc import sign_on_button
from catalog.sharing.sessions import PortalSessions
from mulu.web.auth import (
    clear_session_cookie,
    flash,
    guard,
    remote_of,
    session_secret,
    set_session_cookie,
)
from mulu.web.deps import Web
from mulu.web.portal.i18n import translator
from mulu.web.portal.render import page_lang, render
from schemas.errors import TooManyAttempts, Unauthenticated
from schemas.principal import Principal


def safe_next(target: str | None) -> str:
    """``target`` if it is a path on this site ("/…", not "//host" or "/\\host"), else "/"."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    if "\\" in target or any(ord(c) < 0x20 for c in target):
        return "/"
    parts = urllib.parse.urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    return target


def register(app: FastAPI, web: Web) -> None:
    sessions = PortalSessions(web.store)

    def page(request: Request, *, next: str, error: str | None, login: str) -> HTMLResponse:
        # Single sign-on (mulu.web.portal.oidc_login) adds its button when configured.
        button = sign_on_button(web.workspace.oidc_file)
        sso_url = "/login/oidc?" + urllib.parse.urlencode({"next": next}) if button else None
        return render(
            request, "login.html", next=next, error=error, login=login, sso=button, sso_url=sso_url
        )

    @app.get("/login", response_class=HTMLResponse, include_in_schema=False)
    def login_form(
        request: Request, next: str = "/", who: Principal = guard(PUBLIC)
    ) -> HTMLResponse:
        return page(request, next=safe_next(next), error=None, login="")

    @app.post("/login", include_in_schema=False)
    async def login(
        request: Request,
        login: str = Form(""),
        password: str = Form(""),
        next: str = Form("/"),
        who: Principal = guard(PUBLIC),
    ) -> Response:
        target = safe_next(next)
        try:
            secret, session = await run_in_threadpool(
                sessions.login, login, password, remote=remote_of(request)
            )
        except (Unauthenticated, TooManyAttempts) as exc:
            shown = page(request, next=target, error=exc.message, login=login)
            shown.status_code = exc.http_status
            if isinstance(exc, TooManyAttempts):
                shown.headers["Retry-After"] = str(exc.retry_after)
            return shown
        old = session_secret(request)
        if old:  # a new login replaces the browser's old session (no session fixation)
            await run_in_threadpool(sessions.logout, old)
        response = RedirectResponse(target, status_code=303)
        lifetime = int(sessions.lifetime.total_seconds())
        set_session_cookie(request, response, secret, lifetime)
        flash(request, translator(page_lang(request))("logged_in"))
        return response

    @app.post("/logout", include_in_schema=False)
    async def logout(request: Request, who: Principal = guard(PUBLIC)) -> Response:
        secret = session_secret(request)
        if secret:
            await run_in_threadpool(sessions.logout, secret)
        response = RedirectResponse(f"/?lang={page_lang(request)}", status_code=303)
        clear_session_cookie(request, response)
        flash(request, translator(page_lang(request))("logged_out"))
        return response
