"""Who is asking (issue 13), the policy every route declares, and the request's protection.

``guard(policy)`` is the dependency every route adds (``who: Principal = guard(STEWARD)``): it
returns the request's principal after checking the policy, and marks the route so the
route-policy test can find a route without one.

``Authentication`` (ASGI middleware, added by ``mulu.web.app``) runs before every route and:

- finds the principal and puts it on ``request.state.principal``: an API token
  (``Authorization: Bearer <token>``, or CKAN's ``Authorization: <token>`` and
  ``X-CKAN-API-Key: <token>``; a bad, expired or revoked token is refused, 401, before any
  route runs), else the portal session cookie (``mulu_session``, ``__Host-mulu_session`` over
  https; an ended, expired or disabled user's session is simply anonymous and the cookie is
  cleared), else anonymous;
- puts the CSRF token the page's forms carry on ``request.state.csrf_token``: the session's own,
  or for an anonymous visitor a random one kept in a ``mulu_csrf`` cookie (double submit);
- refuses (403) a state-changing request (POST, PUT, PATCH, DELETE) that is not authenticated
  by a token and either names another origin (``Origin``, or ``Referer`` without it) or, when a
  cookie session (or an anonymous portal form) made it, lacks the matching token in the form
  field ``csrf_token`` or the ``X-CSRF-Token`` header;
- carries one-shot messages across a redirect (``flash``): a signed, short-lived cookie, so no
  message text ever travels in a URL;
- adds the security headers to every response (``security_headers``), and
  ``Cache-Control: no-store`` to every answer to an authenticated request (a token or a
  session) and to every answer that may carry rows of data (``NO_STORE_PATHS``: the REST data
  routes, CKAN's ``datastore_search``, entry pages with their sample rows), so neither a
  browser's cache nor a shared one keeps what one user was allowed to see.

Cookies: HttpOnly, SameSite=Lax, Path=/, and Secure with the ``__Host-`` prefix when the
request came over https (``scope["scheme"]``: ``mulu serve --proxy-headers`` sets it from a
trusted proxy's ``X-Forwarded-Proto``; without that option forwarded headers are ignored).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
import urllib.parse
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from starlette.datastructures import Headers, MutableHeaders

from catalog.policies import Policy
from catalog.sharing.sessions import PortalSessions
from catalog.sharing.users import UserAccounts
from mulu.web.errors import error_page, wants_json
from schemas.errors import NotFound, Unauthenticated
from schemas.principal import Principal
from warehouse.store import Store

POLICY_ATTRIBUTE = "mulu_policy"
SESSION_COOKIE = "mulu_session"
CSRF_COOKIE = "mulu_csrf"
FLASH_COOKIE = "mulu_flash"
SECURE_PREFIX = "__Host-"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
FLASH_SECONDS = 120  # a flash message not shown within this is dropped
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CKAN_PREFIXES = ("/api/action/", "/api/3/action/")
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")

# The portal sends no script and fetches nothing from elsewhere; the API's documentation pages
# (FastAPI's Swagger UI and ReDoc) load their script and styles from a CDN.
CSP = (
    "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"
)
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "font-src 'self' https://fonts.gstatic.com; worker-src 'self' blob:; "
    "img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"
)
DOCS_PATHS = ("/api/docs", "/redoc", "/docs/oauth2-redirect")
# Answers that may carry rows of data, whoever asks: never cached.
NO_STORE_PATHS = (
    "/api/data/",
    "/entry/",
    "/api/action/datastore_search",
    "/api/3/action/datastore_search",
)
HSTS = "max-age=31536000; includeSubDomains"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


# --- the route side ---------------------------------------------------------------------------
def _channel(path: str) -> str:
    """The audit log's channel of a request: CKAN's action API, the REST API, or the portal."""
    if path.startswith(("/api/action/", "/api/3/action/")):
        return "ckan"
    if path.startswith("/api/data/") and "/download." in path:
        return "download"
    return "rest" if path.startswith("/api/") else "portal"


def principal_of(request: Request) -> Principal:
    """The request's principal (anonymous when nothing authenticated it)."""
    found = getattr(request.state, "principal", None)
    return found if isinstance(found, Principal) else Principal.anonymous()


def guard(policy: Policy) -> Any:
    """A FastAPI dependency: the checked principal; marks the route with ``policy``."""

    def checked(request: Request) -> Principal:
        return policy.check(principal_of(request))

    setattr(checked, POLICY_ATTRIBUTE, policy)
    return Depends(checked)


