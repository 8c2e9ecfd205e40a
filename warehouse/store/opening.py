"""Opening the metadata database a workspace's settings name (the one place that knows both
implementations; kept apart from the ``Database`` protocol so no implementation imports it)."""

from __future__ import annotations

from warehouse.settings import Settings, is_postgresql
from warehouse.store.database import Database
from warehouse.workspace import Workspace


def open_database(workspace: Workspace, *, migrate: bool = True) -> Database:
    """The metadata database the workspace's settings name: PostgreSQL when ``database_url``
    is a postgresql:// URL, else the workspace's ``catalog.sqlite``."""
    url = Settings.load(workspace).database_url
    if url and is_postgresql(url):
        from warehouse.store.postgres.database import PostgresDatabase

        return PostgresDatabase(url, migrate=migrate)
    if url:
        raise ValueError(f"MULU_DATABASE_URL: expected postgresql://…, got {url.split(':')[0]}:…")
    from warehouse.store.sqlite.database import SqliteDatabase

    return SqliteDatabase(workspace.metadata_db, migrate=migrate)


def store_exists(workspace: Workspace) -> bool:
    """Whether the workspace has a store to read: a PostgreSQL one always does (it is asked, not
    created, by reading); an embedded one once its file exists. Reading never creates one."""
    return Settings.load(workspace).on_postgresql or workspace.metadata_db.exists()
