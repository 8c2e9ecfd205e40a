"""Entries (目录条目), organisations (提供方), their change history (变更历史), data-update
events (数据更新记录) and bulk imports, in the SQL SQLite and PostgreSQL both accept. Plain dicts in, plain dicts out; the rules
(validation, diffing, who may change what) live in ``catalog``."""

from __future__ import annotations

import json
from collections.abc import Callable, Generator, Mapping, Sequence
from typing import Any, Literal

from warehouse.store.database import Database
from warehouse.store.fields import (
    COUNT_COLUMNS,
    ENTRY_FIELDS,
    ORGANISATION_FIELDS,
    TRACKING_FIELDS,
    EntryKey,
    EntryPage,
)
from warehouse.store.sql.rows import NO_LIMIT, chunks, dumps, encode_value, marks, row_to_entry

# What a listing reads: the catalogue's fields, not each source record (one entry has it).
_LISTED_COLUMNS = ", ".join(c for c in (*ENTRY_FIELDS, *TRACKING_FIELDS) if c != "source_record")


class SqlEntries:
    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, code: str) -> dict[str, Any] | None:
        row = (
            self.db.connection().execute("SELECT * FROM entries WHERE code = ?", (code,)).fetchone()
        )
        return None if row is None else row_to_entry(row)

    def by(self, key: EntryKey, values: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Entries whose ``key`` (code or source_key) is one of ``values``, by that value."""
        if key not in ("code", "source_key"):
            raise ValueError(f"entries are looked up by code or source_key, not {key!r}")
        found: dict[str, dict[str, Any]] = {}
        con = self.db.connection()
        for chunk in chunks(list(values)):
            for row in con.execute(
                f"SELECT * FROM entries WHERE {key} IN ({marks(len(chunk))})", chunk
            ):
                found[row[key]] = row_to_entry(row)
        return found

    def iter(
        self, *, status: str | None = "active", codes: Sequence[str] | None = None
    ) -> Generator[dict[str, Any], None, None]:
        """Entries in code order: those with ``status`` (None: every status), optionally only
        ``codes``."""
        con = self.db.connection()
        if codes is not None:
            found = self.by("code", codes)
            for code in sorted(found):
                if status is None or found[code]["status"] == status:
                    yield found[code]
            return
        if status is None:
            rows = con.execute("SELECT * FROM entries ORDER BY code")
        else:
            rows = con.execute("SELECT * FROM entries WHERE status = ? ORDER BY code", (status,))
        for row in rows:
            yield row_to_entry(row)

    def count(
        self,
        *,
        status: str | None = "active",
        source: str | None = None,
        provider_code: str | None = None,
    ) -> int:
        """Entries with ``status`` (None: any) that came from ``source`` and belong to
        ``provider_code`` (None: any)."""
        row = (
            self.db.connection()
            .execute(
                "SELECT count(*) FROM entries WHERE (? IS NULL OR status = ?) "
                "AND (? IS NULL OR source = ?) AND (? IS NULL OR provider_code = ?)",
                (status, status, source, source, provider_code, provider_code),
            )
            .fetchone()
        )
        return int(row[0])

    def page(
        self,
        *,
        provider: str | None = None,
        share_type: str | None = None,
        update_cycle: str | None = None,
        status: str = "active",
        limit: int = 50,
        offset: int = 0,
    ) -> EntryPage:
        """One page of entries in code order, filtered by exact values (None: no filter);
        ``provider`` matches a 提供方代码 or a 提供方 name. ``total`` counts every match."""
        where = (
            "status = ? AND (? IS NULL OR provider_code = ? OR provider_name = ?) "
            "AND (? IS NULL OR share_type = ?) AND (? IS NULL OR update_cycle = ?)"
        )
        params = (
            status,
            provider,
            provider,
            provider,
            share_type,
            share_type,
            update_cycle,
            update_cycle,
        )
        with self.db.snapshot() as con:
            total = con.execute(f"SELECT count(*) FROM entries WHERE {where}", params).fetchone()[0]
            rows = con.execute(
                f"SELECT {_LISTED_COLUMNS} FROM entries WHERE {where} "
                "ORDER BY code LIMIT ? OFFSET ?",
                (*params, limit, offset),
            ).fetchall()
        return EntryPage(int(total), [row_to_entry(r) for r in rows])

    def code_list(
        self, *, status: str = "active", limit: int | None = None, offset: int = 0
    ) -> list[str]:
        """Codes of the entries with ``status`` in code order (``limit`` None: all)."""
        rows = self.db.connection().execute(
            "SELECT code FROM entries WHERE status = ? ORDER BY code LIMIT ? OFFSET ?",
            (status, NO_LIMIT if limit is None else limit, offset),
        )
        return [row[0] for row in rows]

    def codes(self) -> set[str]:
        """Every entry's 信息资源代码, retired ones included."""
        return {row[0] for row in self.db.connection().execute("SELECT code FROM entries")}

    def has_source_key_prefix(self, prefix: str) -> bool:
        """Whether any entry's source_key starts with ``prefix`` (an index range, not LIKE:
        ``_`` and ``%`` in a mapping's name are plain characters)."""
        if not prefix:
            raise ValueError("a source_key prefix must not be empty")
        after = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        row = (
            self.db.connection()
            .execute(
                "SELECT 1 FROM entries WHERE source_key >= ? AND source_key < ? LIMIT 1",
                (prefix, after),
            )
            .fetchone()
        )
        return row is not None

    def counts(self, column: str, *, status: str = "active") -> dict[str, int]:
        """Active entries per value of ``column`` (``未说明`` for none), most first."""
        if column not in COUNT_COLUMNS:
            raise ValueError(f"entries are not counted by {column!r}")
        rows = self.db.connection().execute(
            f"SELECT coalesce({column}, '未说明'), count(*) FROM entries WHERE status = ? "
            f"GROUP BY 1 ORDER BY 2 DESC, 1",
            (status,),
        )
        return {str(k): int(v) for k, v in rows.fetchall()}

    def allocate_sequence(self, classification: str) -> int:
        """The next free 顺序码 under a 分类码 (inside the caller's transaction, if any)."""
        with self.db.transaction() as con:
            row = con.execute(
                "INSERT INTO code_sequences (classification, last) VALUES (?, 1) "
                "ON CONFLICT(classification) DO UPDATE SET last = code_sequences.last + 1 "
                "RETURNING last",
                (classification,),
            ).fetchone()
        return int(row[0])

    def insert(self, entries: Sequence[dict[str, Any]]) -> None:
        if not entries:
            return
        cols = ENTRY_FIELDS + TRACKING_FIELDS
        with self.db.transaction() as con:
            con.executemany(
                f"INSERT INTO entries ({','.join(cols)}) VALUES ({marks(len(cols))})",
                [tuple(encode_value(c, e.get(c)) for c in cols) for e in entries],
            )
            # Codes given explicitly move the sequence past them.
            top: dict[str, int] = {}
            for e in entries:
                classification, sequence = e["code"].split("/", 1)
                top[classification] = max(top.get(classification, 0), int(sequence))
            con.executemany(
                "INSERT INTO code_sequences (classification, last) VALUES (?, ?) "
                "ON CONFLICT(classification) DO UPDATE SET last = CASE "
                "WHEN excluded.last > code_sequences.last THEN excluded.last "
                "ELSE code_sequences.last END",
                list(top.items()),
            )

    def update(self, changes: Sequence[dict[str, Any]]) -> None:
        """Each change: ``code`` plus the columns to set."""
        allowed = set(ENTRY_FIELDS + TRACKING_FIELDS)
        with self.db.transaction() as con:
            for change in changes:
                cols = [c for c in change if c != "code"]
                unknown = set(cols) - allowed
                if unknown:
                    raise ValueError(f"entries have no column {sorted(unknown)[0]!r}")
                con.execute(
                    f"UPDATE entries SET {', '.join(f'{c} = ?' for c in cols)} WHERE code = ?",
                    [encode_value(c, change[c]) for c in cols] + [change["code"]],
                )


class SqlOrganisations:
    def __init__(self, db: Database) -> None:
        self.db = db

    def all(self) -> list[dict[str, Any]]:
        con = self.db.connection()
        return [dict(r) for r in con.execute("SELECT * FROM organisations ORDER BY code")]

    def get(self, code: str) -> dict[str, Any] | None:
        row = (
            self.db.connection()
            .execute("SELECT * FROM organisations WHERE code = ?", (code,))
            .fetchone()
        )
        return None if row is None else dict(row)

    def find(self, code_or_name: str) -> dict[str, Any] | None:
        """The organisation with this code, else the first registered with this name."""
        found = self.get(code_or_name)
        if found is not None:
            return found
        row = (
            self.db.connection()
            .execute(
                "SELECT * FROM organisations WHERE name = ? ORDER BY created_at, code LIMIT 1",
                (code_or_name,),
            )
            .fetchone()
        )
        return None if row is None else dict(row)

    def all_with_entry_counts(self) -> list[dict[str, Any]]:
        """Every organisation in code order, with ``entries``: its number of active entries."""
        rows = self.db.connection().execute(
            "SELECT o.*, count(e.code) AS entries FROM organisations o LEFT JOIN entries e "
            "ON e.provider_code = o.code AND e.status = 'active' GROUP BY o.code "
            "ORDER BY o.code"
        )
        return [dict(r) for r in rows]

    def codes_by_name(self) -> dict[str, str]:
        # First registered wins when two bodies share a name.
        rows = self.db.connection().execute(
            "SELECT name, code FROM organisations ORDER BY created_at DESC, code DESC"
        )
        return {name: code for name, code in rows}

    def upsert(self, organisations: Sequence[dict[str, Any]]) -> None:
        """Insert or update by code; a field given as None keeps its stored value."""
        if not organisations:
            return
        cols = ORGANISATION_FIELDS + ("created_at",)
        with self.db.transaction() as con:
            con.executemany(
                f"INSERT INTO organisations ({','.join(cols)}) VALUES ({marks(len(cols))}) "
                "ON CONFLICT(code) DO UPDATE SET "
                + ", ".join(
                    f"{c} = coalesce(excluded.{c}, organisations.{c})"
                    for c in ORGANISATION_FIELDS[1:]
                ),
                [tuple(o.get(c) for c in cols) for o in organisations],
            )

    def fill_blank(self, contacts: Sequence[dict[str, Any]]) -> None:
        """Each item: ``code`` plus contact columns, set only where the organisation has no
        value (a steward's value is never overwritten)."""
        allowed = {"contact_name", "contact_phone", "contact_email"}
        with self.db.transaction() as con:
            for item in contacts:
                cols = [c for c in item if c != "code"]
                unknown = set(cols) - allowed
                if unknown:
                    raise ValueError(f"not a contact column: {sorted(unknown)[0]!r}")
                if not cols:
                    continue
                con.execute(
                    "UPDATE organisations SET "
                    + ", ".join(f"{c} = coalesce(nullif(trim({c}), ''), ?)" for c in cols)
                    + " WHERE code = ?",
                    [item[c] for c in cols] + [item["code"]],
                )


class SqlHistory:
    """Every change of an entry (entry_history) and every update of its data (entry_updates)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def of(self, code: str) -> list[dict[str, Any]]:
        rows = self.db.connection().execute(
            "SELECT * FROM entry_history WHERE code = ? ORDER BY version, id", (code,)
        )
        return [{**dict(r), "changes": json.loads(r["changes"])} for r in rows]

    def add(self, changes: Sequence[dict[str, Any]]) -> None:
        if not changes:
            return
        with self.db.transaction() as con:
            con.executemany(
                "INSERT INTO entry_history (code, version, action, changed_at, changed_by, "
                "changes, import_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        h["code"],
                        h["version"],
                        h["action"],
                        h["changed_at"],
                        h["changed_by"],
                        dumps(h["changes"]),
                        h.get("import_id"),
                    )
                    for h in changes
                ],
            )

    def updates(self, code: str) -> list[dict[str, Any]]:
        rows = self.db.connection().execute(
            "SELECT * FROM entry_updates WHERE code = ? ORDER BY updated_at", (code,)
        )
        return [dict(r) for r in rows]

    def update_times(self, codes: Sequence[str]) -> dict[str, set[str]]:
        """The 最近更新时间 of every data-update event of ``codes``, by code (one query per
        chunk of codes, for a whole batch of merged records)."""
        found: dict[str, set[str]] = {}
        con = self.db.connection()
        for chunk in chunks(list(codes)):
            for code, updated_at in con.execute(
                f"SELECT code, updated_at FROM entry_updates WHERE code IN ({marks(len(chunk))})",
                chunk,
            ):
                found.setdefault(code, set()).add(updated_at)
        return found

    def recent_updates(self, code: str, limit: int) -> list[dict[str, Any]]:
        """The entry's ``limit`` latest data-update events, newest first."""
        rows = self.db.connection().execute(
            "SELECT * FROM entry_updates WHERE code = ? ORDER BY updated_at DESC, id DESC LIMIT ?",
            (code, limit),
        )
        return [dict(r) for r in rows]

    def add_updates(self, events: Sequence[dict[str, Any]]) -> None:
        if not events:
            return
        with self.db.transaction() as con:
            con.executemany(
                "INSERT INTO entry_updates (code, updated_at, source, reported_by, note, "
                "recorded_at, load_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        e["code"],
                        e["updated_at"],
                        e["source"],
                        e.get("reported_by"),
                        e.get("note"),
                        e["recorded_at"],
                        e.get("load_id"),
                    )
                    for e in events
                ],
            )

    def count_updates(self, *, source: str | None = None) -> int:
        row = (
            self.db.connection()
            .execute(
                "SELECT count(*) FROM entry_updates WHERE ? IS NULL OR source = ?", (source, source)
            )
            .fetchone()
        )
        return int(row[0])

    def has_load(self, load_id: str) -> bool:
        """Whether a pipeline load is registered already (by its load id)."""
        row = (
            self.db.connection()
            .execute("SELECT 1 FROM entry_updates WHERE load_id = ? LIMIT 1", (load_id,))
            .fetchone()
        )
        return row is not None


