"""DCAT catalogue endpoints: JSON-LD (the exporter's own output) and Turtle (via rdflib)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import Response

from catalog.directory import Directory
from catalog.exporting import dcat_format
from mulu.web.deps import Web


def catalogue_jsonld(directory: Directory) -> bytes:
    organisations = {o["code"]: o for o in directory.store.organisations.all()}
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "catalogue.jsonld"
        dcat_format.write(directory.iter_entries(), organisations, out)
        return out.read_bytes()


def register(app: FastAPI, web: Web) -> None:
    @app.get("/catalog.jsonld", tags=["dcat"], response_class=Response)
    def jsonld() -> Response:
        return Response(catalogue_jsonld(web.directory()), media_type="application/ld+json")

    @app.get("/catalog.ttl", tags=["dcat"], response_class=Response)
    def turtle() -> Response:
        import rdflib

        graph = rdflib.Graph()
        graph.parse(data=catalogue_jsonld(web.directory()), format="json-ld")
        return Response(graph.serialize(format="turtle"), media_type="text/turtle")
