"""DCAT catalogue endpoints: JSON-LD and Turtle, the same graph (``catalog.exporting``).

Each is written once to a file, streamed (memory stays flat at any catalogue size), and
written again only after the catalogue changed (``CachedExports``); the response streams the
file. The handlers are plain ``def``: writing runs in the thread pool, never on the event loop.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import FileResponse

from catalog.policies import PUBLIC
from mulu.web.auth import guard
from mulu.web.deps import Web
from schemas.principal import Principal


def register(app: FastAPI, web: Web) -> None:
    @app.get("/catalog.jsonld", tags=["dcat"], response_class=FileResponse)
    def jsonld(who: Principal = guard(PUBLIC)) -> FileResponse:
        return FileResponse(web.exports.path("jsonld"), media_type="application/ld+json")

    @app.get("/catalog.ttl", tags=["dcat"], response_class=FileResponse)
    def turtle(who: Principal = guard(PUBLIC)) -> FileResponse:
        return FileResponse(web.exports.path("ttl"), media_type="text/turtle")
