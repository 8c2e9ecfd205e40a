"""The search index in the metadata database, kept in step with ``entries``.

Triggers on ``entries`` (migration 006) queue the code of every inserted, updated or deleted
entry in ``search_pending`` inside the writer's own transaction. ``refresh_index`` takes the
queue in batches: it reads the entries and segments their text outside any lock, then in one
short write transaction replaces their index rows and removes the queue rows it handled. A
change made meanwhile has queued a newer row, so it is picked up by the next batch: nothing is
lost, whichever process writes.

Freshness: each row keeps ``soon_at`` and ``overdue_at`` (its deadline minus the due-soon
window, plus the grace), computed from the entry's 最近更新时间, 更新周期 and the
``freshness_policies`` exactly as the sweep does; the status at query time is a comparison
with the clock. A change of the policies (seen by comparing a snapshot kept in
``search_meta``) recomputes those columns for the entries it concerns.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from catalog.freshness.policies import Override, resolve_policy
from catalog.search import text
from schemas.codes import RESOURCE_CLASSES
from warehouse.metadata import write_transaction

BATCH = 2_000
FTS_COLUMNS = ("name", "chars", "pinyin", "tags", "category", "provider", "items", "summary")
DOC_COLUMNS = ("code", "name", "name_key", "provider_code", "provider_name", "category",
               "share_type", "open_type", "update_cycle", "formats", "summary", "updated_at",
               "tracked", "soon_at", "overdue_at")
# Facet value columns: (search_docs column, search_values facet, DOC_COLUMNS source).
VALUE_COLUMNS = (("v_org", "organisation", "provider_name"), ("v_category", "category", "category"),
                 ("v_share", "share_type", "share_type"), ("v_open", "open_type", "open_type"),
                 ("v_cycle", "update_cycle", "update_cycle"), ("v_formats", "formats", "formats"))
ENTRY_COLUMNS = ("code", "name", "category_name", "resource_class", "provider_code",
                 "provider_name", "summary", "formats", "data_items", "share_type", "open_type",
                 "update_cycle", "tags", "updated_at", "status")
EPOCH = dt.datetime(1970, 1, 1)


@dataclass
class RefreshStats:
    indexed: int = 0
    removed: int = 0
    rebuilt: bool = False
    freshness_updated: int = 0
    seconds: float = 0.0

    @property
    def changed(self) -> bool:
        return bool(self.indexed or self.removed or self.rebuilt or self.freshness_updated)


def seconds(value: dt.datetime) -> float:
    """A catalogue-local moment as seconds since 1970 (read as if UTC: only compared)."""
    if value.tzinfo is not None:
        value = value.replace(tzinfo=None)
    return (value - EPOCH).total_seconds()


# --- freshness ---------------------------------------------------------------------------
Policies = dict[tuple[str, str], Override]


def load_policies(con: sqlite3.Connection) -> Policies:
    return {(r[0], r[1]): (r[2], r[3], r[4]) for r in con.execute(
        "SELECT scope, code, cycle, grace_hours, soon_hours FROM freshness_policies")}


def freshness_columns(updated_at: str | None, update_cycle: str | None, code: str,
                      provider_code: str | None, policies: Policies
                      ) -> tuple[int, float | None, float | None]:
    """(tracked, soon_at, overdue_at) of one entry, as ``freshness.sweep`` would see it: the
    entry's policy wins over its organisation's, which wins over the cycle's defaults."""
    policy = resolve_policy(update_cycle, policies.get(("entry", code)),
                            policies.get(("organisation", provider_code or "")))
    if not policy.tracked:
        return 0, None, None
    if not updated_at:
        return 1, None, None
    try:
        last = dt.datetime.fromisoformat(updated_at)
    except ValueError:
        return 1, None, None
    if last.tzinfo is not None:
        last = last.replace(tzinfo=None)  # stored in catalogue local time; the sweep casts so
    due_soon_from, overdue_after = policy.window(last)
    return 1, round(seconds(due_soon_from), 3), round(seconds(overdue_after), 3)


