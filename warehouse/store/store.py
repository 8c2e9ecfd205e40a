"""``Store``: the repositories over one metadata database, and its transactions."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType

from warehouse.store import interfaces
from warehouse.store.database import Database
from warehouse.store.opening import open_database
from warehouse.store.sql.applications import SqlApplications
from warehouse.store.sql.audit import SqlAudit
from warehouse.store.sql.catalogue import (
    SqlEntries,
    SqlHistory,
    SqlImports,
    SqlOrganisations,
)
from warehouse.store.sql.export import SqlExport
from warehouse.store.sql.freshness import SqlFreshness
from warehouse.store.sql.grants import SqlGrants
from warehouse.store.sql.loads import SqlLoads
from warehouse.store.sql.quality import SqlQuality
from warehouse.store.sql.sessions import SqlSessions
from warehouse.store.sql.users import SqlUsers
from warehouse.store.sql.web_state import SqlWebState
from warehouse.workspace import Workspace


class Store:
    """Every read and write of metadata goes through one of these repositories.

    One store per process and workspace is the rule (the web app keeps one for its life, a CLI
    command one for its run, Dagster one per run through its resource); it is safe to use from
    many threads. ``with store.transaction():`` makes the writes of several repositories one
    atomic unit."""

    def __init__(self, database: Database, workspace: Workspace) -> None:
        self.database = database
        self.workspace = workspace
        # Typed by the protocols of the seam: mypy checks that the SQLite classes conform.
        self.entries: interfaces.Entries = SqlEntries(database)
        self.organisations: interfaces.Organisations = SqlOrganisations(database)
        self.history: interfaces.History = SqlHistory(database)
        self.imports: interfaces.Imports = SqlImports(database)
        self.loads: interfaces.Loads = SqlLoads(database, workspace)
        self.quality: interfaces.Quality = SqlQuality(database, workspace)
        self.freshness: interfaces.Freshness = SqlFreshness(database)
        self.search: interfaces.Search = _search(database)
        self.export: interfaces.Export = SqlExport(database)  # catalogue tables for DuckDB
        self.users: interfaces.Users = SqlUsers(database)
        self.sessions: interfaces.Sessions = SqlSessions(database)
        self.applications: interfaces.Applications = SqlApplications(database)
        self.grants: interfaces.Grants = SqlGrants(database)
        self.audit: interfaces.Audit = SqlAudit(database)
        self.web_state: interfaces.WebState = SqlWebState(database)  # issue 14: shared by workers

    @classmethod
    def open(cls, workspace: Workspace) -> Store:
        return cls(open_database(workspace), workspace)

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


def _search(database: Database) -> interfaces.Search:
    """The search index of this database's engine: FTS5 in SQLite, tsvector in PostgreSQL."""
    from warehouse.store.sqlite.database import SqliteDatabase

    if isinstance(database, SqliteDatabase):
        from warehouse.store.sqlite.search import SqliteSearch

        return SqliteSearch(database)
    from warehouse.store.postgres.search import PostgresSearch

    return PostgresSearch(database)
