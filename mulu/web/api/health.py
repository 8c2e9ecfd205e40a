"""Health and readiness (issue 14, the web tier behind a proxy or an orchestrator).

``GET /healthz``: the process answers (liveness; touches nothing). ``GET /readyz``: this server
can serve requests now — its store answers a read with the schema this code expects, the lake's
catalogue can be reached (``warehouse.probes``: on PostgreSQL one connection opened and closed),
and its search refresher thread runs; 503 otherwise, with what is not ready (readiness: a load
balancer sends no traffic until it is 200). It also names the store (dialect and location, any
password replaced by ***) and the lake's catalogue, so an operator sees which engines a pod
uses. Both are public and say nothing about the data."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from catalog.policies import PUBLIC
from mulu.web.auth import guard
from mulu.web.deps import Web
from schemas.principal import Principal
from warehouse import probes
from warehouse.settings import redact


def register(app: FastAPI, web: Web) -> None:
    @app.get("/healthz", tags=["health"])
    def healthz(who: Principal = guard(PUBLIC)) -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    def readyz(who: Principal = guard(PUBLIC)) -> JSONResponse:
        checks: dict[str, Any] = {}
        try:
            store = web.store.ready()
            checks["store"] = (
                "ok"
                if store["ok"]
                else (f"schema {store['schema_version']}, expected {store['expected']}")
            )
        except Exception as exc:  # any failure to read means not ready
            checks["store"] = f"unavailable: {type(exc).__name__}"
        try:
            lake = probes.lake_catalog(web.workspace)
            checks["lake_catalog"] = lake.detail
            lake_location: str | None = lake.location
        except Exception as exc:  # a broken settings file, say
            checks["lake_catalog"] = f"unavailable: {type(exc).__name__}"
            lake_location = None
        checks["search_refresher"] = "ok" if web.refresher.running else "stopped"
        ready = all(value == "ok" for value in checks.values())
        database = web.store.database
        return JSONResponse(
            {
                "status": "ready" if ready else "not ready",
                "checks": checks,
                "store": {
                    "dialect": database.dialect,
                    "location": redact(database.location) or database.location,
                },
                "lake_catalog": lake_location,
            },
            status_code=200 if ready else 503,
        )
