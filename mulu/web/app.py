"""The web app (``mulu serve``): ``create_app(workspace)`` builds one FastAPI app with the API's
route groups and the portal's pages. OpenAPI docs are at ``/api/docs``.

``app_from_env`` is the factory uvicorn calls (``mulu.web.app:app_from_env``): the CLI starts
the server by that name, so the CLI and the web layer never import each other.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import AsyncIterator

from fastapi import FastAPI

from mulu.web import api, errors, portal
from mulu.web.deps import Web
from warehouse.store import Store
from warehouse.workspace import Workspace

ROUTE_GROUPS = (*api.ROUTE_GROUPS, portal)


def _warm_up_search(store: Store) -> None:
    """Load jieba, pypinyin and the search index's facet arrays, and index what changed, so
    the first search is as fast as the next. In a thread, so the server answers meanwhile."""
    from catalog.search import warm_up

    try:
        warm_up(store)
    except Exception:  # a warm-up failure must not stop the server; searches will report it
        logging.getLogger(__name__).exception("search warm-up failed")


def create_app(workspace: Workspace) -> FastAPI:
    workspace.ensure()
    web = Web(workspace, Store.open(workspace))

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        threading.Thread(
            target=_warm_up_search, args=(web.store,), daemon=True, name="mulu-search-warm-up"
        ).start()
        try:
            yield
        finally:
            web.store.close()

    app = FastAPI(
        title="Mulu 目录 API",
        version="0.1.0",
        docs_url="/api/docs",
        openapi_url="/api/openapi.json",
        lifespan=lifespan,
        description="政务信息资源目录: entries, organisations, search, freshness, "
        "quality runs and reviews; CKAN Action API subset; DCAT.",
    )
    errors.register(app)
    for group in ROUTE_GROUPS:
        group.register(app, web)
    return app


def app_from_env() -> FastAPI:
    """The app for the workspace named by ``MULU_HOME`` (read when the server starts)."""
    return create_app(Workspace.from_env())
