"""The web app (``mulu serve``): ``create_app(workspace)`` builds one FastAPI app with the API's
route groups and the portal's pages. OpenAPI docs are at ``/api/docs``.

``app_from_env`` is the factory uvicorn calls (``mulu.web.app:app_from_env``): the CLI starts
the server by that name, so the CLI and the web layer never import each other. With
``mulu serve --workers N`` every worker process calls it; what the CLI chose reaches it through
the environment: ``MULU_HOME`` (the workspace) and ``MULU_SERVE_THREADS`` (the thread pool).

Stateless between requests (issue 14): whatever one request leaves for a later one, which may
land on another worker or machine, is in the store — portal sessions and CSRF tokens, login
attempts (rate limits), single sign-on logins begun, the key signing flash cookies — or in the
browser's cookies. What a process keeps for itself is a cache of the store, the same in every
process: search's facet arrays and ranking (refreshed by the index's generation), the
freshness dashboard's figures (five minutes), DCAT files (by the catalogue's change marker),
the OIDC provider's discovery document and keys.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import secrets
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from catalog.exporting import CachedExports
from catalog.search.index import Refresher
from mulu.logs import RequestLog
from mulu.web import api, errors, limits, portal
from mulu.web.auth import Authentication
from mulu.web.deps import Web
from warehouse.store import Store
from warehouse.workspace import Workspace

ROUTE_GROUPS = (*api.ROUTE_GROUPS, portal)
# Threads a server process runs blocking work in (every plain ``def`` route, the store's reads
# and writes). Each thread holds its own store connection: on PostgreSQL a server process uses
# up to this many + a few (the search refresher), so ``workers × (threads + 4)`` must stay
# below the server's max_connections (100 by default). anyio's own default is 40.
DEFAULT_THREADS = 16
THREADS_VARIABLE = "MULU_SERVE_THREADS"  # set by ``mulu serve --threads`` for its workers


def _warm_up_search(store: Store) -> None:
    """Load jieba, pypinyin and the search index's facet arrays, and index what changed, so
    the first search is as fast as the next (run by the refresher thread, so the server
    answers meanwhile; a search before the index was ever built waits for it)."""
    from catalog.search import warm_up

    warm_up(store)


def create_app(workspace: Workspace, *, threads: int = DEFAULT_THREADS) -> FastAPI:
    if threads < 1:
        raise ValueError(f"threads: at least 1, got {threads}")
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
        import anyio.to_thread

        # This event loop's pool for blocking work (routes, run_in_threadpool): bounded, so
        # the store's connections are too.
        anyio.to_thread.current_default_thread_limiter().total_tokens = threads
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
    # Outermost first: the request id and access log, the size limits, then who asks (auth,
    # CSRF, security headers). The flash cookies' key is the store's, the same in every worker.
    app.add_middleware(Authentication, store=store, flash_key=_shared_key(store, "flash"))
    app.add_middleware(limits.RequestLimits)
    app.add_middleware(RequestLog)
    return app


def _shared_key(store: Store, name: str) -> bytes:
    """A key every server process of this store signs with (made by the first to ask)."""
    at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    return bytes.fromhex(store.web_state.key(name, secrets.token_hex(32), at))


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
    """The app for the workspace named by ``MULU_HOME`` (read when the server starts), its
    thread pool as ``mulu serve --threads`` chose (``MULU_SERVE_THREADS``)."""
    import os

    threads = os.environ.get(THREADS_VARIABLE)
    return create_app(Workspace.from_env(), threads=int(threads) if threads else DEFAULT_THREADS)