def route_policy(route: Any) -> Policy | None:
    """The policy a route declared through ``guard`` (None: it declared none)."""
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return None
    stack = list(dependant.dependencies)
    while stack:
        dependency = stack.pop()
        policy = getattr(dependency.call, POLICY_ATTRIBUTE, None)
        if isinstance(policy, Policy):
            return policy
        stack.extend(dependency.dependencies)
    return None


def remote_of(request: Request) -> str:
    """The client's address as the server saw it (the proxy's, unless uvicorn trusts it)."""
    return request.client.host if request.client else "-"


def flash(request: Request, text: str, kind: str = "flash") -> None:
    """A message for the next page this browser shows (after a redirect): ``kind`` "flash"
    (done) or "error". Kept in a signed cookie for ``FLASH_SECONDS``; never in the URL."""
    request.state.flash_out = (str(text), "error" if kind == "error" else "flash")


def take_flash(request: Request) -> tuple[str, str] | None:
    """The message waiting for this page (text, kind), if any; shown once: a second call (the
    base template's, after a page took it for its own place) gets None."""
    found = getattr(request.state, "flash", None)
    if found is not None:
        request.state.flash = None
        request.state.flash_taken = True
    return found


def session_cookie_name(request_or_scope: Request | Scope) -> str:
    return SECURE_PREFIX + SESSION_COOKIE if _https(request_or_scope) else SESSION_COOKIE


def set_session_cookie(request: Request, response: Any, secret: str, max_age: int) -> None:
    """Put a new session's secret in the browser (after login or single sign-on)."""
    response.headers.append("set-cookie", _cookie(request, SESSION_COOKIE, secret, max_age=max_age))


def clear_session_cookie(request: Request, response: Any) -> None:
    response.headers.append("set-cookie", _cookie(request, SESSION_COOKIE, "", max_age=0))


def session_secret(request: Request) -> str | None:
    """The session cookie's secret this request carried (None: no session cookie)."""
    return _session_secret_from(request.cookies, _https(request))


