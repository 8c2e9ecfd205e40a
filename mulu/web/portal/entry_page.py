"""An entry's page (``/entry/<code>``): metadata, freshness, updates, quality runs, a masked sample."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse

from mulu.web.deps import Web, connection, entry_or_404
from mulu.web.portal import samples
from mulu.web.portal.render import render


def register(app: FastAPI, web: Web) -> None:
    workspace = web.workspace

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
        return render(request, "entry.html", entry=entry, status=status, updates=updates,
                       runs=runs[:8], quality_score=score, sample=sample, sample_note=note)
