"""REST: Chinese-aware search with facets (``catalog.search``)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, HTTPException, Query

from catalog.api.deps import connection
from warehouse.workspace import Workspace


def register(app: FastAPI, workspace: Workspace) -> None:
    @app.get("/api/search", tags=["search"])
    def search_entries(q: str = "", facet: list[str] = Query(default_factory=list),
                       limit: int = Query(20, ge=1, le=200), offset: int = Query(0, ge=0)
                       ) -> dict[str, Any]:
        """``facet`` = ``key=value`` (repeatable): organisation, category, share_type,
        open_type, update_cycle, freshness, format."""
        from catalog.search import parse_facet_options, search

        with connection(workspace) as con:
            try:
                facets = parse_facet_options(facet)
                return search(con, q, facets=facets or None, limit=limit,
                              offset=offset).as_dict()
            except ValueError as exc:  # an unknown facet key or freshness status
                raise HTTPException(status_code=422, detail=str(exc)) from None
