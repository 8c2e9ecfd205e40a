"""Row-level storage of the catalogue in the metadata database.

Plain dicts in, plain dicts out: list-valued fields are JSON text in SQLite and Python lists
here. The rules (validation, diffing, who may change what) live in ``catalog``.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from warehouse.metadata import write_transaction

ENTRY_FIELDS = (
    "code", "name", "category_name", "provider_code", "provider_name", "summary",
    "format_category", "formats", "data_items", "share_type", "share_condition", "share_method",
    "open_type", "update_cycle", "published_at", "updated_at", "related_codes", "theme", "tags",
    "landing_page", "status",
)
JSON_FIELDS = frozenset({"formats", "data_items", "related_codes", "tags"})
TRACKING_FIELDS = ("classification", "resource_class", "source", "source_key", "version",
                   "created_at", "modified_at")
ORGANISATION_FIELDS = ("code", "name", "parent_code", "kind", "contact_name", "contact_phone",
                       "contact_email")
_CHUNK = 900  # stay under SQLite's bound-parameter limit


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def encode_value(field: str, value: Any) -> Any:
    if field in JSON_FIELDS:
        return _JSON.encode(value or [])
    return value


def row_to_entry(row: sqlite3.Row) -> dict[str, Any]:
    entry = dict(row)
    for field in JSON_FIELDS:
        if field in entry:
            entry[field] = json.loads(entry[field])
    return entry


class CatalogStore:
    def __init__(self, con: sqlite3.Connection):
        self.con = con

    # --- reads -------------------------------------------------------------------------
    def entry(self, code: str) -> dict[str, Any] | None:
        row = self.con.execute("SELECT * FROM entries WHERE code = ?", (code,)).fetchone()
        return None if row is None else row_to_entry(row)

    def entries_by(self, column: str, values: Iterable[str]) -> dict[str, dict[str, Any]]:
        assert column in ("code", "source_key")
        found: dict[str, dict[str, Any]] = {}
        for chunk in _chunks(list(values)):
            marks = ",".join("?" * len(chunk))
            for row in self.con.execute(f"SELECT * FROM entries WHERE {column} IN ({marks})", chunk):
                found[row[column]] = row_to_entry(row)
        return found

    def iter_entries(self, where: str = "", params: Sequence[Any] = ()) -> Iterator[dict[str, Any]]:
        sql = "SELECT * FROM entries" + (f" WHERE {where}" if where else "") + " ORDER BY code"
        for row in self.con.execute(sql, params):
            yield row_to_entry(row)

    def allocate_sequence(self, classification: str) -> int:
        """The next free 顺序码 under a 分类码. Call inside a write transaction."""
        row = self.con.execute(
            "INSERT INTO code_sequences (classification, last) VALUES (?, 1) "
            "ON CONFLICT(classification) DO UPDATE SET last = last + 1 RETURNING last",
            (classification,)).fetchone()
        return int(row[0])

    def history(self, code: str) -> list[dict[str, Any]]:
        rows = self.con.execute(
            "SELECT * FROM entry_history WHERE code = ? ORDER BY version, id", (code,))
        return [{**dict(r), "changes": json.loads(r["changes"])} for r in rows]

    def updates(self, code: str) -> list[dict[str, Any]]:
        rows = self.con.execute(
            "SELECT * FROM entry_updates WHERE code = ? ORDER BY updated_at", (code,))
        return [dict(r) for r in rows]

    def organisations(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self.con.execute("SELECT * FROM organisations ORDER BY code")]

    def organisation(self, code: str) -> dict[str, Any] | None:
        row = self.con.execute("SELECT * FROM organisations WHERE code = ?", (code,)).fetchone()
        return None if row is None else dict(row)

    def organisation_codes_by_name(self) -> dict[str, str]:
        # First registered wins when two bodies share a name.
        rows = self.con.execute("SELECT name, code FROM organisations ORDER BY created_at DESC, code DESC")
        return {name: code for name, code in rows}

    def counts(self, column: str, where: str = "status = 'active'") -> dict[str, int]:
        assert column in ("provider_code", "share_type", "update_cycle", "open_type",
                          "resource_class", "status")
        rows = self.con.execute(
            f"SELECT coalesce({column}, '未说明'), count(*) FROM entries WHERE {where} "
            f"GROUP BY 1 ORDER BY 2 DESC, 1")
        return dict(rows.fetchall())

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.con.execute(sql, params).fetchone()[0]

    # --- writes ------------------------------------------------------------------------
    def write(self, *, organisations: Sequence[dict[str, Any]] = (),
              inserts: Sequence[dict[str, Any]] = (), updates: Sequence[dict[str, Any]] = (),
              history: Sequence[dict[str, Any]] = (),
              update_events: Sequence[dict[str, Any]] = ()) -> None:
        """Write one batch in a single transaction (the caller's, if one is open): all of it
        lands or none does."""
        if self.con.in_transaction:
            self._write(self.con, organisations, inserts, updates, history, update_events)
            return
        with write_transaction(self.con) as con:
            self._write(con, organisations, inserts, updates, history, update_events)

    def _write(self, con, organisations, inserts, updates, history, update_events) -> None:
        if organisations:
            cols = ORGANISATION_FIELDS + ("created_at",)
            con.executemany(
                f"INSERT INTO organisations ({','.join(cols)}) VALUES ({','.join('?' * len(cols))}) "
                "ON CONFLICT(code) DO UPDATE SET " + ", ".join(
                    f"{c} = coalesce(excluded.{c}, {c})" for c in ORGANISATION_FIELDS[1:]),
                [tuple(o.get(c) for c in cols) for o in organisations])
        if inserts:
            cols = ENTRY_FIELDS + TRACKING_FIELDS
            con.executemany(
                f"INSERT INTO entries ({','.join(cols)}) VALUES ({','.join('?' * len(cols))})",
                [tuple(encode_value(c, e.get(c)) for c in cols) for e in inserts])
            # Codes given explicitly move the sequence past them.
            top: dict[str, int] = {}
            for e in inserts:
                classification, sequence = e["code"].split("/", 1)
                top[classification] = max(top.get(classification, 0), int(sequence))
            con.executemany(
                "INSERT INTO code_sequences (classification, last) VALUES (?, ?) "
                "ON CONFLICT(classification) DO UPDATE SET last = max(last, excluded.last)",
                list(top.items()))
        for change in updates:
            cols = [c for c in change if c != "code"]
            con.execute(
                f"UPDATE entries SET {', '.join(f'{c} = ?' for c in cols)} WHERE code = ?",
                [encode_value(c, change[c]) for c in cols] + [change["code"]])
        if history:
            con.executemany(
                "INSERT INTO entry_history (code, version, action, changed_at, changed_by, changes, "
                "import_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(h["code"], h["version"], h["action"], h["changed_at"], h["changed_by"],
                  json.dumps(h["changes"], ensure_ascii=False, default=str), h.get("import_id"))
                 for h in history])
        if update_events:
            self.add_update_events(update_events, con=con)

    def add_update_events(self, events: Sequence[dict[str, Any]], con: sqlite3.Connection | None = None) -> None:
        target = con or self.con
        target.executemany(
            "INSERT INTO entry_updates (code, updated_at, source, reported_by, note, recorded_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [(e["code"], e["updated_at"], e["source"], e.get("reported_by"), e.get("note"),
              e["recorded_at"]) for e in events])

    # --- imports -----------------------------------------------------------------------
    def start_import(self, file: str, mapping: str, by: str, started_at: str) -> int:
        with write_transaction(self.con) as con:
            cur = con.execute("INSERT INTO imports (file, mapping, started_at, by) VALUES (?, ?, ?, ?)",
                              (file, mapping, started_at, by))
            return int(cur.lastrowid)

    def finish_import(self, import_id: int, counts: dict[str, int], finished_at: str,
                      rejects: Sequence[dict[str, Any]], rejects_file: str | None) -> None:
        with write_transaction(self.con) as con:
            con.execute(
                "UPDATE imports SET finished_at = ?, records = ?, created = ?, updated = ?, "
                "unchanged = ?, rejected = ?, rejects_file = ? WHERE id = ?",
                (finished_at, counts["records"], counts["created"], counts["updated"],
                 counts["unchanged"], counts["rejected"], rejects_file, import_id))
            con.executemany(
                "INSERT INTO import_rejects (import_id, row, field, reason, record) VALUES (?, ?, ?, ?, ?)",
                [(import_id, r["row"], r["field"], r["reason"],
                  json.dumps(r["record"], ensure_ascii=False, default=str)) for r in rejects])
