"""``Store``: the repositories over one metadata database, and its transactions."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType

from warehouse.store.sqlite.catalogue import (
    SqliteEntries,
    SqliteHistory,
    SqliteImports,
    SqliteOrganisations,
)
from warehouse.store.sqlite.database import Database
from warehouse.store.sqlite.export import SqliteExport
from warehouse.store.sqlite.freshness import SqliteFreshness
from warehouse.store.sqlite.loads import SqliteLoads
from warehouse.store.sqlite.quality import SqliteQuality
from warehouse.store.sqlite.search import SqliteSearch
from warehouse.workspace import Workspace


class Store:
    """Every read and write of metadata goes through one of these repositories.

    One store per process and workspace is the rule (the web app keeps one for its life, a CLI
    command one for its run, Dagster one per run through its resource); it is safe to use from
    many threads. ``with store.transaction():`` makes the writes of several repositories one
    atomic unit."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.entries = SqliteEntries(database)
        self.organisations = SqliteOrganisations(database)
        self.history = SqliteHistory(database)
        self.imports = SqliteImports(database)
        self.loads = SqliteLoads(database)
        self.quality = SqliteQuality(database)
        self.freshness = SqliteFreshness(database)
        self.search = SqliteSearch(database)
        self.export = SqliteExport(database)  # the catalogue as Arrow tables, for DuckDB

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
