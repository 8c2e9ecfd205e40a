"""The search index's tables both engines keep alike (migration 006, the PostgreSQL baseline):
documents, facet values, meta and the queue of entries to re-index. ``SqliteSearch`` (FTS5)
and ``PostgresSearch`` (tsvector) add the full-text part: building the index, matching,
scoring, and the reads that differ by engine.

Id sets leave through one comma-joined string parsed by numpy: a Python row per match costs
~0.8 µs, 270 ms for 357,000 matches.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, ClassVar

from warehouse.store.database import Database
from warehouse.store.search_index import (
    FACET_COLUMNS,
    FLOAT_COLUMNS,
    INDEXED_ENTRY_COLUMNS,
    Deadlines,
    FacetColumns,
    Ids,
    IndexState,
)
from warehouse.store.sql.rows import chunks, marks, row_to_entry


def id_array(value: str | None) -> Ids:
    import numpy as np  # imported when search runs, not when the store opens

    if not value:
        return np.zeros(0, dtype=np.int64)
    return np.fromstring(value, sep=",", dtype=np.int64)


def read_meta(con: Any, key: str) -> str | None:
    row = con.execute("SELECT value FROM search_meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else str(row[0])


def write_meta(con: Any, key: str, value: str) -> None:
    con.execute(
        "INSERT INTO search_meta (key, value) VALUES (?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


def next_generation(con: Any) -> int:
    """Inside a write transaction: the generation the rows written now carry."""
    generation = int(read_meta(con, "generation") or 0) + 1
    write_meta(con, "generation", str(generation))
    if read_meta(con, "index_id") is None:
        write_meta(con, "index_id", uuid.uuid4().hex)
    return generation


def value_ids_of(con: Any, wanted: set[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """Ids in search_values of (facet, value) pairs, adding the new ones (in a transaction)."""
    found: dict[tuple[str, str], int] = {}
    for facet in {f for f, _ in wanted}:
        values = sorted(v for f, v in wanted if f == facet)
        for chunk in chunks(values):
            for row in con.execute(
                f"SELECT value, id FROM search_values WHERE facet = ? "
                f"AND value IN ({marks(len(chunk))})",
                (facet, *chunk),
            ):
                found[(facet, row[0])] = int(row[1])
    for key in sorted(wanted - found.keys()):
        row = con.execute(
            "INSERT INTO search_values (facet, value) VALUES (?, ?) RETURNING id", key
        ).fetchone()
        found[key] = int(row[0])
    return found


class SearchTables:
    """The engine-neutral half of a ``Search`` implementation (``interfaces.Search``)."""

    # The engine's aggregate of FACET_COLUMNS over search_docs, and of ids into one string.
    FACET_SELECT: ClassVar[str]
    ID_LIST: ClassVar[str]

    def __init__(self, db: Database) -> None:
        self.db = db

    def state(self) -> IndexState:
        rows = dict(
            self.db.connection()
            .execute("SELECT key, value FROM search_meta WHERE key IN ('index_id', 'generation')")
            .fetchall()
        )
        return IndexState(rows.get("index_id"), int(rows.get("generation") or 0))

    def meta(self, key: str) -> str | None:
        """A note of what the index was built with (``segmenter``, ``policies`` …)."""
        return read_meta(self.db.connection(), key)

    def set_meta(self, key: str, value: str) -> None:
        with self.db.transaction() as con:
            write_meta(con, key, value)

    def has_pending(self) -> bool:
        row = (
            self.db.connection().execute("SELECT EXISTS (SELECT 1 FROM search_pending)").fetchone()
        )
        return bool(row[0])

    def pending(self, limit: int) -> list[tuple[int, str]]:
        """The oldest ``limit`` queue rows: (queue id, entry code)."""
        return [
            (int(r[0]), str(r[1]))
            for r in self.db.connection().execute(
                "SELECT id, code FROM search_pending ORDER BY id LIMIT ?", (limit,)
            )
        ]

    def entries(self, codes: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The entries' fields an index document is built from, by code (any status)."""
        con = self.db.connection()
        found: dict[str, dict[str, Any]] = {}
        for chunk in chunks(list(codes)):
            for row in con.execute(
                f"SELECT {', '.join(INDEXED_ENTRY_COLUMNS)} FROM entries "
                f"WHERE code IN ({marks(len(chunk))})",
                chunk,
            ):
                found[row["code"]] = row_to_entry(row)
        return found

    def policy_signature(self) -> str:
        """Changes whenever a freshness policy is set or removed (a cheap point read): the
        index's deadlines follow the policies."""
        row = (
            self.db.connection()
            .execute("SELECT count(*), coalesce(max(set_at), '') FROM freshness_policies")
            .fetchone()
        )
        return f"{row[0]}|{row[1]}"

    def entries_under_policies(
        self, entry_codes: Sequence[str], provider_codes: Sequence[str]
    ) -> list[dict[str, Any]]:
        """code, updated_at, update_cycle and provider_code of the entries with one of
        ``entry_codes`` or provided by one of ``provider_codes``."""
        con = self.db.connection()
        rows: dict[str, dict[str, Any]] = {}
        for column, values in (("code", entry_codes), ("provider_code", provider_codes)):
            for chunk in chunks(list(values)):
                for row in con.execute(
                    f"SELECT code, updated_at, update_cycle, provider_code FROM entries "
                    f"WHERE {column} IN ({marks(len(chunk))})",
                    chunk,
                ):
                    rows[row["code"]] = dict(row)
        return list(rows.values())

    def set_deadlines(self, deadlines: Sequence[Deadlines]) -> None:
        """New freshness columns for these entries' rows (the policies changed)."""
        if not deadlines:
            return
        with self.db.transaction() as con:
            generation = next_generation(con)
            con.executemany(
                "UPDATE search_docs SET tracked = ?, soon_at = ?, overdue_at = ?, gen = ? "
                "WHERE code = ?",
                [(int(d.tracked), d.soon_at, d.overdue_at, generation, d.code) for d in deadlines],
            )

    def with_code(self, code: str) -> Ids:
        return self._ids("SELECT id FROM search_docs WHERE code = ? AND active = 1", (code,))

    def with_name_key(self, name_key: str) -> Ids:
        return self._ids(
            "SELECT id FROM search_docs WHERE name_key = ? AND active = 1", (name_key,)
        )

    def provider_names(self, provider_codes: Sequence[str]) -> set[str]:
        """The organisation facet values (提供方名称) of these 提供方代码."""
        con = self.db.connection()
        names: set[str] = set()
        for chunk in chunks(list(provider_codes)):
            names.update(
                r[0]
                for r in con.execute(
                    f"SELECT DISTINCT provider_name FROM search_docs "
                    f"WHERE provider_code IN ({marks(len(chunk))})",
                    chunk,
                )
                if r[0] is not None
            )
        return names

    def facet_columns(self, *, after_generation: int | None = None) -> FacetColumns:
        """``FACET_COLUMNS`` of every document (retired ones included, ``active`` = 0), or
        of those changed after ``after_generation``."""
        con = self.db.connection()
        if after_generation is None:
            row = con.execute(f"SELECT {self.FACET_SELECT} FROM search_docs").fetchone()
        else:
            row = con.execute(
                f"SELECT {self.FACET_SELECT} FROM search_docs WHERE gen > ?", (after_generation,)
            ).fetchone()
        import numpy as np

        ids = id_array(row[0])
        columns: dict[str, Any] = {}
        for name, raw in zip(FACET_COLUMNS, row[1:], strict=True):
            dtype = np.float64 if name in FLOAT_COLUMNS else np.int64
            columns[name] = (
                np.fromstring(raw, sep=",", dtype=dtype) if raw else np.zeros(0, dtype=dtype)
            )
        return FacetColumns(ids=ids, columns=columns)

    def facet_values(self, *, after_id: int = 0) -> dict[int, tuple[str, str]]:
        """Value id → (facet, value) of the numbered facet values (those after ``after_id``)."""
        return {
            int(r[0]): (r[1], r[2])
            for r in self.db.connection().execute(
                "SELECT id, facet, value FROM search_values WHERE id > ?", (after_id,)
            )
        }

    def _ids(self, sql: str, params: Sequence[object]) -> Ids:
        row = (
            self.db.connection()
            .execute(f"SELECT {self.ID_LIST} FROM ({sql}) AS picked", params)
            .fetchone()
        )
        return id_array(row[0])
