"""The HTTP API (``mulu serve``): REST for entries, organisations, search, freshness and
quality; a CKAN Action API subset; DCAT catalogue endpoints.

``create_app(workspace)`` builds one FastAPI app; each module here adds one group of routes
with the same shape, ``register(app, workspace)``. Handlers are thin: they call the same core
functions as the CLI. OpenAPI docs are at ``/api/docs``.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import AsyncIterator

from fastapi import FastAPI

from catalog import portal
from catalog.api import catalogue, ckan, dcat, freshness, quality, search
from warehouse.workspace import Workspace

ROUTE_GROUPS = (catalogue, search, ckan, dcat, freshness, quality, portal)


def _warm_up_search(workspace: Workspace) -> None:
    """Load jieba, pypinyin and the search index's facet arrays, and index what changed, so
    the first search is as fast as the next. In a thread, so the server answers meanwhile."""
    from catalog.search import warm_up

    try:
        warm_up(workspace)
    except Exception:  # a warm-up failure must not stop the server; searches will report it
        logging.getLogger(__name__).exception("search warm-up failed")


def create_app(workspace: Workspace) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        threading.Thread(target=_warm_up_search, args=(workspace,), daemon=True,
                         name="mulu-search-warm-up").start()
        yield

    app = FastAPI(title="Mulu 目录 API", version="0.1.0", docs_url="/api/docs",
                  openapi_url="/api/openapi.json", lifespan=lifespan,
                  description="政务信息资源目录: entries, organisations, search, freshness, "
                              "quality runs and reviews; CKAN Action API subset; DCAT.")
    workspace.ensure()
    for group in ROUTE_GROUPS:
        group.register(app, workspace)
    return app
