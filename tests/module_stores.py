"""Workspaces built once per module, on SQLite and on PostgreSQL.

``both_stores`` (tests/postgres_store.py) runs function-scoped tests on both stores through the
``workspace`` fixture and ``MULU_DATABASE_URL``. A module whose tests share a workspace built
once (a module-scoped fixture: loading takes seconds) parametrizes that fixture by
``STORE_PARAMS`` instead, and names its PostgreSQL database in the workspace's own
``config/settings.yaml``: nothing in the environment, so the store follows the workspace into
subprocesses (``mulu serve``, ``mulu sql``) and into copies made for one test, and tests of
other workspaces running meanwhile are not affected.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import yaml
from postgres_store import create_database, database_url, drop_database

from warehouse.settings import read_settings_file
from warehouse.workspace import Workspace

STORE_PARAMS = [
    pytest.param("sqlite"),
    pytest.param("postgresql", marks=pytest.mark.postgresql),
]


def use_database(workspace: Workspace, url: str) -> None:
    """Name ``url`` as the workspace's store in its ``config/settings.yaml``."""
    settings = {**read_settings_file(workspace), "database_url": url}
    workspace.settings_file.parent.mkdir(parents=True, exist_ok=True)
    workspace.settings_file.write_text(yaml.safe_dump(settings), encoding="utf-8")


def database_of(workspace: Workspace) -> str | None:
    """The name of the PostgreSQL database the workspace's settings file names, if any."""
    url = read_settings_file(workspace).get("database_url")
    return str(url).rsplit("/", 1)[-1] if url else None


@contextmanager
def module_store(request: pytest.FixtureRequest, workspace: Workspace) -> Iterator[str]:
    """In a fixture parametrized by ``STORE_PARAMS``: on "postgresql", the workspace's store is
    a database of its own (a copy of the migrated template), dropped afterwards. Yields the
    dialect. Call before anything opens the workspace's store."""
    dialect = str(request.param)
    if dialect == "sqlite":
        yield dialect
        return
    name = create_database(template=request.getfixturevalue("postgres_template"))
    use_database(workspace, database_url(name))
    try:
        yield dialect
    finally:
        drop_database(name)


@contextmanager
def copied_store(source: Workspace, copy: Workspace) -> Iterator[None]:
    """``copy`` (the files of ``source`` copied) gets a copy of ``source``'s PostgreSQL store
    too, dropped afterwards; a SQLite store was copied with the files. Nothing may be connected
    to ``source``'s database meanwhile (PostgreSQL copies a database as a template)."""
    name = database_of(source)
    if name is None:
        yield
        return
    cloned = create_database(template=name)
    use_database(copy, database_url(cloned))
    try:
        yield
    finally:
        drop_database(cloned)
