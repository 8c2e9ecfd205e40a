"""Shared fixtures: real temporary workspaces and the real portal data in ../shared."""

from __future__ import annotations

from pathlib import Path

import pytest

from catalog.directory import Directory
from warehouse.workspace import Workspace

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
REAL_DATA = SHARED / "data" / "real"


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path / "ws").ensure()


@pytest.fixture
def directory(workspace: Workspace):
    opened = Directory.open(workspace, user="tester")
    yield opened
    opened.close()


@pytest.fixture(scope="session")
def real_data() -> Path:
    if not REAL_DATA.is_dir():
        pytest.fail(f"real portal data missing: expected {REAL_DATA} (shared/ beside the repo)")
    return REAL_DATA


@pytest.fixture
def landing_dir(tmp_path: Path) -> Path:
    return tmp_path / "landing"


# Fixtures that start a real server process; every test using one is marked `server`, so
# `make test-fast` leaves it out (tests that call api_server.serving() directly carry the mark).
SERVER_FIXTURES = {
    "s3_server",  # moto's S3 server, tests/s3_server.py
    "served",  # mulu serve on the real portal data, tests/test_api.py
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if SERVER_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.server)