# --- the middleware ---------------------------------------------------------------------------
class Authentication:
    """See the module doc. ``store``: the app's store; ``flash_key``: the HMAC key signing
    flash cookies (random per server process when not given)."""

    def __init__(self, app: ASGIApp, *, store: Store, flash_key: bytes | None = None) -> None:
        self.app = app
        self.store = store
        self.users = UserAccounts(store)
        self.sessions = PortalSessions(store)
        self.flash_key = flash_key or secrets.token_bytes(32)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        https = _https(scope)
        cookies = _cookies(headers)
        path = scope.get("path", "")
        method = scope.get("method", "GET")
        state = scope.setdefault("state", {})
        set_cookies: list[str] = []

        # 1. Who: a token, else a session cookie, else nobody.
        token = _token(headers)
        session: dict[str, Any] | None = None
        principal = Principal.anonymous()
        if token is not None:
            try:
                principal = await run_in_threadpool(self._token_principal, token)
            except Unauthenticated as exc:
                await _refuse(scope, send, 401, exc.message, https=https)
                return
        else:
            secret = _session_secret_from(cookies, https)
            if secret:
                found = await run_in_threadpool(self.sessions.resolve, secret)
                if found is None:  # ended, expired, disabled: anonymous, and forget the cookie
                    set_cookies.append(_cookie(scope, SESSION_COOKIE, "", max_age=0))
                else:
                    principal, session = found
        client = scope.get("client")
        state["principal"] = principal.at(
            channel=_channel(path), remote=client[0] if client else None
        )
        state["session"] = session

        # 2. The CSRF token this browser's forms carry.
        anonymous_csrf = None
        if session is not None:
            csrf = session["csrf_token"]
        elif token is None:
            anonymous_csrf = cookies.get(_name(CSRF_COOKIE, https))
            if not anonymous_csrf or len(anonymous_csrf) < 20:
                anonymous_csrf = secrets.token_urlsafe(32)
                if not wants_json(path):  # pages have forms; API clients need no cookie
                    set_cookies.append(_cookie(scope, CSRF_COOKIE, anonymous_csrf, max_age=None))
            csrf = anonymous_csrf
        else:
            csrf = ""
        state["csrf_token"] = csrf

        # 3. A state-changing request: same origin, and the token when a cookie made it.
        if method in STATE_CHANGING and token is None:
            foreign = _foreign_origin(headers)
            if foreign is not None:
                await _refuse(
                    scope,
                    send,
                    403,
                    f"跨站请求被拒绝：来源 {foreign} 不是本站 (cross-site request refused)",
                    https=https,
                )
                return
            needs_token = session is not None or not path.startswith("/api/")
            if needs_token:
                sent, receive = await _sent_csrf(scope, headers, receive)
                if not sent or not hmac.compare_digest(sent.encode(), csrf.encode()):
                    refused = (
                        "缺少或错误的 CSRF 令牌：请刷新页面后重试 "
                        "(missing or wrong CSRF token: reload the page and try again)"
                    )
                    await _refuse(scope, send, 403, refused, https=https)
                    return

        # 4. A flash message waiting from the last redirect.
        state["flash"] = self._read_flash(cookies.get(FLASH_COOKIE))

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = MutableHeaders(scope=message)
                named = {c.split("=", 1)[0] for c in out.getlist("set-cookie")}
                for cookie in set_cookies:  # the route's own cookie of that name wins
                    if cookie.split("=", 1)[0] not in named:
                        out.append("set-cookie", cookie)
                flash_out = state.get("flash_out")
                if flash_out is not None:
                    value = self._sign_flash(*flash_out)
                    out.append(
                        "set-cookie", _cookie(scope, FLASH_COOKIE, value, max_age=FLASH_SECONDS)
                    )
                elif state.get("flash_taken") or (
                    FLASH_COOKIE in cookies and state["flash"] is None
                ):
                    out.append("set-cookie", _cookie(scope, FLASH_COOKIE, "", max_age=0))
                security_headers(out, path=path, https=https)
                if not principal.is_anonymous or path.startswith(NO_STORE_PATHS):
                    no_store(out)
            await send(message)

        await self.app(scope, receive, sending)

    def _token_principal(self, secret: str) -> Principal:
        user = self.users.authenticate_token(secret)
        try:
            return self.users.principal(user["login"], via="token")
        except NotFound:
            raise Unauthenticated("令牌无效 (invalid token)") from None

    # flash cookies: base64(JSON [text, kind, issued]) "." hex HMAC-SHA256
    def _sign_flash(self, text: str, kind: str) -> str:
        body = base64.urlsafe_b64encode(
            json.dumps([text[:500], kind, int(time.time())], ensure_ascii=False).encode()
        ).decode()
        return body + "." + hmac.new(self.flash_key, body.encode(), hashlib.sha256).hexdigest()

    def _read_flash(self, value: str | None) -> tuple[str, str] | None:
        if not value or "." not in value:
            return None
        body, _, mac = value.rpartition(".")
        expected = hmac.new(self.flash_key, body.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(mac, expected):
            return None
        try:
            text, kind, issued = json.loads(base64.urlsafe_b64decode(body.encode()))
        except (ValueError, TypeError):
            return None
        if time.time() - issued > FLASH_SECONDS:
            return None
        return str(text), str(kind)


def security_headers(headers: MutableHeaders, *, path: str, https: bool) -> None:
    """CSP, framing, sniffing, referrer; HSTS only over https (a plain-http answer must not pin
    a browser to https the server may not have)."""
    docs = path in DOCS_PATHS
    defaults = {
        "content-security-policy": DOCS_CSP if docs else CSP,
        "x-frame-options": "DENY",
        "x-content-type-options": "nosniff",
        "referrer-policy": "same-origin",
    }
    if https:
        defaults["strict-transport-security"] = HSTS
    for name, value in defaults.items():
        if name not in headers:
            headers[name] = value


def no_store(headers: MutableHeaders) -> None:
    """``Cache-Control: no-store`` (replacing any weaker caching the route chose)."""
    if "no-store" not in headers.get("cache-control", ""):
        headers["cache-control"] = "no-store"


# --- helpers ----------------------------------------------------------------------------------
def _https(request_or_scope: Request | Scope) -> bool:
    scope = request_or_scope.scope if isinstance(request_or_scope, Request) else request_or_scope
    return scope.get("scheme") == "https"


def _name(base: str, https: bool) -> str:
    return SECURE_PREFIX + base if https else base


def _cookie(where: Request | Scope, base: str, value: str, *, max_age: int | None) -> str:
    """One ``Set-Cookie`` value: HttpOnly, SameSite=Lax, Path=/, Secure and ``__Host-`` over
    https; ``max_age`` 0 deletes, None lasts the browser session."""
    https = _https(where)
    parts = [f"{_name(base, https)}={value}", "Path=/", "HttpOnly", "SameSite=Lax"]
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
        if max_age == 0:
            parts.append("Expires=Thu, 01 Jan 1970 00:00:00 GMT")
    if https:
        parts.append("Secure")
    return "; ".join(parts)


def _cookies(headers: Headers) -> dict[str, str]:
    from starlette.requests import cookie_parser

    found: dict[str, str] = {}
    for value in headers.getlist("cookie"):
        found.update(cookie_parser(value))
    return found


def _session_secret_from(cookies: dict[str, str], https: bool) -> str | None:
    # Over https only the __Host- cookie counts (a plain-http page cannot have set it).
    return cookies.get(_name(SESSION_COOKIE, https)) or None


def _token(headers: Headers) -> str | None:
    """An API token: ``Authorization: Bearer <t>``, CKAN's ``Authorization: <t>`` or
    ``X-CKAN-API-Key: <t>``. An empty header is no token."""
    value = headers.get("authorization", "").strip()
    if value:
        scheme, _, rest = value.partition(" ")
        if not rest:
            return scheme  # CKAN: the token alone
        if scheme.lower() == "bearer":
            return rest.strip()
        return value  # another scheme (Basic …): no token of ours, refused as invalid
    return headers.get("x-ckan-api-key", "").strip() or None


def _origin_of(url: str) -> str | None:
    parsed = urllib.parse.urlsplit(url)
    if not parsed.scheme or not parsed.netloc:
        return None
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    return f"{parsed.scheme}://{(parsed.hostname or '').lower()}:{port}"


def _foreign_origin(headers: Headers) -> str | None:
    """The other origin a request names (``Origin``, else ``Referer``), or None if it names
    ours or none. ``Origin: null`` (a sandboxed or file page) counts as foreign."""
    # Ours: the Host the request was sent to, or the one a reverse proxy forwards it as
    # (X-Forwarded-Host: a cross-site form cannot set either), by http or https (behind a TLS
    # proxy the browser's page is https while this server saw http).
    hosts = [headers.get("host", "")]
    hosts += [h.strip() for h in headers.get("x-forwarded-host", "").split(",")]
    ours = {
        _origin_of(f"{scheme}://{host}") for host in hosts if host for scheme in ("http", "https")
    }
    ours.discard(None)
    origin = headers.get("origin")
    if origin is not None:
        if origin.strip().lower() == "null":
            return "null"
        named = _origin_of(origin.strip())
        return None if named is not None and named in ours else origin[:200]
    referer = headers.get("referer")
    if referer:
        named = _origin_of(referer.strip())
        return None if named is not None and named in ours else referer[:200]
    return None


async def _sent_csrf(scope: Scope, headers: Headers, receive: Receive) -> tuple[str, Receive]:
    """The CSRF token the request carries (header, else a form body's ``csrf_token``), and a
    ``receive`` that still hands the body to the route."""
    sent = headers.get(CSRF_HEADER, "")
    if sent:
        return sent, receive
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in FORM_TYPES:
        return "", receive
    chunks: list[bytes] = []
    while True:  # bounded: RequestLimits (outside this) cut the body at MAX_BODY
        message = await receive()
        if message["type"] != "http.request":
            return "", _replay([message], receive)
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    replayed = _replay([{"type": "http.request", "body": body, "more_body": False}], receive)
    if content_type == FORM_TYPES[0]:
        fields = urllib.parse.parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        return (fields.get(CSRF_FIELD) or [""])[0], replayed
    # multipart: let Starlette parse a copy
    request = Request(
        dict(scope), _replay([{"type": "http.request", "body": body, "more_body": False}], receive)
    )
    try:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        await form.close()
    except Exception:  # a malformed body: no token; the route will refuse it too
        value = None
    return (value if isinstance(value, str) else ""), replayed


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed


async def _refuse(scope: Scope, send: Send, status: int, message: str, *, https: bool) -> None:
    """Answer the refusal here: CKAN's envelope on its action paths, JSON on the API, a page
    on the portal; with the security headers."""
    path = scope.get("path", "")
    if path.startswith(CKAN_PREFIXES):
        # CKAN answers a bad key 403 "Authorization Error"; ckanapi raises NotAuthorized.
        name = path.rsplit("/", 1)[-1]
        body = json.dumps(
            {
                "help": f"ckan action {name}",
                "success": False,
                "error": {"__type": "Authorization Error", "message": message},
            },
            ensure_ascii=False,
        ).encode()
        status = 403
        media_type = "application/json"
    elif wants_json(path):
        body = json.dumps({"detail": message}, ensure_ascii=False).encode()
        media_type = "application/json"
    else:
        body = bytes(error_page(status, message).body)
        media_type = "text/html; charset=utf-8"
    start: Message = {"type": "http.response.start", "status": status, "headers": []}
    out = MutableHeaders(scope=start)
    out["content-type"] = media_type
    out["content-length"] = str(len(body))
    if status == 401:
        out["www-authenticate"] = 'Bearer realm="mulu"'
    security_headers(out, path=path, https=https)
    await send(start)
    await send({"type": "http.response.body", "body": body})
