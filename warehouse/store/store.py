"""``Store``: the repositories over one metadata database, and its transactions."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType

from warehouse.store import interfaces
from warehouse.store.sqlite.applications import SqliteApplications
from warehouse.store.sqlite.audit import SqliteAudit
from warehouse.store.sqlite.catalogue import (
    SqliteEntries,
    SqliteHistory,
    SqliteImports,
    SqliteOrganisations,
)
from warehouse.store.sqlite.database import Database
from warehouse.store.sqlite.export import SqliteExport
from warehouse.store.sqlite.freshness import SqliteFreshness
from warehouse.store.sqlite.grants import SqliteGrants
from warehouse.store.sqlite.loads import SqliteLoads
from warehouse.store.sqlite.quality import SqliteQuality
from warehouse.store.sqlite.search import SqliteSearch
from warehouse.store.sqlite.sessions import SqliteSessions
from warehouse.store.sqlite.users import SqliteUsers
from warehouse.workspace import Workspace


class Store:
    """Every read and write of metadata goes through one of these repositories.

    One store per process and workspace is the rule (the web app keeps one for its life, a CLI
    command one for its run, Dagster one per run through its resource); it is safe to use from
    many threads. ``with store.transaction():`` makes the writes of several repositories one
    atomic unit."""

    def __init__(self, database: Database) -> None:
        self.database = database
        # Typed by the protocols of the seam: mypy checks that the SQLite classes conform.
        self.entries: interfaces.Entries = SqliteEntries(database)
        self.organisations: interfaces.Organisations = SqliteOrganisations(database)
        self.history: interfaces.History = SqliteHistory(database)
        self.imports: interfaces.Imports = SqliteImports(database)
        self.loads: interfaces.Loads = SqliteLoads(database)
        self.quality: interfaces.Quality = SqliteQuality(database)
        self.freshness: interfaces.Freshness = SqliteFreshness(database)
        self.search: interfaces.Search = SqliteSearch(database)
        self.export: interfaces.Export = SqliteExport(database)  # catalogue tables for DuckDB
        self.users: interfaces.Users = SqliteUsers(database)
        self.sessions: interfaces.Sessions = SqliteSessions(database)
        self.applications: interfaces.Applications = SqliteApplications(database)
        self.grants: interfaces.Grants = SqliteGrants(database)
        self.audit: interfaces.Audit = SqliteAudit(database)

    @classmethod
    def open(cls, workspace: Workspace) -> Store:
        return cls(Database(workspace.metadata_db))

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic write: everything inside lands or nothing does. Nested calls join."""
        with self.database.transaction():
            yield

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Reads inside see one committed state (no writer's half-done batch)."""
        with self.database.snapshot():
            yield

    def ready(self) -> dict[str, int | bool]:
        """Whether this store can serve now (issue 14's readiness probe): it answers a read and
        its schema is the one this code expects (every migration ran). Raises when the
        database cannot be read at all."""
        found, expected = self.database.schema_version()
        return {"schema_version": found, "expected": expected, "ok": found == expected}

    def close(self) -> None:
        self.database.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
