"""Mulu's errors as HTTP answers, mapped once for the whole app (``register(app)``).

Any ``schemas.errors.MuluError`` a route lets through becomes its ``http_status`` (NotFound 404,
InvalidInput 400, Conflict 409, Forbidden 403, Unauthenticated 401 with ``WWW-Authenticate``,
TooManyAttempts 429 with ``Retry-After``, Unavailable 503, anything else 500) with its
one-line message: ``{"detail": message}`` for the API (FastAPI's own error shape), a small HTML
page for the portal's pages (a portal page read without the sign-in it needs redirects to
``/login?next=…`` instead). Routes therefore raise or let errors pass; they do not translate
them. The CKAN Action API answers in CKAN's own envelope (``mulu.web.api.ckan``).
"""

from __future__ import annotations

import logging
import urllib.parse
from html import escape

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from schemas.errors import MuluError, TooManyAttempts

_JSON_PREFIXES = ("/api/", "/catalog.")
_TITLES = {
    400: "输入有误 Bad request",
    401: "请先登录 Sign in first",
    403: "无权限 Forbidden",
    404: "未找到 Not found",
    409: "状态冲突 Conflict",
    413: "请求过大 Request too large",
    414: "网址过长 URL too long",
    429: "尝试次数过多 Too many attempts",
    503: "暂不可用 Unavailable",
}
_log = logging.getLogger(__name__)


def wants_json(path: str) -> bool:
    """API and DCAT paths answer errors as JSON; the portal's pages as HTML."""
    return path.startswith(_JSON_PREFIXES)


def error_page(status: int, message: str, *, login_next: str | None = None) -> HTMLResponse:
    """A plain page for a portal URL that failed: what went wrong, and a way back (and, for an
    anonymous visitor, a way in: a hidden entry answers 404 like a missing one, so the page
    says it may need signing in without saying whether it exists)."""
    title = _TITLES.get(status, "出错了 Error")
    login = ""
    if login_next is not None:
        href = escape("/login?" + urllib.parse.urlencode({"next": login_next}))
        login = (
            f"<p>未公开的目录条目须登录后查看 (entries that are not open need signing in): "
            f'<a href="{href}">登录 Sign in</a></p>'
        )
    return HTMLResponse(
        '<!doctype html><html lang="zh"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title></head>"
        '<body style="font-family:sans-serif;margin:16px">'
        f'<h1>{title}</h1><p id="error">{escape(message)}</p>{login}'
        '<p><a href="/">政务信息资源目录 (home)</a></p></body></html>',
        status_code=status,
    )


async def mulu_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, MuluError)
    status = exc.http_status
    if status >= 500:  # ours to look into, not the caller's: keep the traceback in the log
        _log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    headers: dict[str, str] = {}
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="mulu"'
    if isinstance(exc, TooManyAttempts):
        headers["Retry-After"] = str(exc.retry_after)
    if wants_json(request.url.path):
        return JSONResponse({"detail": exc.message}, status_code=status, headers=headers)
    if status == 401 and request.method in ("GET", "HEAD"):
        # A page that needs a signed-in user: to the login form, and back here after it.
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse("/login?" + urllib.parse.urlencode({"next": target}), 303)
    anonymous = getattr(request.state, "principal", None) is None or getattr(
        request.state.principal, "is_anonymous", True
    )
    login_next = None
    if anonymous and status in (403, 404) and request.method in ("GET", "HEAD"):
        login_next = request.url.path
    page = error_page(status, exc.message, login_next=login_next)
    page.headers.update(headers)
    return page


def register(app: FastAPI) -> None:
    app.add_exception_handler(MuluError, mulu_error)
