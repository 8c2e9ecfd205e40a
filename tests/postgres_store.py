"""The store on PostgreSQL in tests: a fresh database per test, cloned from a migrated template.

Every machine runs PostgreSQL 15 on 127.0.0.1:5432 with trust auth (MULU_TEST_POSTGRES_URL
names another server). A test module marked ``both_stores`` runs each test that uses the
``workspace`` fixture twice: on SQLite (the default) and on PostgreSQL, where the workspace's
``MULU_DATABASE_URL`` names a database of its own, created from a template migrated once per
test process and dropped after the test. Nothing depends on what an earlier run left.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import psycopg
import pytest

ADMIN_URL = os.environ.get("MULU_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
STORES = ("sqlite", "postgresql")


def database_url(name: str) -> str:
    """The URL of database ``name`` on the test server."""
    base, _db = ADMIN_URL.rsplit("/", 1)
    return f"{base}/{name}"


def admin(sql: str) -> None:
    with psycopg.connect(ADMIN_URL, autocommit=True) as con:
        con.execute(sql)  # type: ignore[arg-type]


def create_database(template: str | None = None) -> str:
    """A new empty (or template-cloned) database; returns its name."""
    name = f"mulu_test_{uuid.uuid4().hex[:12]}"
    admin(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    return name


def drop_database(name: str) -> None:
    """Drop ``name`` in the background: DROP DATABASE waits for a server checkpoint (1.5-10 s
    on a busy machine), which the test need not wait for. ``wait_for_drops`` (at the end of
    the session) waits for every drop and raises if one failed."""
    global _dropper
    with _drops_lock:
        if _dropper is None:
            _dropper = ThreadPoolExecutor(max_workers=1, thread_name_prefix="drop-database")
        _pending_drops.append(
            _dropper.submit(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        )


_drops_lock = threading.Lock()
_dropper: ThreadPoolExecutor | None = None
_pending_drops: list[Future[None]] = []


def wait_for_drops() -> None:
    with _drops_lock:
        pending = list(_pending_drops)
        _pending_drops.clear()
    for future in pending:
        future.result()


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    """A database migrated to the newest schema, to clone per test (CREATE DATABASE … TEMPLATE
    copies files: ~30 ms against ~1 s of migrating)."""
    from warehouse.store.postgres.database import PostgresDatabase

    name = create_database()
    PostgresDatabase(database_url(name)).close()
    yield name
    drop_database(name)


@pytest.fixture
def postgres_url(postgres_template: str) -> Iterator[str]:
    """A fresh, migrated PostgreSQL store database for one test, dropped after it."""
    name = create_database(template=postgres_template)
    yield database_url(name)
    drop_database(name)


@pytest.fixture
def store_dialect(request: pytest.FixtureRequest) -> Iterator[str]:
    """The store the ``workspace`` fixture runs on: "sqlite" unless the module is marked
    ``both_stores`` (then each test runs on both), PostgreSQL through MULU_DATABASE_URL
    (inherited by the subprocesses a test starts)."""
    dialect = getattr(request, "param", "sqlite")
    if dialect == "sqlite":
        yield dialect
        return
    url = request.getfixturevalue("postgres_url")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MULU_DATABASE_URL", url)
        yield dialect


def parametrize_stores(metafunc: pytest.Metafunc) -> None:
    """Called from conftest's pytest_generate_tests."""
    definition = metafunc.definition
    if (
        "store_dialect" in metafunc.fixturenames
        and definition.get_closest_marker("both_stores")
        and not definition.get_closest_marker("sqlite_only")
    ):
        metafunc.parametrize(
            "store_dialect",
            [
                pytest.param("sqlite"),
                pytest.param("postgresql", marks=pytest.mark.postgresql),
            ],
            indirect=True,
        )
