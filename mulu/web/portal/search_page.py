"""The search page (``/``): results, facets with counts, highlighting, paging."""

from __future__ import annotations

import urllib.parse

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse

from catalog.policies import PUBLIC, visible_open_types
from mulu.web.auth import guard
from mulu.web.deps import Web
from mulu.web.portal.render import PAGE_SIZE, page_lang, render
from schemas.principal import Principal

MAX_PAGE = 5_000  # pages past it show the last one allowed


def register(app: FastAPI, web: Web) -> None:
    store = web.store

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def search_page(
        request: Request, q: str = "", page: int = 1, who: Principal = guard(PUBLIC)
    ) -> HTMLResponse:
        from catalog.search import search

        active = [
            (key, value)
            for key, sep, value in (f.partition("=") for f in request.query_params.getlist("facet"))
            if sep
        ]
        page = min(max(1, page), MAX_PAGE)
        filters: dict[str, list[str]] = {}
        for key, value in active:  # values of one key are OR-ed
            filters.setdefault(key, []).append(value)
        # An unknown facet key or status in a hand-made URL is InvalidInput: a 400 page.
        result = search(
            store,
            q,
            facets=filters or None,
            limit=PAGE_SIZE,
            offset=(page - 1) * PAGE_SIZE,
            refresh=web.refresher,
            visible=visible_open_types(who),  # the public sees open entries only
        )
        lang = page_lang(request)

        def url(facets: list[tuple[str, str]], page_no: int = 1) -> str:
            query = [("q", q), ("lang", lang)] + [("facet", f"{k}={v}") for k, v in facets]
            if page_no > 1:
                query.append(("page", str(page_no)))
            return "/?" + urllib.parse.urlencode(query)

        facets = []
        for key, values in result.facets.items():
            rows = []
            for value, count in values[:12]:
                on = (key, str(value)) in active
                toggled = (
                    [f for f in active if f != (key, str(value))]
                    if on
                    else [f for f in active if f[0] != key] + [(key, str(value))]
                )
                rows.append((value, count, url(toggled), on))
            facets.append((key, rows))
        hits = [
            {
                "code": h.code,
                "provider_name": h.provider_name,
                "share_type": h.share_type,
                "update_cycle": h.update_cycle,
                "freshness": h.freshness,
                "name_html": h.name_highlighted,
                "summary_html": h.summary_snippet,
            }
            for h in result.hits
        ]
        pages = (result.total + PAGE_SIZE - 1) // PAGE_SIZE
        return render(
            request,
            "search.html",
            q=q,
            active=active,
            facets=facets,
            hits=hits,
            total=result.total,
            took_ms=result.took_ms,
            prev_url=url(active, page - 1) if page > 1 else None,
            next_url=url(active, page + 1) if page < pages else None,
        )
