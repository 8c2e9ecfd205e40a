"""The quality pages (``/quality``): runs, one run, and the stewards' accept/reject/waive form.
Officers see their own organisation's runs only (``catalog.reviews.runs_for``, ``run_for``)."""

from __future__ import annotations

import urllib.parse

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from catalog.policies import OFFICER, STEWARD
from mulu.web.auth import flash, guard
from mulu.web.deps import Web
from mulu.web.portal.render import page_lang, render
from schemas.errors import MuluError
from schemas.principal import Principal


def register(app: FastAPI, web: Web) -> None:
    store, workspace = web.store, web.workspace

    @app.get("/quality", response_class=HTMLResponse, include_in_schema=False)
    def quality_page(
        request: Request, pending: bool = False, who: Principal = guard(OFFICER)
    ) -> HTMLResponse:
        from catalog.reviews import runs_for  # settles interrupted reviews first

        # An officer lists only their own organisation's runs.
        return render(
            request,
            "quality_runs.html",
            runs=runs_for(who, store, workspace, pending=pending, limit=200),
        )

    @app.get("/quality/{run_id}", response_class=HTMLResponse, include_in_schema=False)
    def quality_run_page(
        request: Request, run_id: str, who: Principal = guard(OFFICER)
    ) -> HTMLResponse:
        from catalog.reviews import run_for  # settles interrupted reviews first

        # No such run: the app's error handler answers with a 404 page; another organisation's
        # run, 403 (an officer's own runs show no server paths). A review's outcome or error
        # arrives as a flash message (server-side), never as text in the URL.
        return render(request, "quality_run.html", run=run_for(who, store, workspace, run_id))

    @app.post("/quality/{run_id}/review", include_in_schema=False)
    def quality_review_form(
        request: Request,
        run_id: str,
        action: str = Form(...),
        note: str | None = Form(None),
        rule: str | None = Form(None),
        who: Principal = guard(STEWARD),
    ) -> RedirectResponse:
        """The signed-in steward decides; the review records them (no reviewer field)."""
        from catalog.reviews import review
        from quality.runs import RunNotFound

        # The decision's outcome or error is shown on the run's page; no such run: a 404 page.
        lang = page_lang(request)
        try:
            outcome = review(
                store, workspace, run_id, action=action, reviewer=who.actor, rule=rule, note=note
            )
            flash(request, outcome["outcome"])
        except RunNotFound:
            raise
        except MuluError as exc:
            flash(request, exc.message, "error")
        return RedirectResponse(
            f"/quality/{urllib.parse.quote(run_id, safe='')}?{urllib.parse.urlencode({'lang': lang})}",
            status_code=303,
        )