# --- documents ---------------------------------------------------------------------------
def _json_list(raw: Any) -> list[Any]:
    if not raw:
        return []
    if isinstance(raw, list):
        return raw
    try:
        value = json.loads(raw)
    except (TypeError, ValueError):
        return []
    return value if isinstance(value, list) else []


def _segment_all(values: Iterable[str]) -> str:
    return " ".join(s for s in (text.segment(v) for v in values) if s)


def category_of(entry: dict[str, Any] | sqlite3.Row) -> str | None:
    """The 分类 facet value: the 信息资源分类名称, else the 类 (基础/主题/部门信息资源)."""
    return entry["category_name"] or RESOURCE_CLASSES.get(str(entry["resource_class"] or ""))


def document(entry: dict[str, Any] | sqlite3.Row, policies: Policies
             ) -> tuple[tuple[Any, ...], tuple[str, ...]]:
    """(search_docs values in DOC_COLUMNS order, search_fts values in FTS_COLUMNS order)."""
    name = entry["name"] or ""
    formats = sorted({str(f).strip().upper() for f in _json_list(entry["formats"])
                      if str(f).strip()})
    tags = [str(t) for t in _json_list(entry["tags"]) if t]
    items = [str(i.get("name") or "") if isinstance(i, dict) else str(i)
             for i in _json_list(entry["data_items"])]
    category = category_of(entry)
    tracked, soon_at, overdue_at = freshness_columns(
        entry["updated_at"], entry["update_cycle"], entry["code"], entry["provider_code"],
        policies)
    doc = (entry["code"], name, text.compact(name), entry["provider_code"],
           entry["provider_name"], category, entry["share_type"], entry["open_type"],
           entry["update_cycle"], "".join(f"|{f}" for f in formats) + ("|" if formats else ""),
           entry["summary"] or "", entry["updated_at"], tracked, soon_at, overdue_at)
    fts = (text.segment(name), text.han_chars(name), text.pinyin_initials(name),
           _segment_all([*tags, *formats]), text.segment(category or ""),
           text.segment(entry["provider_name"] or ""), _segment_all(items),
           text.segment(entry["summary"] or ""))
    return doc, fts


