"""The web app (``mulu serve``): ``create_app(workspace)`` builds one FastAPI app with the API's
route groups and the portal's pages. OpenAPI docs are at ``/api/docs``.

``app_from_env`` is the factory uvicorn calls (``mulu.web.app:app_from_env``): the CLI starts
the server by that name, so the CLI and the web layer never import each other.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from catalog.exporting import CachedExports
from catalog.search.index import Refresher
from mulu.web import api, errors, limits, portal
from mulu.web.auth import Authentication
from mulu.web.deps import Web
from warehouse.store import Store
from warehouse.workspace import Workspace

ROUTE_GROUPS = (*api.ROUTE_GROUPS, portal)


def _warm_up_search(store: Store) -> None:
    """Load jieba, pypinyin and the search index's facet arrays, and index what changed, so
    the first search is as fast as the next (run by the refresher thread, so the server
    answers meanwhile; a search before the index was ever built waits for it)."""
    from catalog.search import warm_up

    warm_up(store)


def create_app(workspace: Workspace) -> FastAPI:
    workspace.ensure()
    store = Store.open(workspace)
    # The DCAT files of this server's life; not in the workspace (another process, a copy of
    # the workspace, must never serve them), removed when the server stops.
    scratch = Path(tempfile.mkdtemp(prefix="mulu-serve-"))
    web = Web(
        workspace,
        store,
        refresher=Refresher(store, warm_up=_warm_up_search),
        exports=CachedExports(store, scratch),
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        web.refresher.start()
        try:
            yield
        finally:
            web.refresher.stop()
            web.store.close()
            shutil.rmtree(scratch, ignore_errors=True)

    app = FastAPI(
        title="Mulu 目录 API",
        version="0.1.0",
        docs_url="/api/docs",
        openapi_url="/api/openapi.json",
        lifespan=lifespan,
        description="政务信息资源目录: entries, organisations, search, freshness, "
        "quality runs and reviews; CKAN Action API subset; DCAT.",
    )
    app.state.web = web  # for tests and tools: the refresher, the DCAT cache
    _document_tokens(app)
    errors.register(app)
    for group in ROUTE_GROUPS:
        group.register(app, web)
    # Outermost first: the size limits, then who asks (auth, CSRF, security headers).
    app.add_middleware(Authentication, store=store)
    app.add_middleware(limits.RequestLimits)
    return app


def _document_tokens(app: FastAPI) -> None:
    """OpenAPI names the API token (``Authorization: Bearer``), so the docs page's Authorize
    button sends it; every operation may also be called without one (the public side)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
            schemes["token"] = {
                "type": "http",
                "scheme": "bearer",
                "description": "API 令牌 (mulu users token); CKAN clients may also send "
                "`Authorization: <token>` or `X-CKAN-API-Key`.",
            }
            schema["security"] = [{}, {"token": []}]
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]


def app_from_env() -> FastAPI:
    """The app for the workspace named by ``MULU_HOME`` (read when the server starts)."""
    return create_app(Workspace.from_env())
