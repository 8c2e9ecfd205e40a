"""Rendering shared by the portal's pages: templates, language, a small cache.

The web portal: server-rendered pages on the API's app (Chinese, ``?lang=en`` English).

Search with facets and highlighting (``/``), an entry page (``/entry/<code>``), the freshness
dashboard (``/freshness``) and the stewards' quality pages (``/quality``), where a blocked run
is accepted, rejected or a rule waived. Plain HTML and inline SVG: no script, no build step,
nothing fetched from the internet. Pages call the same core functions as the API and the CLI.
"""

from __future__ import annotations

import time
import urllib.parse
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from mulu.web.auth import principal_of, take_flash
from mulu.web.portal.i18n import translator

PAGE_SIZE = 20
_CACHE_SECONDS = 300
ENV = Environment(
    loader=PackageLoader("mulu.web.portal", "templates"), autoescape=select_autoescape(["html"])
)


class PageCache:
    """Dashboard figures for a few minutes: the scorecard and trend cost ~0.5 s each."""

    def __init__(self) -> None:
        self.values: dict[tuple, tuple[float, Any]] = {}

    def get(self, key: tuple, compute):
        now = time.monotonic()
        hit = self.values.get(key)
        if hit is None or now - hit[0] > _CACHE_SECONDS:
            hit = (now, compute())
            self.values[key] = hit
        return hit[1]


def page_lang(request: Request) -> str:
    lang = request.query_params.get("lang") or request.cookies.get("lang") or "zh"
    return "en" if lang == "en" else "zh"


def render(request: Request, template: str, **context: Any) -> HTMLResponse:
    lang = page_lang(request)
    params = dict(request.query_params)
    switch = {
        code: f"{request.url.path}?{urllib.parse.urlencode({**params, 'lang': code})}"
        for code in ("zh", "en")
    }
    html = ENV.get_template(template).render(
        t=translator(lang),
        lang=lang,
        switch_zh=switch["zh"],
        switch_en=switch["en"],
        who=principal_of(request),
        csrf_token=getattr(request.state, "csrf_token", ""),
        flash_message=take_flash(request),  # (text, "flash" | "error") after a redirect
        **context,
    )
    response = HTMLResponse(html)
    if "lang" in request.query_params:
        response.set_cookie("lang", lang, max_age=365 * 86400, samesite="lax")
    return response
