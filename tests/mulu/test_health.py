"""Liveness and readiness (issue 14's web tier): ``/healthz`` answers while the process lives;
``/readyz`` is 200 only while the store reads with the expected schema and the search
refresher runs — a real server process, then the same app after its refresher stopped and with
a store whose schema is behind."""

from __future__ import annotations

import json
import sqlite3
import urllib.error
import urllib.request

import pytest
from api_server import serving
from fastapi.testclient import TestClient

from mulu.web.app import create_app
from warehouse.workspace import Workspace


def _get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read())


@pytest.mark.server
@pytest.mark.slow
def test_a_running_server_is_alive_and_ready(tmp_path):
    workspace = Workspace(tmp_path / "ws").ensure()
    with serving(workspace.root) as base:
        assert _get(base + "/healthz") == (200, {"status": "ok"})
        status, body = _get(base + "/readyz")
    assert status == 200, body
    assert body == {
        "status": "ready",
        "checks": {"store": "ok", "lake_catalog": "ok", "search_refresher": "ok"},
        "store": {"dialect": "sqlite", "location": str(workspace.metadata_db)},
        "lake_catalog": str(workspace.lake_catalog),
    }


def test_not_ready_when_the_refresher_stopped_or_the_schema_is_behind(tmp_path):
    workspace = Workspace(tmp_path / "ws").ensure()
    app = create_app(workspace)
    with TestClient(app) as client:
        assert client.get("/readyz").status_code == 200
        app.state.web.refresher.stop()
        stopped = client.get("/readyz")
        assert stopped.status_code == 503
        assert stopped.json()["checks"]["search_refresher"] == "stopped"
        assert client.get("/healthz").status_code == 200  # alive all the same
        # Another process rolled the schema back (or this code is newer than the database).
        with sqlite3.connect(workspace.metadata_db) as con:
            con.execute("PRAGMA user_version = 1")
        behind = client.get("/readyz").json()["checks"]["store"]
        assert behind.startswith("schema 1, expected ")
