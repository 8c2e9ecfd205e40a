"""The freshness dashboard (``/freshness``): statuses, the scorecard, overdue bodies, the on-time trend."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse

from catalog.policies import PUBLIC
from mulu.web.auth import guard
from mulu.web.deps import Web
from mulu.web.portal import charts
from mulu.web.portal.render import PageCache, render
from schemas.principal import Principal


def register(app: FastAPI, web: Web) -> None:
    store = web.store
    cache = PageCache()

    @app.get("/freshness", response_class=HTMLResponse, include_in_schema=False)
    def freshness_page(
        request: Request, month: str | None = None, who: Principal = guard(PUBLIC)
    ) -> HTMLResponse:
        from catalog.freshness.scorecard import dashboard

        try:
            shown = cache.get(("dashboard", month), lambda: dashboard(store, month))
        except ValueError:  # a bad month: this month's
            shown = cache.get(("dashboard", None), lambda: dashboard(store, None))
        rows, counts, trend = shown.rows, shown.counts, shown.trend
        overdue = sorted(
            ((r["provider_name"], r["overdue"]) for r in rows if r["overdue"]),
            key=lambda item: -item[1],
        )[:15]
        order = ("overdue", "due_soon", "fresh", "never_updated", "not_tracked")
        return render(
            request,
            "freshness.html",
            rows=rows,
            month=shown.month,
            counts=[(s, counts.get(s, 0)) for s in order],
            overdue_svg=charts.bars(overdue),
            trend_svg=charts.line([(t["month"], t["on_time_rate"] or 0) for t in trend]),
        )
