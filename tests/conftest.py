"""Shared fixtures: real temporary workspaces and the real portal data in ../shared."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from postgres_store import (
    parametrize_stores,
    postgres_template,
    postgres_url,
    store_dialect,
    wait_for_drops,
)

from catalog.directory import Directory
from warehouse.workspace import Workspace

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
REAL_DATA = SHARED / "data" / "real"
__all__ = ["postgres_template", "postgres_url", "store_dialect"]  # fixtures, shared


@pytest.fixture(scope="session", autouse=True)
def sources_anywhere_in_tmp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Tests keep their source files in their own tmp_path (beside the workspace, not in its
    sources/): the whole pytest temp folder is an allowed source root (MULU_SOURCE_ROOTS), and
    sources need not settle (MULU_SOURCE_SETTLE=0), else every load right after writing its file
    would wait. The containment and readiness tests set both themselves. Subprocesses inherit
    them."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MULU_SOURCE_ROOTS", str(tmp_path_factory.getbasetemp()))
        patch.setenv("MULU_SOURCE_SETTLE", "0")
        yield


@pytest.fixture
def workspace(tmp_path: Path, store_dialect: str) -> Workspace:
    """A new workspace; its store on SQLite, or on PostgreSQL in a ``both_stores`` module's
    second run (tests/postgres_store.py)."""
    return Workspace(tmp_path / "ws").ensure()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    parametrize_stores(metafunc)


def pytest_sessionfinish(session: pytest.Session) -> None:
    wait_for_drops()  # the PostgreSQL databases tests dropped in the background


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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that uses moto's S3 server (the ``s3_server`` fixture of tests/s3_server.py,
    directly or through ``s3_bucket``) is a `server` test, wherever it is; tests that start
    ``mulu serve`` with api_server.serving() carry the mark themselves."""
    for item in items:
        if "s3_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.server)
