"""The web portal: server-rendered pages (Chinese, ``?lang=en`` English) on the same app as
the API, one module per page group: search (``/``), an entry (``/entry/<code>``), the freshness
dashboard (``/freshness``) and the stewards' quality pages (``/quality``). Plain HTML and inline
SVG: no script, no build step, nothing fetched from the internet. Pages call the same core
functions as the API and the CLI.
"""

from __future__ import annotations

from fastapi import FastAPI

from mulu.web.deps import Web
from mulu.web.portal import (
    audit_page,
    entry_page,
    freshness_page,
    grants_page,
    login_page,
    oidc_login,
    quality_pages,
    search_page,
    sharing_pages,
)

PAGES = (
    search_page,
    entry_page,
    freshness_page,
    quality_pages,
    login_page,
    oidc_login,
    sharing_pages,
    grants_page,
    audit_page,
)


def register(app: FastAPI, web: Web) -> None:
    for page in PAGES:
        page.register(app, web)
