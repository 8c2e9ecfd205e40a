"""REST: quality runs and stewards' reviews. Errors (``schemas.errors``) pass to the app's one
handler (``mulu.web.errors``): 404 no such run or rule, 400 bad input, 409 decided already or
publishing refused."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import FastAPI, Query
from pydantic import BaseModel, Field

from catalog.policies import OFFICER, STEWARD
from catalog.reviews import review, run_for, runs_for
from mulu.web.auth import guard
from mulu.web.deps import Web
from schemas.principal import Principal


class Review(BaseModel):
    """A steward's decision. The review records the authenticated user as its reviewer;
    ``reviewer`` is ignored (kept so older clients still work)."""

    action: Literal["accept", "reject", "waive"]
    reviewer: str | None = Field(
        None, description="ignored: the review records the authenticated user", deprecated=True
    )
    rule: str | None = None
    note: str | None = None
    over_newer: bool = False


def register(app: FastAPI, web: Web) -> None:
    store, workspace = web.store, web.workspace

    @app.get("/api/quality/runs", tags=["quality"])
    def runs(
        dataset: str | None = None,
        failed: bool = False,
        pending: bool = False,
        limit: int = Query(100, ge=1, le=1000),
        who: Principal = guard(OFFICER),
    ) -> list[dict[str, Any]]:
        """Runs, newest first: a steward's every run, an officer's those of their own
        organisation's entries."""
        # Interrupted reviews are settled first (catalog.reviews.runs).
        return runs_for(
            who, store, workspace, dataset=dataset, failed=failed, pending=pending, limit=limit
        )

    @app.get("/api/quality/runs/{run_id}", tags=["quality"])
    def run(run_id: str, who: Principal = guard(OFFICER)) -> dict[str, Any]:
        """One run (its id or a unique prefix): results with failing-row samples, reviews.
        An officer reads only their own organisation's runs (403), without the server's
        paths."""
        return run_for(who, store, workspace, run_id)

    @app.post("/api/quality/runs/{run_id}/reviews", tags=["quality"], status_code=201)
    def post_review(run_id: str, body: Review, who: Principal = guard(STEWARD)) -> dict[str, Any]:
        """Record a steward's decision; accepting (or waiving the last blocking failure)
        publishes the held load and registers the update with its entry."""
        return review(
            store,
            workspace,
            run_id,
            action=body.action,
            reviewer=who.actor,
            rule=body.rule,
            note=body.note,
            over_newer=body.over_newer,
        )
