"""DCAT catalogue endpoints: JSON-LD and Turtle, the same graph (``catalog.exporting``).

Each is written once to a file, streamed (memory stays flat at any catalogue size), and
written again only after the catalogue changed (``CachedExports``); the response streams the
file. The handlers are plain ``def``: writing runs in the thread pool, never on the event loop.

Anonymous harvesters get the public catalogue: open entries only (开放属性 in
``catalog.policies.OPEN_METADATA``), a variant cached the same way in its own folder; a
signed-in caller (a token) gets every entry.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import FileResponse

from catalog.exporting import CachedExports
from catalog.policies import OPEN_METADATA, PUBLIC, visible_open_types
from mulu.web.auth import guard
from mulu.web.deps import Web
from schemas.principal import Principal


def register(app: FastAPI, web: Web) -> None:
    public = CachedExports(
        web.store, web.exports.folder / "public", wait=web.exports.wait, open_types=OPEN_METADATA
    )

    def exports(who: Principal) -> CachedExports:
        return web.exports if visible_open_types(who) is None else public

    @app.get("/catalog.jsonld", tags=["dcat"], response_class=FileResponse)
    def jsonld(who: Principal = guard(PUBLIC)) -> FileResponse:
        return FileResponse(exports(who).path("jsonld"), media_type="application/ld+json")

    @app.get("/catalog.ttl", tags=["dcat"], response_class=FileResponse)
    def turtle(who: Principal = guard(PUBLIC)) -> FileResponse:
        return FileResponse(exports(who).path("ttl"), media_type="text/turtle")
