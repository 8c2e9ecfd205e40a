"""The HTTP API (``mulu serve``): REST for entries, organisations, search, freshness and
quality; a CKAN Action API subset; DCAT catalogue endpoints.

``create_app(workspace)`` builds one FastAPI app; each module here adds one group of routes
with the same shape, ``register(app, workspace)``. Handlers are thin: they call the same core
functions as the CLI. OpenAPI docs are at ``/api/docs``.
"""

from __future__ import annotations

from fastapi import FastAPI

from catalog import portal
from catalog.api import catalogue, ckan, dcat, freshness, quality
from warehouse.workspace import Workspace

ROUTE_GROUPS = (catalogue, ckan, dcat, freshness, quality, portal)


def create_app(workspace: Workspace) -> FastAPI:
    app = FastAPI(title="Mulu 目录 API", version="0.1.0", docs_url="/api/docs",
                  openapi_url="/api/openapi.json",
                  description="政务信息资源目录: entries, organisations, search, freshness, "
                              "quality runs and reviews; CKAN Action API subset; DCAT.")
    workspace.ensure()
    for group in ROUTE_GROUPS:
        group.register(app, workspace)
    return app
