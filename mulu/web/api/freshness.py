"""REST: freshness statuses and the monthly scorecard.

Both are PUBLIC: the scorecard ranks organisations (figures, no entry), as the district
publishes it; the status list shows the public (anonymous) the open entries only (开放属性,
``catalog.policies.is_open``), signed-in users every entry."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Query

from catalog.freshness.scorecard import scorecard
from catalog.freshness.sla import Status
from catalog.freshness.sweep import statuses
from catalog.policies import PUBLIC, is_open
from mulu.web.auth import guard
from mulu.web.deps import Web
from schemas.dates import CatalogueDatetime
from schemas.principal import Principal


def register(app: FastAPI, web: Web) -> None:
    store = web.store

    @app.get("/api/freshness", tags=["freshness"])
    def freshness(
        org: str | None = None,
        status: Status | None = None,
        at: CatalogueDatetime | None = None,
        limit: int | None = Query(None, ge=1),
        who: Principal = guard(PUBLIC),
    ) -> dict[str, Any]:
        """Every entry's status (most overdue first), and the counts by status. ``at``: the
        status at that moment; with a time zone (``…Z``, ``+08:00``) it is converted to
        catalogue time (Asia/Shanghai), without one it is catalogue time."""
        wanted = status.value if status else None
        if who.is_anonymous:  # the public sees the open entries' statuses only
            rows = statuses(store, at=at, org=org, status=wanted)
            entries = store.entries.by("code", [row["code"] for row in rows])
            rows = [row for row in rows if is_open(entries.get(row["code"]) or {})][:limit]
        else:
            rows = statuses(store, at=at, org=org, status=wanted, limit=limit)
        counts: dict[str, int] = {}
        for row in rows:
            counts[row["status"]] = counts.get(row["status"], 0) + 1
        return {"counts": counts, "entries": rows}

    @app.get("/api/freshness/scorecard", tags=["freshness"])
    def freshness_scorecard(
        month: str | None = Query(None, pattern=r"^\d{4}-\d{2}$"),
        who: Principal = guard(PUBLIC),
    ) -> list[dict[str, Any]]:
        return scorecard(store, month)