class SqlImports:
    def __init__(self, db: Database) -> None:
        self.db = db

    def start(
        self,
        file: str,
        mapping: str,
        by: str,
        started_at: str,
        *,
        pid: int | None = None,
        host: str | None = None,
    ) -> int:
        with self.db.transaction() as con:
            row = con.execute(
                "INSERT INTO imports (file, mapping, started_at, by, status, pid, host) "
                "VALUES (?, ?, ?, ?, 'running', ?, ?) RETURNING id",
                (file, mapping, started_at, by, pid, host),
            ).fetchone()
            return int(row[0])

    def progress(self, import_id: int, counts: Mapping[str, int]) -> None:
        with self.db.transaction() as con:
            con.execute(
                f"UPDATE imports SET {_import_counts_sql()} WHERE id = ? AND status = 'running'",
                (*_import_counts(counts), import_id),
            )

    def add_problems(self, import_id: int, problems: Sequence[Mapping[str, Any]]) -> None:
        if not problems:
            return
        with self.db.transaction() as con:
            con.executemany(
                "INSERT INTO import_rejects "
                "(import_id, row, field, severity, code, reason, record, raw) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        import_id,
                        p["row"] or 0,
                        p["field"],
                        p.get("severity", "reject"),
                        p.get("code"),
                        p["reason"],
                        p.get("record")
                        if isinstance(p.get("record"), str)
                        else dumps(p.get("record")),
                        p.get("raw"),
                    )
                    for p in problems
                ],
            )

    def finish(
        self,
        import_id: int,
        counts: Mapping[str, int],
        finished_at: str,
        *,
        status: Literal["finished", "failed", "interrupted"] = "finished",
        error: str | None = None,
        rejects_file: str | None = None,
    ) -> None:
        with self.db.transaction() as con:
            con.execute(
                f"UPDATE imports SET {_import_counts_sql()}, finished_at = ?, status = ?, "
                "error = ?, rejects_file = ? WHERE id = ?",
                (
                    *_import_counts(counts),
                    finished_at,
                    status,
                    error,
                    rejects_file,
                    import_id,
                ),
            )

    def mark_interrupted(self, host: str, alive: Callable[[int], bool]) -> list[int]:
        con = self.db.connection()
        running = con.execute(
            "SELECT id, pid FROM imports WHERE status = 'running' AND host = ?", (host,)
        ).fetchall()
        gone = [
            (row["id"], row["pid"])
            for row in running
            if row["pid"] is None or not alive(row["pid"])
        ]
        if gone:
            with self.db.transaction() as tx:
                tx.executemany(
                    "UPDATE imports SET status = 'interrupted', error = ? "
                    "WHERE id = ? AND status = 'running'",
                    [
                        (f"process {pid} on {host} ended before the import finished", import_id)
                        for import_id, pid in gone
                    ],
                )
        return [import_id for import_id, _ in gone]

    def get(self, import_id: int) -> dict[str, Any] | None:
        row = (
            self.db.connection()
            .execute("SELECT * FROM imports WHERE id = ?", (import_id,))
            .fetchone()
        )
        return None if row is None else dict(row)

    def recent(self, limit: int = 50) -> list[dict[str, Any]]:
        rows = (
            self.db.connection()
            .execute("SELECT * FROM imports ORDER BY id DESC LIMIT ?", (limit,))
            .fetchall()
        )
        return [dict(row) for row in rows]

    def problems(
        self, import_id: int, *, severity: str | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        rows = (
            self.db.connection()
            .execute(
                "SELECT row, field, severity, code, reason, record, raw FROM import_rejects "
                "WHERE import_id = ? AND (? IS NULL OR severity = ?) ORDER BY rowid LIMIT ?",
                (import_id, severity, severity, NO_LIMIT if limit is None else limit),
            )
            .fetchall()
        )
        return [dict(row) for row in rows]


_IMPORT_COUNTS = ("records", "created", "updated", "unchanged", "rejected", "warned", "duplicates")


def _import_counts_sql() -> str:
    return ", ".join(f"{name} = ?" for name in _IMPORT_COUNTS)


def _import_counts(counts: Mapping[str, int]) -> tuple[int, ...]:
    return tuple(int(counts.get(name, 0)) for name in _IMPORT_COUNTS)
