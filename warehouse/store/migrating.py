"""``mulu migrate``: the schema version of a workspace's store, and running what is pending.

Every process that opens a store runs its pending migrations already (``open_database``); this
makes it explicit, for a deployment step before the servers start, and reports what ran: the
versions between the schema found and the newest this code knows, for the store's dialect
(PostgreSQL starts at its baseline, ``schema.POSTGRESQL_BASELINE``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from warehouse.settings import Settings
from warehouse.store.opening import open_database
from warehouse.store.schema import POSTGRESQL_BASELINE, latest_version, migration_files
from warehouse.workspace import Workspace


@dataclass(frozen=True)
class SchemaStatus:
    store: str  # the database: a path, or a URL without its password
    dialect: str
    found: int
    expected: int
    ran: list[int] = field(default_factory=list)

    @property
    def up_to_date(self) -> bool:
        return self.found == self.expected

    @property
    def pending(self) -> list[int]:
        return versions_between(self.dialect, self.found, self.expected)

    def as_dict(self) -> dict[str, Any]:
        return {
            "store": self.store,
            "dialect": self.dialect,
            "found": self.found,
            "expected": self.expected,
            "up_to_date": self.up_to_date,
            "pending": self.pending,
            "ran": self.ran,
        }


def versions_between(dialect: str, after: int, upto: int) -> list[int]:
    """The migration versions this dialect runs in (after, upto]."""
    first = POSTGRESQL_BASELINE if dialect == "postgresql" else 1
    return sorted(
        {
            version
            for version, only, _name in migration_files()
            if only in (None, dialect) and after < version <= upto and version >= first
        }
    )


def schema_status(workspace: Workspace) -> SchemaStatus:
    """The configured store's schema version against the newest this code knows; touches
    nothing (a workspace without ``catalog.sqlite`` yet is at version 0)."""
    if not Settings.load(workspace).on_postgresql and not workspace.metadata_db.exists():
        return SchemaStatus(str(workspace.metadata_db), "sqlite", 0, latest_version())
    database = open_database(workspace, migrate=False)
    try:
        found, expected = database.schema_version()
        return SchemaStatus(database.location, database.dialect, found, expected)
    finally:
        database.close()


def run_migrations(workspace: Workspace, *, since: int | None = None) -> SchemaStatus:
    """Run the configured store's pending migrations. ``ran``: the versions applied since
    version ``since`` (default: the version found now) — pass what an earlier
    ``schema_status`` found when something may have migrated in between."""
    before = schema_status(workspace).found if since is None else since
    database = open_database(workspace, migrate=True)
    try:
        found, expected = database.schema_version()
        ran = versions_between(database.dialect, before, found)
        return SchemaStatus(database.location, database.dialect, found, expected, ran)
    finally:
        database.close()
