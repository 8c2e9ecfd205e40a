"""The HTTP API: REST for entries, organisations, search, freshness and quality; a CKAN Action
API subset; DCAT catalogue endpoints. Each module here adds one group of routes with the same
shape, ``register(app, workspace)``; ``mulu.web.app`` assembles them with the portal's pages.
Handlers are thin: they call the same core functions as the CLI.
"""

from __future__ import annotations

from mulu.web.api import (
    audit,
    catalogue,
    ckan,
    data,
    dcat,
    freshness,
    grants,
    health,
    quality,
    search,
    sharing,
)

ROUTE_GROUPS = (
    health,
    catalogue,
    search,
    ckan,
    dcat,
    freshness,
    quality,
    sharing,
    grants,
    data,
    audit,
)
