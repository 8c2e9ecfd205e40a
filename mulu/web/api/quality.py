"""REST: quality runs and stewards' reviews."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel

from catalog.reviews import review
from mulu.web.deps import Web
from quality.runs import ReviewError, get_run, list_runs


class Review(BaseModel):
    action: Literal["accept", "reject", "waive"]
    reviewer: str
    rule: str | None = None
    note: str | None = None
    over_newer: bool = False


def register(app: FastAPI, web: Web) -> None:
    workspace = web.workspace
    @app.get("/api/quality/runs", tags=["quality"])
    def runs(dataset: str | None = None, failed: bool = False, pending: bool = False,
             limit: int = 100) -> list[dict[str, Any]]:
        return list_runs(workspace, dataset=dataset, failed=failed, pending=pending, limit=limit)

    @app.get("/api/quality/runs/{run_id}", tags=["quality"])
    def run(run_id: str) -> dict[str, Any]:
        try:
            return get_run(workspace, run_id)
        except ReviewError as exc:
            raise HTTPException(status_code=404, detail=str(exc)) from None

    @app.post("/api/quality/runs/{run_id}/reviews", tags=["quality"], status_code=201)
    def post_review(run_id: str, body: Review) -> dict[str, Any]:
        """Record a steward's decision; accepting (or waiving the last blocking failure)
        publishes the held load and registers the update with its entry."""
        try:
            return review(workspace, run_id, action=body.action, reviewer=body.reviewer,
                          rule=body.rule, note=body.note, over_newer=body.over_newer)
        except ReviewError as exc:
            raise HTTPException(status_code=409, detail=str(exc)) from None

