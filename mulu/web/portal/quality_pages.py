"""The stewards' quality pages (``/quality``): runs, one run, and the accept/reject/waive form."""

from __future__ import annotations

import urllib.parse
from html import escape

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from mulu.web.deps import Web
from mulu.web.portal.render import page_lang, render


def register(app: FastAPI, web: Web) -> None:
    workspace = web.workspace

    @app.get("/quality", response_class=HTMLResponse, include_in_schema=False)
    def quality_page(request: Request, pending: bool = False) -> HTMLResponse:
        from quality.runs import list_runs

        return render(request, "quality_runs.html",
                       runs=list_runs(workspace, pending=pending, limit=200))

    @app.get("/quality/{run_id}", response_class=HTMLResponse, include_in_schema=False)
    def quality_run_page(request: Request, run_id: str, flash: str | None = None,
                         error: str | None = None) -> HTMLResponse:
        from quality.runs import ReviewError, get_run

        try:
            run = get_run(workspace, run_id)
        except ReviewError as exc:
            return HTMLResponse(f"<p>{escape(str(exc))}</p>", status_code=404)
        return render(request, "quality_run.html", run=run, flash=flash, error=error)

    @app.post("/quality/{run_id}/review", include_in_schema=False)
    def quality_review_form(request: Request, run_id: str, action: str = Form(...),
                            reviewer: str = Form(...), note: str | None = Form(None),
                            rule: str | None = Form(None)) -> RedirectResponse:
        from catalog.reviews import review
        from quality.runs import ReviewError

        lang = page_lang(request)
        try:
            outcome = review(workspace, run_id, action=action, reviewer=reviewer,
                                    rule=rule, note=note)
            query = {"flash": outcome["outcome"], "lang": lang}
        except ReviewError as exc:
            query = {"error": str(exc), "lang": lang}
        return RedirectResponse(f"/quality/{run_id}?{urllib.parse.urlencode(query)}",
                                status_code=303)
