"""Warehouse loads (装载记录) in the store (SQLite or PostgreSQL): one row per attempt to load a dataset into the lake.

A load is 'started' until it ends 'published' (a new lake snapshot), 'unchanged' (nothing
written), 'failed' (error* say where), 'waiting' (the source was still being written; error
says why; nothing written), 'blocked' (the quality gate held its rows in
``held_path`` for a steward) or 'rejected' (the steward kept them out). Rows leave the store as
plain dicts with ``sources`` a list of dicts and ``schema`` a list of (column, DuckDB type);
the rules (when a load is unchanged, how a dead run is settled) live in ``warehouse.load``.

Paths in the workspace (``held_path``, ``location``, each source's ``landed_path``) are kept
relative to it and come back resolved against the workspace this database lies in, so a copied
or moved workspace works on its own files (``Workspace.stored`` / ``Workspace.resolve``).

"After" means after in the order loads started: SQLite's rowid, since ``started_at`` is to the
second only. PostgreSQL's ``loads`` has an explicit ``rowid`` identity column for it (the
baseline); it is machinery, not a field, and never leaves the store.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from warehouse.store.database import Database
from warehouse.store.sql.rows import chunks, marks
from warehouse.workspace import Workspace

# The rowid of a load (0 when there is none), for "after that load".
_ROWID_OF = "coalesce((SELECT rowid FROM loads WHERE load_id = ?), 0)"


def _load(row: Any, workspace: Workspace | None = None) -> dict[str, Any]:
    load = dict(row)
    load.pop("rowid", None)  # PostgreSQL's explicit insertion order (SQLite's is hidden)
    load["sources"] = json.loads(load["sources"] or "[]")
    load["schema"] = [(name, kind) for name, kind in json.loads(load["schema"] or "[]")]
    if workspace is not None:
        for key in ("held_path", "location"):
            if load.get(key) and "://" not in load[key]:  # a URL (s3://…) is kept as is
                load[key] = str(workspace.resolve(load[key]))
        for source in load["sources"]:
            if source.get("landed_path"):
                source["landed_path"] = str(workspace.resolve(source["landed_path"]))
    return load


def _stored_sources(workspace: Workspace, sources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {**s, "landed_path": workspace.stored(s["landed_path"])} if s.get("landed_path") else s
        for s in sources
    ]


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


class SqlLoads:
    def __init__(self, db: Database, workspace: Workspace) -> None:
        self.db = db
        self.paths = workspace  # stored paths are relative to it

    # --- reads ---------------------------------------------------------------------------
    def get(self, load_id: str) -> dict[str, Any] | None:
        row = (
            self.db.connection()
            .execute("SELECT * FROM loads WHERE load_id = ?", (load_id,))
            .fetchone()
        )
        return None if row is None else _load(row, self.paths)

    def history(self, dataset: str) -> list[dict[str, Any]]:
        """Every load of ``dataset``, oldest first."""
        return [
            _load(row, self.paths)
            for row in self.db.connection().execute(
                "SELECT * FROM loads WHERE dataset = ? ORDER BY started_at, rowid", (dataset,)
            )
        ]

    def last_published(self, dataset: str) -> dict[str, Any] | None:
        """The published load whose snapshot is the table's live version."""
        row = (
            self.db.connection()
            .execute(
                "SELECT * FROM loads WHERE dataset = ? AND status = 'published' "
                "ORDER BY snapshot_id DESC LIMIT 1",
                (dataset,),
            )
            .fetchone()
        )
        return None if row is None else _load(row, self.paths)

    def published_load_ids(self, dataset: str) -> set[str]:
        return {
            row[0]
            for row in self.db.connection().execute(
                "SELECT load_id FROM loads WHERE dataset = ? AND status = 'published'", (dataset,)
            )
        }

    def published_source_hashes(self, dataset: str) -> set[str]:
        """The sha256 of every file a published load of ``dataset`` loaded."""
        return {
            source["sha256"]
            for row in self.db.connection().execute(
                "SELECT sources FROM loads WHERE dataset = ? AND status = 'published'", (dataset,)
            )
            for source in json.loads(row[0] or "[]")
        }

    def judged_since(
        self, dataset: str, fingerprint: str, after_load_id: str | None
    ) -> dict[str, Any] | None:
        """The latest load of ``dataset`` with this fingerprint that was blocked or rejected
        after the load ``after_load_id`` (None: ever)."""
        row = (
            self.db.connection()
            .execute(
                "SELECT * FROM loads WHERE dataset = ? AND status IN ('blocked', 'rejected') "
                f"AND fingerprint = ? AND rowid > {_ROWID_OF} ORDER BY rowid DESC LIMIT 1",
                (dataset, fingerprint, after_load_id),
            )
            .fetchone()
        )
        return None if row is None else _load(row, self.paths)

    def published_after(self, dataset: str, load_id: str) -> str | None:
        """The latest load of ``dataset`` published after ``load_id`` started, if any."""
        row = (
            self.db.connection()
            .execute(
                "SELECT load_id FROM loads WHERE dataset = ? AND status = 'published' "
                f"AND rowid > {_ROWID_OF} ORDER BY rowid DESC LIMIT 1",
                (dataset, load_id),
            )
            .fetchone()
        )
        return None if row is None else str(row[0])

    def published_datasets(self, datasets: Sequence[str]) -> list[str]:
        """Those of ``datasets`` that have a published load, in the order given."""
        found: set[str] = set()
        con = self.db.connection()
        for chunk in chunks(list(datasets)):
            found.update(
                row[0]
                for row in con.execute(
                    f"SELECT DISTINCT dataset FROM loads WHERE status = 'published' "
                    f"AND dataset IN ({marks(len(chunk))})",
                    chunk,
                )
            )
        return [d for d in datasets if d in found]

    def datasets_of_entry(self, entry_code: str) -> list[str]:
        """The datasets loaded for the catalogue entry ``entry_code``, by name."""
        return [
            row[0]
            for row in self.db.connection().execute(
                "SELECT DISTINCT dataset FROM loads WHERE entry_code = ? ORDER BY dataset",
                (entry_code,),
            )
        ]

    # --- a load's life ---------------------------------------------------------------------
    def start(
        self,
        load_id: str,
        *,
        dataset: str,
        entry_code: str | None,
        table_name: str,
        location: str,
        started_at: str,
    ) -> None:
        with self.db.transaction() as con:
            con.execute(
                "INSERT INTO loads (load_id, dataset, entry_code, status, table_name, "
                "location, started_at) VALUES (?, ?, ?, 'started', ?, ?, ?)",
                (
                    load_id,
                    dataset,
                    entry_code,
                    table_name,
                    self.paths.stored(location),
                    started_at,
                ),
            )

    def record_sources(
        self, load_id: str, *, fingerprint: str, sources: list[dict[str, Any]]
    ) -> None:
        """The landed files a load covers (``fingerprint``) and those it loads (``sources``)."""
        with self.db.transaction() as con:
            con.execute(
                "UPDATE loads SET fingerprint = ?, sources = ? WHERE load_id = ?",
                (fingerprint, _json(_stored_sources(self.paths, sources)), load_id),
            )

    def finish(
        self,
        load_id: str,
        *,
        status: str,
        rows: int,
        schema: Sequence[tuple[str, str]],
        snapshot_id: int | None,
        finished_at: str,
        quality_run_id: str | None,
        quality: str | None,
    ) -> None:
        with self.db.transaction() as con:
            con.execute(
                "UPDATE loads SET status = ?, rows = ?, schema = ?, snapshot_id = ?, "
                "finished_at = ?, quality_run_id = ?, quality = ? WHERE load_id = ?",
                (
                    status,
                    rows,
                    _json([list(pair) for pair in schema]),
                    snapshot_id,
                    finished_at,
                    quality_run_id,
                    quality,
                    load_id,
                ),
            )

    def fail(
        self,
        load_id: str,
        *,
        finished_at: str,
        error: str,
        error_file: str | None,
        error_column: str | None,
        error_row: int | None,
    ) -> None:
        with self.db.transaction() as con:
            con.execute(
                "UPDATE loads SET status = 'failed', finished_at = ?, error = ?, "
                "error_file = ?, error_column = ?, error_row = ? WHERE load_id = ?",
                (finished_at, error, error_file, error_column, error_row, load_id),
            )

    def wait(self, load_id: str, *, finished_at: str, reason: str) -> None:
        with self.db.transaction() as con:
            con.execute(
                "UPDATE loads SET status = 'waiting', finished_at = ?, error = ? WHERE load_id = ?",
                (finished_at, reason, load_id),
            )

    # --- held loads --------------------------------------------------------------------------
    def hold(self, load_id: str, held_path: str) -> None:
        """Where a blocked load's rows wait for a steward."""
        with self.db.transaction() as con:
            con.execute(
                "UPDATE loads SET held_path = ? WHERE load_id = ?",
                (self.paths.stored(held_path), load_id),
            )

    def publish_held(self, load_id: str, *, snapshot_id: int | None, finished_at: str) -> None:
        """A held load a steward accepted is published: its held rows are gone."""
        with self.db.transaction() as con:
            con.execute(
                "UPDATE loads SET status = 'published', snapshot_id = ?, "
                "held_path = NULL, finished_at = ? WHERE load_id = ?",
                (snapshot_id, finished_at, load_id),
            )

    def reject_held(self, load_id: str) -> None:
        """A held load a steward kept out: its held rows are gone."""
        with self.db.transaction() as con:
            con.execute(
                "UPDATE loads SET status = 'rejected', held_path = NULL WHERE load_id = ?",
                (load_id,),
            )

    # --- settling a dead run -----------------------------------------------------------------
    def record_lake_commit(
        self,
        load_id: str,
        *,
        dataset: str,
        entry_code: str | None,
        table_name: str,
        location: str,
        fingerprint: str | None,
        sources: list[dict[str, Any]],
        rows: int | None,
        schema: Sequence[Sequence[str]],
        snapshot_id: int,
        committed_at: str | None,
    ) -> None:
        """Record a lake commit as the published load it was, whether its row is missing or
        still 'started' (its process died between the commit and recording it)."""
        with self.db.transaction() as con:
            con.execute(
                "INSERT INTO loads (load_id, dataset, entry_code, status, started_at, "
                "table_name, location) VALUES (?, ?, ?, 'published', ?, ?, ?) "
                "ON CONFLICT (load_id) DO NOTHING",
                (
                    load_id,
                    dataset,
                    entry_code,
                    committed_at,
                    table_name,
                    self.paths.stored(location),
                ),
            )
            con.execute(
                "UPDATE loads SET status = 'published', fingerprint = ?, sources = ?, "
                "rows = ?, schema = ?, snapshot_id = ?, finished_at = ?, error = NULL, "
                "error_file = NULL, error_column = NULL, error_row = NULL "
                "WHERE load_id = ?",
                (
                    fingerprint,
                    _json(_stored_sources(self.paths, sources)),
                    rows,
                    _json([list(p) for p in schema]),
                    snapshot_id,
                    committed_at,
                    load_id,
                ),
            )

    def abandon_started(
        self, dataset: str, *, except_load_id: str, finished_at: str, error: str
    ) -> None:
        """Every other 'started' load of ``dataset`` failed with ``error`` (their processes are
        known to be dead)."""
        with self.db.transaction() as con:
            con.execute(
                "UPDATE loads SET status = 'failed', finished_at = ?, error = ? "
                "WHERE dataset = ? AND status = 'started' AND load_id <> ?",
                (finished_at, error, dataset, except_load_id),
            )
