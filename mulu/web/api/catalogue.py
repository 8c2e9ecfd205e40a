"""REST: entries (目录条目) and organisations (提供方).

A missing entry or organisation is a ``NotFound`` from the directory, answered 404 by
``mulu.web.errors``; the handlers do not translate errors themselves.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Query
from pydantic import BaseModel, Field

from catalog.freshness.reports import report_update
from catalog.policies import OFFICER, PUBLIC
from catalog.search import public
from mulu.web.auth import guard
from mulu.web.deps import Web
from schemas.dates import CatalogueDatetime
from schemas.principal import Principal


class UpdateReport(BaseModel):
    """A department reports that an entry's data was updated (数据更新). The report is recorded
    as the authenticated user's (``reported_by`` is ignored, kept so older clients still
    work); a time in the future (beyond a 5-minute clock skew) is refused (400)."""

    at: CatalogueDatetime | None = Field(
        None, description="when; default now (catalogue time); not in the future"
    )
    note: str | None = None
    reported_by: str | None = Field(
        None, description="ignored: the report records the authenticated user", deprecated=True
    )


def register(app: FastAPI, web: Web) -> None:
    store = web.store

    @app.get("/api/entries", tags=["catalogue"])
    def list_entries(
        org: str | None = None,
        share_type: str | None = None,
        update_cycle: str | None = None,
        limit: int = Query(50, ge=1, le=1000),
        offset: int = Query(0, ge=0),
        who: Principal = guard(PUBLIC),
    ) -> dict[str, Any]:
        """Active entries in code order; ``org`` is a 提供方代码 or name. Anonymous callers
        see open entries only (开放属性), counted so in ``total``."""
        found = public.entry_page(
            store,
            who,
            provider=org or None,
            share_type=share_type or None,
            update_cycle=update_cycle or None,
            limit=limit,
            offset=offset,
            refresh=web.refresher,
        )
        return {"total": found.total, "entries": found.entries}

    @app.get("/api/entries/{code:path}/history", tags=["catalogue"])
    def entry_history(code: str, who: Principal = guard(PUBLIC)) -> dict[str, Any]:
        entry = public.check_entry(who, web.directory().get(code))
        history = store.history.of(entry["code"])
        updates = store.history.updates(entry["code"])
        if who.is_anonymous:  # the public sees what changed and when, not which staff did it
            history = [_without(row, "changed_by") for row in history]
            updates = [_without(row, "reported_by") for row in updates]
        return {"code": entry["code"], "history": history, "updates": updates}

    @app.post("/api/entries/{code:path}/updates", tags=["freshness"], status_code=201)
    def post_update_report(
        code: str, report: UpdateReport, who: Principal = guard(OFFICER)
    ) -> dict[str, Any]:
        """The entry's own organisation's officer (or a steward) reports an update."""
        entry = report_update(store, who, code, at=report.at, note=report.note)
        return {"code": entry["code"], "updated_at": entry["updated_at"]}

    @app.get("/api/entries/{code:path}", tags=["catalogue"])
    def get_entry(code: str, who: Principal = guard(PUBLIC)) -> dict[str, Any]:
        """One entry; a hidden one (not open, asked anonymously) is 404 like a missing one."""
        return public.check_entry(who, web.directory().get(code))

    @app.get("/api/organisations", tags=["catalogue"])
    def list_organisations(who: Principal = guard(PUBLIC)) -> list[dict[str, Any]]:
        return public.organisations_with_counts(store, who, refresh=web.refresher)

    @app.get("/api/organisations/{key}", tags=["catalogue"])
    def get_organisation(key: str, who: Principal = guard(PUBLIC)) -> dict[str, Any]:
        organisation = web.directory().organisation(key)
        count = public.organisation_count(store, who, organisation["code"], refresh=web.refresher)
        return {**organisation, "entries": count}

    @app.get("/api/stats", tags=["catalogue"])
    def stats(who: Principal = guard(PUBLIC)) -> dict[str, Any]:
        return public.stats(store, who, web.directory().stats, refresh=web.refresher)


def _without(row: dict[str, Any], field: str) -> dict[str, Any]:
    return {**row, field: None}
