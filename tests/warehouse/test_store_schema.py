"""Both dialects of the store's schema stay one schema: a fresh SQLite store and a fresh
PostgreSQL store end with the same tables and the same columns per table, and every migration
from 013 on exists for both (warehouse/store/schema.py).

What may differ is listed here, each with its reason, and nothing else:

- The full-text engine's own storage: in SQLite FTS5's virtual table ``search_fts`` with its
  shadow tables (``search_fts_*``), in PostgreSQL its own tables of the search index (named
  ``search_*``: ``search_fts``'s tsvectors, ``search_terms``' bm25 statistics). The search
  tables both have (documents, facet values, meta, the queue) must match like any other.
- SQLite's own tables (``sqlite_*``).
- PostgreSQL-only tables: ``mulu_schema`` (the applied versions; SQLite keeps the version in
  ``PRAGMA user_version``) and ``audit_log_top`` (the audit log's highest seq handed out; SQLite
  keeps it in ``sqlite_sequence``).
- PostgreSQL-only columns: ``rowid`` in the four tables whose order SQLite took from the implicit
  rowid (the baseline's explicit stand-in, 012_baseline.postgresql.sql), and any column of the
  search index's tables (``search_*``): what PostgreSQL's search keeps beside a document where
  SQLite has ``search_fts``.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from warehouse.store.copy import postgres_columns, sqlite_columns, sqlite_tables
from warehouse.store.postgres.database import PostgresDatabase
from warehouse.store.schema import (
    DIALECTS,
    POSTGRESQL_BASELINE,
    latest_version,
    migration_files,
    migrations,
)
from warehouse.store.sqlite.database import SqliteDatabase

POSTGRESQL_ONLY_TABLES = {"mulu_schema", "audit_log_top"}
ROWID_TABLES = {"import_rejects", "quality_runs", "quality_results", "loads"}
SEARCH_PREFIX = "search_"


def sqlite_schema(path: Path) -> dict[str, set[str]]:
    database = SqliteDatabase(path)
    try:
        con = database.connection()
        return {table: set(sqlite_columns(con, table)) for table in sqlite_tables(con)}
    finally:
        database.close()


def postgres_schema(url: str) -> dict[str, set[str]]:
    database = PostgresDatabase(url)
    try:
        found = postgres_columns(database.connection())
        return {table: set(columns) for table, columns in found.items()}
    finally:
        database.close()


def test_every_migration_from_013_on_exists_for_both_dialects():
    files = migration_files()
    later = sorted({version for version, _only, _name in files if version > POSTGRESQL_BASELINE})
    for version in later:
        dialects = Counter(only for v, only, _name in files if v == version)
        shared = dialects[None] == 1 and not (dialects["sqlite"] or dialects["postgresql"])
        apart = dialects[None] == 0 and dialects["sqlite"] == 1 and dialects["postgresql"] == 1
        assert shared or apart, f"migration {version:03d}: {dict(dialects)}"
    for dialect in DIALECTS:
        assert max(v for v, _sql in migrations(dialect)) == latest_version()
    assert [v for v, _sql in migrations("postgresql")][0] == POSTGRESQL_BASELINE


@pytest.mark.postgresql
@pytest.mark.slow
def test_fresh_sqlite_and_postgresql_stores_have_the_same_tables_and_columns(
    tmp_path: Path, postgres_url: str
):
    lite = sqlite_schema(tmp_path / "catalog.sqlite")
    post = postgres_schema(postgres_url)
    assert "search_fts" not in lite  # FTS5's: a virtual table and its shadows
    assert {"entries", "audit_log"} <= set(lite)
    assert set(post) >= POSTGRESQL_ONLY_TABLES, "the allow-list names a table that is gone"
    search_engine = {t for t in set(post) - set(lite) if t.startswith(SEARCH_PREFIX)}
    assert set(lite) == set(post) - POSTGRESQL_ONLY_TABLES - search_engine
    differences = {}
    for table in sorted(lite):
        only_sqlite = lite[table] - post[table]
        only_postgres = post[table] - lite[table]
        if table in ROWID_TABLES:
            assert "rowid" in only_postgres, f"{table}: the rowid stand-in is gone"
            only_postgres -= {"rowid"}
        if table.startswith(SEARCH_PREFIX):
            only_postgres = set()
        if only_sqlite or only_postgres:
            differences[table] = {
                "sqlite": sorted(only_sqlite),
                "postgresql": sorted(only_postgres),
            }
    assert differences == {}


@pytest.mark.postgresql
def test_both_fresh_stores_reach_the_newest_version(tmp_path: Path, postgres_url: str):
    lite = SqliteDatabase(tmp_path / "catalog.sqlite")
    post = PostgresDatabase(postgres_url)
    try:
        assert lite.schema_version() == (latest_version(), latest_version())
        assert post.schema_version() == (latest_version(), latest_version())
        assert post.migrate() == []  # nothing left to run
    finally:
        lite.close()
        post.close()
