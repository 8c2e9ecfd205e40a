"""The web portal: server-rendered pages on the API's app (Chinese, ``?lang=en`` English).

Search with facets and highlighting (``/``), an entry page (``/entry/<code>``), the freshness
dashboard (``/freshness``) and the stewards' quality pages (``/quality``), where a blocked run
is accepted, rejected or a rule waived. Plain HTML and inline SVG: no script, no build step,
nothing fetched from the internet. Pages call the same core functions as the API and the CLI.
"""

from __future__ import annotations

import time
import urllib.parse
from html import escape
from typing import Any

from fastapi import FastAPI, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from mulu.web.deps import connection, entry_or_404, thread_connection
from mulu.web.portal import charts, samples
from mulu.web.portal.i18n import translator
from warehouse.workspace import Workspace

PAGE_SIZE = 20
_CACHE_SECONDS = 300
_ENV = Environment(loader=PackageLoader("mulu.web.portal", "templates"),
                   autoescape=select_autoescape(["html"]))


class _Cache:
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


def _lang(request: Request) -> str:
    lang = request.query_params.get("lang") or request.cookies.get("lang") or "zh"
    return "en" if lang == "en" else "zh"


def _render(request: Request, template: str, **context: Any) -> HTMLResponse:
    lang = _lang(request)
    params = dict(request.query_params)
    switch = {code: f"{request.url.path}?{urllib.parse.urlencode({**params, 'lang': code})}"
              for code in ("zh", "en")}
    html = _ENV.get_template(template).render(
        t=translator(lang), lang=lang, switch_zh=switch["zh"], switch_en=switch["en"],
        **context)
    response = HTMLResponse(html)
    if "lang" in request.query_params:
        response.set_cookie("lang", lang, max_age=365 * 86400, samesite="lax")
    return response


def register(app: FastAPI, workspace: Workspace) -> None:
    cache = _Cache()

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def search_page(request: Request, q: str = "", page: int = 1) -> HTMLResponse:
        from catalog.search import search

        active = [tuple(f.split("=", 1)) for f in request.query_params.getlist("facet")
                  if "=" in f]
        page = max(1, page)
        filters: dict[str, list[str]] = {}
        for key, value in active:  # values of one key are OR-ed
            filters.setdefault(key, []).append(value)
        try:
            result = search(thread_connection(workspace), q, facets=filters or None,
                            limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
        except ValueError as exc:  # an unknown facet key or status in a hand-made URL
            raise HTTPException(status_code=400, detail=str(exc)) from None
        lang = _lang(request)

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
                toggled = [f for f in active if f != (key, str(value))] if on else \
                    [f for f in active if f[0] != key] + [(key, str(value))]
                rows.append((value, count, url(toggled), on))
            facets.append((key, rows))
        hits = [{"code": h.code, "provider_name": h.provider_name, "share_type": h.share_type,
                 "update_cycle": h.update_cycle, "freshness": h.freshness,
                 "name_html": h.name_highlighted, "summary_html": h.summary_snippet}
                for h in result.hits]
        pages = (result.total + PAGE_SIZE - 1) // PAGE_SIZE
        return _render(request, "search.html", q=q, active=active, facets=facets, hits=hits,
                       total=result.total, took_ms=result.took_ms,
                       prev_url=url(active, page - 1) if page > 1 else None,
                       next_url=url(active, page + 1) if page < pages else None)

    @app.get("/entry/{code:path}", response_class=HTMLResponse, include_in_schema=False)
    def entry_page(request: Request, code: str) -> HTMLResponse:
        from catalog.freshness.policies import entry_status
        from quality.runs import list_runs

        with connection(workspace) as con:
            entry = entry_or_404(con, code)
            status = entry_status(con, entry)
            updates = [dict(r) for r in con.execute(
                "SELECT updated_at, source, note FROM entry_updates WHERE code = ? "
                "ORDER BY updated_at DESC LIMIT 12", (entry["code"],))]
            datasets = [r[0] for r in con.execute(
                "SELECT DISTINCT dataset FROM quality_runs WHERE entry_code = ? UNION "
                "SELECT DISTINCT dataset FROM loads WHERE entry_code = ?",
                (entry["code"], entry["code"]))]
        runs = [r for d in datasets for r in list_runs(workspace, dataset=d, limit=5)]
        runs.sort(key=lambda r: r["started_at"], reverse=True)
        score = runs[0]["score"] if runs else None
        sample, note = samples.sample_rows(workspace, entry, datasets)
        return _render(request, "entry.html", entry=entry, status=status, updates=updates,
                       runs=runs[:8], quality_score=score, sample=sample, sample_note=note)

    @app.get("/freshness", response_class=HTMLResponse, include_in_schema=False)
    def freshness_page(request: Request, month: str | None = None) -> HTMLResponse:
        from catalog.freshness.scorecard import on_time_trend, scorecard
        from catalog.freshness.sweep import summary

        try:
            rows = cache.get(("scorecard", month), lambda: scorecard(workspace, month))
        except ValueError:
            rows = cache.get(("scorecard", None), lambda: scorecard(workspace, None))
        counts = cache.get(("summary",), lambda: summary(workspace))
        trend = cache.get(("trend",), lambda: on_time_trend(workspace, months=6))
        overdue = sorted(((r["provider_name"], r["overdue"]) for r in rows if r["overdue"]),
                         key=lambda item: -item[1])[:15]
        order = ("overdue", "due_soon", "fresh", "never_updated", "not_tracked")
        return _render(
            request, "freshness.html", rows=rows, month=rows[0]["month"] if rows else month,
            counts=[(s, counts.get(s, 0)) for s in order],
            overdue_svg=charts.bars(overdue),
            trend_svg=charts.line([(t["month"], t["on_time_rate"] or 0) for t in trend]))

    @app.get("/quality", response_class=HTMLResponse, include_in_schema=False)
    def quality_page(request: Request, pending: bool = False) -> HTMLResponse:
        from quality.runs import list_runs

        return _render(request, "quality_runs.html",
                       runs=list_runs(workspace, pending=pending, limit=200))

    @app.get("/quality/{run_id}", response_class=HTMLResponse, include_in_schema=False)
    def quality_run_page(request: Request, run_id: str, flash: str | None = None,
                         error: str | None = None) -> HTMLResponse:
        from quality.runs import ReviewError, get_run

        try:
            run = get_run(workspace, run_id)
        except ReviewError as exc:
            return HTMLResponse(f"<p>{escape(str(exc))}</p>", status_code=404)
        return _render(request, "quality_run.html", run=run, flash=flash, error=error)

    @app.post("/quality/{run_id}/review", include_in_schema=False)
    def quality_review_form(request: Request, run_id: str, action: str = Form(...),
                            reviewer: str = Form(...), note: str | None = Form(None),
                            rule: str | None = Form(None)) -> RedirectResponse:
        from catalog.reviews import review
        from quality.runs import ReviewError

        lang = _lang(request)
        try:
            outcome = review(workspace, run_id, action=action, reviewer=reviewer,
                                    rule=rule, note=note)
            query = {"flash": outcome["outcome"], "lang": lang}
        except ReviewError as exc:
            query = {"error": str(exc), "lang": lang}
        return RedirectResponse(f"/quality/{run_id}?{urllib.parse.urlencode(query)}",
                                status_code=303)
