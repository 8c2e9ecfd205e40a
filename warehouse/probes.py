"""Cheap checks of the engines a workspace runs on, for readiness probes (issue 14's web tier).

``store_location`` says which metadata store a store is (its dialect and where, password
redacted); ``lake_catalog`` whether the lake's catalogue answers: on PostgreSQL a connection
is opened and closed (no statement; a few milliseconds), embedded it is ``lake.sqlite``'s
folder (the file itself appears with the first load)."""

from __future__ import annotations

from dataclasses import dataclass

from warehouse.settings import Settings, is_postgresql, redact
from warehouse.workspace import Workspace

CONNECT_TIMEOUT_S = 3


@dataclass(frozen=True)
class Probe:
    ok: bool
    detail: str  # "ok", or what is wrong (an exception's type, never its message: no URLs)
    location: str  # redacted


def lake_catalog(workspace: Workspace, settings: Settings | None = None) -> Probe:
    """Whether the lake's catalogue can be reached now."""
    url = (settings or Settings.load(workspace)).lake_catalog_url
    if url and is_postgresql(url):
        import psycopg

        location = redact(url) or url
        try:
            psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S, application_name="mulu").close()
        except Exception as exc:  # any failure to connect means not reachable
            return Probe(False, f"unavailable: {type(exc).__name__}", location)
        return Probe(True, "ok", location)
    if url:
        return Probe(False, "unsupported: expected postgresql://…", redact(url) or url)
    path = workspace.lake_catalog
    if path.parent.is_dir():
        return Probe(True, "ok", str(path))
    return Probe(False, "unavailable: the workspace's folder is missing", str(path))