# --- meta --------------------------------------------------------------------------------
def _meta(con: sqlite3.Connection, key: str) -> str | None:
    row = con.execute("SELECT value FROM search_meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else row[0]


def _set_meta(con: sqlite3.Connection, key: str, value: str) -> None:
    con.execute("INSERT OR REPLACE INTO search_meta (key, value) VALUES (?, ?)", (key, value))


def state(con: sqlite3.Connection) -> tuple[str | None, int]:
    """(index id: changes on every rebuild, generation: grows with every change)."""
    rows = dict(con.execute("SELECT key, value FROM search_meta WHERE key IN "
                            "('index_id', 'generation')").fetchall())
    return rows.get("index_id"), int(rows.get("generation") or 0)


def _next_generation(con: sqlite3.Connection) -> int:
    """Inside a write transaction: the generation the rows written now carry."""
    generation = int(_meta(con, "generation") or 0) + 1
    _set_meta(con, "generation", str(generation))
    if _meta(con, "index_id") is None:
        _set_meta(con, "index_id", uuid.uuid4().hex)
    return generation


def _policies_snapshot(policies: Policies) -> str:
    return json.dumps(sorted([list(k), list(v)] for k, v in policies.items()),
                      ensure_ascii=False)


def _policy_signature(con: sqlite3.Connection) -> str:
    row = con.execute("SELECT count(*), coalesce(max(set_at), '') FROM freshness_policies"
                      ).fetchone()
    return f"{row[0]}|{row[1]}"


# --- refresh -----------------------------------------------------------------------------
def needs_refresh(con: sqlite3.Connection) -> bool:
    """Cheap (point reads): is anything queued, or the segmenter or the policies changed?"""
    if con.execute("SELECT EXISTS (SELECT 1 FROM search_pending)").fetchone()[0]:
        return True
    if _meta(con, "segmenter") != text.SEGMENTER_VERSION:
        return True
    return _meta(con, "policy_signature") != _policy_signature(con)


def refresh_index(con: sqlite3.Connection, *, batch: int = BATCH) -> RefreshStats:
    """Bring the index up to date with ``entries`` and ``freshness_policies``.

    Re-indexes the entries queued since the last refresh (a retired or deleted entry is
    removed), rebuilds everything when the segmenter changed, and recomputes freshness
    deadlines when the policies changed. Safe to run from several threads or processes at once
    (each on its own connection).
    """
    started = time.perf_counter()
    stats = RefreshStats()
    if _meta(con, "segmenter") != text.SEGMENTER_VERSION:
        _start_rebuild(con)
        stats.rebuilt = True
    if _meta(con, "policy_signature") != _policy_signature(con):
        stats.freshness_updated = _refresh_policies(con)
    while True:
        done, indexed, removed = _refresh_batch(con, batch)
        stats.indexed += indexed
        stats.removed += removed
        if done:
            break
    stats.seconds = time.perf_counter() - started
    return stats


def rebuild_index(con: sqlite3.Connection, *, batch: int = BATCH) -> RefreshStats:
    """Drop the index and build it again from every entry."""
    _start_rebuild(con)
    stats = refresh_index(con, batch=batch)
    stats.rebuilt = True
    return stats


def _start_rebuild(con: sqlite3.Connection) -> None:
    with write_transaction(con):
        con.execute("DELETE FROM search_docs")
        con.execute("DELETE FROM search_fts")
        con.execute("DELETE FROM search_values")
        con.execute("DELETE FROM search_pending")
        con.execute("INSERT INTO search_pending (code) SELECT code FROM entries")
        con.execute("DELETE FROM search_meta WHERE key IN ('policy_signature', 'policies')")
        _set_meta(con, "segmenter", text.SEGMENTER_VERSION)
        _set_meta(con, "index_id", uuid.uuid4().hex)
        _set_meta(con, "generation", "0")


def _value_ids(con: sqlite3.Connection, wanted: set[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """Ids in search_values of (facet, value) pairs, adding the new ones (in a transaction)."""
    found: dict[tuple[str, str], int] = {}
    for facet in {f for f, _ in wanted}:
        values = sorted(v for f, v in wanted if f == facet)
        for row in select_in(con, "SELECT value, id FROM search_values WHERE facet = ? AND value "
                            "IN ({})", values, prefix=(facet,)):
            found[(facet, row[0])] = row[1]
    for key in sorted(wanted - found.keys()):
        found[key] = con.execute("INSERT INTO search_values (facet, value) VALUES (?, ?)",
                                 key).lastrowid
    return found


def _refresh_batch(con: sqlite3.Connection, batch: int) -> tuple[bool, int, int]:
    """Index one batch of queued codes; (queue empty, indexed, removed)."""
    queued = con.execute("SELECT id, code FROM search_pending ORDER BY id LIMIT ?",
                         (batch,)).fetchall()
    if not queued:
        return True, 0, 0
    last_id = queued[-1][0]
    codes = list(dict.fromkeys(row[1] for row in queued))
    policies = load_policies(con)
    entries = _entries(con, codes)
    # Segmenting is the slow part: done before taking the write lock.
    built = {code: document(entry, policies) for code, entry in entries.items()
             if entry["status"] == "active"}
    wanted = {(facet, doc[DOC_COLUMNS.index(source)]) for doc, _ in built.values()
              for _, facet, source in VALUE_COLUMNS if doc[DOC_COLUMNS.index(source)]}
    columns = ("id", *DOC_COLUMNS, *(v for v, _, _ in VALUE_COLUMNS), "active", "gen")
    upsert = (f"INSERT OR REPLACE INTO search_docs ({', '.join(columns)}) "
              f"VALUES ({', '.join('?' * len(columns))})")
    fts_sql = (f"INSERT INTO search_fts (rowid, {', '.join(FTS_COLUMNS)}) "
               f"VALUES (?, {', '.join('?' * len(FTS_COLUMNS))})")
    with write_transaction(con):
        generation = _next_generation(con)
        value_ids = _value_ids(con, wanted)
        existing = {row[0]: (row[1], row[2]) for row in select_in(
            con, "SELECT code, id, active FROM search_docs WHERE code IN ({})", codes)}
        next_id = (con.execute("SELECT max(id) FROM search_docs").fetchone()[0] or 0) + 1
        indexed = [existing[c][0] for c in codes if c in existing and existing[c][1]]
        con.executemany("DELETE FROM search_fts WHERE rowid = ?", [(i,) for i in indexed])
        gone = [(generation, existing[c][0]) for c in codes
                if c in existing and existing[c][1] and c not in built]
        con.executemany("UPDATE search_docs SET active = 0, gen = ? WHERE id = ?", gone)
        removed = len(gone)
        docs, texts = [], []
        for code, (doc, fts) in built.items():
            doc_id = existing[code][0] if code in existing else None
            if doc_id is None:
                doc_id, next_id = next_id, next_id + 1
            ids = tuple(value_ids.get((facet, doc[DOC_COLUMNS.index(source)]), 0)
                        for _, facet, source in VALUE_COLUMNS)
            docs.append((doc_id, *doc, *ids, 1, generation))
            texts.append((doc_id, *fts))
        con.executemany(upsert, docs)
        con.executemany(fts_sql, texts)
        con.execute("DELETE FROM search_pending WHERE id <= ?", (last_id,))
    return len(queued) < batch, len(built), removed


def _entries(con: sqlite3.Connection, codes: Sequence[str]) -> dict[str, sqlite3.Row]:
    sql = f"SELECT {', '.join(ENTRY_COLUMNS)} FROM entries WHERE code IN ({{}})"
    rows = select_in(con, sql, codes)
    if rows and not isinstance(rows[0], sqlite3.Row):
        return {row[0]: dict(zip(ENTRY_COLUMNS, row, strict=True)) for row in rows}
    return {row["code"]: row for row in rows}


def select_in(con: sqlite3.Connection, sql: str, values: Sequence[Any], *, chunk: int = 500,
              prefix: tuple[Any, ...] = ()) -> list[Any]:
    """Rows of ``sql`` whose ``IN ({})`` takes ``values``, in chunks (SQLite's limit on
    parameters)."""
    rows: list[Any] = []
    for i in range(0, len(values), chunk):
        part = list(values[i:i + chunk])
        cursor = con.execute(sql.format(", ".join("?" * len(part))), (*prefix, *part))
        rows.extend(cursor.fetchall())
    return rows


def _refresh_policies(con: sqlite3.Connection) -> int:
    """Recompute the freshness columns of the entries whose policies changed (policies are
    few: all of it runs inside one write transaction, so no change slips between)."""
    with write_transaction(con):
        policies = load_policies(con)
        old_raw = _meta(con, "policies")
        old: Policies = {}
        if old_raw:
            old = {(k[0], k[1]): (v[0], v[1], v[2]) for k, v in json.loads(old_raw)}
        changed = {key for key in policies.keys() | old.keys()
                   if policies.get(key) != old.get(key)}
        entry_codes = sorted(code for scope, code in changed if scope == "entry")
        org_codes = sorted(code for scope, code in changed if scope == "organisation")
        columns = "code, updated_at, update_cycle, provider_code FROM entries"
        rows: list[Any] = []
        if entry_codes:
            rows += select_in(con, f"SELECT {columns} WHERE code IN ({{}})", entry_codes)
        if org_codes:
            rows += select_in(con, f"SELECT {columns} WHERE provider_code IN ({{}})", org_codes)
        updates = {row[0]: (*freshness_columns(row[1], row[2], row[0], row[3], policies),
                            row[0]) for row in rows}
        if updates:
            generation = _next_generation(con)
            con.executemany(f"UPDATE search_docs SET tracked = ?, soon_at = ?, overdue_at = ?, "
                            f"gen = {generation} WHERE code = ?", list(updates.values()))
        _set_meta(con, "policy_signature", _policy_signature(con))
        _set_meta(con, "policies", _policies_snapshot(policies))
    return len(updates)
