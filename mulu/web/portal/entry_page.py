"""An entry's page (``/entry/<code>``): metadata, freshness, updates, quality runs, and the
sample rows the visitor may read or the way to ask for them (``samples``).

A missing entry is the directory's ``NotFound``, answered by ``mulu.web.errors`` as a 404 page;
so is, for an anonymous visitor, an entry that is not open (``catalog.policies.can_see_entry``).
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse

from catalog.directory import EntryNotFound
from catalog.policies import PUBLIC, can_see_entry
from mulu.web.auth import guard
from mulu.web.deps import Web
from mulu.web.portal import samples
from mulu.web.portal.render import page_lang, render
from schemas.principal import Principal

RECENT_UPDATES = 12
RUNS_PER_DATASET = 5


def register(app: FastAPI, web: Web) -> None:
    store = web.store

    @app.get("/entry/{code:path}", response_class=HTMLResponse, include_in_schema=False)
    def entry_page(request: Request, code: str, who: Principal = guard(PUBLIC)) -> HTMLResponse:
        from catalog.freshness.policies import entry_status

        entry = web.directory().get(code)
        if not can_see_entry(who, entry):  # the public sees open entries only: as if missing
            raise EntryNotFound(code)
        status = entry_status(store, entry)
        updates = store.history.recent_updates(entry["code"], RECENT_UPDATES)
        # The datasets serving the entry: validated ones and loaded ones (a load the gate
        # never saw, or a run whose load failed, still belongs here).
        datasets = sorted(
            set(store.quality.datasets_of_entry(entry["code"]))
            | set(store.loads.datasets_of_entry(entry["code"]))
        )
        runs = [r for d in datasets for r in store.quality.runs(dataset=d, limit=RUNS_PER_DATASET)]
        runs.sort(key=lambda r: r["started_at"], reverse=True)
        score = runs[0]["score"] if runs else None
        sample = samples.entry_sample(
            web.workspace,
            store,
            who,
            entry,
            remote=request.client.host if request.client else None,
        )
        return render(
            request,
            "entry.html",
            entry=entry,
            status=status,
            updates=updates,
            runs=runs[:8],
            quality_score=score,
            sample=sample,
            sample_words=samples.words(page_lang(request)),
        )
