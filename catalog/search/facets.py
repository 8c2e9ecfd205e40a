"""Facet counts and filters over an in-memory copy of the index's facet columns (numpy).

Counting facets in SQL (a grouped scan of the matches joined to their values) cost 70 ms for a
query matching 25,900 of 357,000 entries and 0.5-0.9 s for one matching them all. Here every
indexed document's facet value ids, freshness deadlines, 最近更新时间 and name length sit in
numpy arrays indexed by its index id; a query's matches come from the store as an array of
ids, and counts are ``bincount``s: a few milliseconds even for every entry.

The copy is per process and per database, shared by threads. It is loaded once (about 0.1 s
per 100,000 entries) and then patched from the documents changed since the copy's generation
(``IndexState.generation`` grows with every write); a rebuild (new ``index_id``) loads it
again. Readers take an immutable snapshot; patches build new arrays and swap.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from catalog.search.documents import formats_of
from warehouse.store import Store
from warehouse.store.search_index import FACET_COLUMNS, FLOAT_COLUMNS, FacetColumns

# Facets counted by value id (an array of that name holds each document's value id);
# freshness and format are counted their own way.
VALUE_FACETS = ("organisation", "category", "share_type", "open_type", "update_cycle")
STATUSES = ("fresh", "due_soon", "overdue", "never_updated", "not_tracked")


@dataclass(frozen=True)
class Filter:
    """Resolved filters: allowed value ids per value facet, formats and freshness statuses."""

    values: dict[str, np.ndarray] = field(default_factory=dict)  # facet -> allowed value ids
    format_sets: np.ndarray | None = None  # allowed format-set ids
    statuses: tuple[int, ...] | None = None  # allowed STATUSES indexes

    @property
    def empty(self) -> bool:
        return not self.values and self.format_sets is None and self.statuses is None


class Snapshot:
    """The facet columns at one generation (immutable once published)."""

    def __init__(
        self,
        index_id: str | None,
        generation: int,
        arrays: dict[str, np.ndarray],
        values: dict[int, tuple[str, str]],
    ):
        self.index_id = index_id
        self.generation = generation
        self.arrays = arrays
        self.values = values  # value id -> (facet, value)
        self._by_facet: dict[str, dict[str, int]] = {}
        for value_id, (facet, value) in values.items():
            self._by_facet.setdefault(facet, {})[value] = value_id
        self._format_sets: dict[int, list[str]] = {
            value_id: formats_of(value)
            for value_id, (facet, value) in values.items()
            if facet == "formats"
        }

    # --- lookups -------------------------------------------------------------------------
    @property
    def size(self) -> int:
        return len(self.arrays["active"])

    def alive_ids(self) -> np.ndarray:
        return np.flatnonzero(self.arrays["active"]).astype(np.int64)

    def value_id(self, facet: str, value: str) -> int | None:
        return self._by_facet.get(facet, {}).get(value)

    def format_sets_with(self, formats: Iterable[str]) -> np.ndarray:
        wanted = set(formats)
        return np.array(
            [i for i, fmts in self._format_sets.items() if wanted & set(fmts)], dtype=np.int64
        )

    # --- per-query work ------------------------------------------------------------------
    def union(self, parts: Sequence[np.ndarray]) -> np.ndarray:
        """The sorted ids in any of ``parts`` that this snapshot has as active (an id newer
        than the snapshot is left out)."""
        marked = np.zeros(self.size, dtype=bool)
        for ids in parts:
            marked[ids[(ids >= 0) & (ids < self.size)]] = True
        marked &= self.arrays["active"] == 1
        return np.flatnonzero(marked).astype(np.int64)

    def status(self, ids: np.ndarray, now: float) -> np.ndarray:
        """Freshness status (index into STATUSES) of each of ``ids`` at ``now`` (seconds)."""
        a = self.arrays
        soon, overdue = a["soon_at"][ids], a["overdue_at"][ids]
        result = np.zeros(len(ids), dtype=np.int8)
        with np.errstate(invalid="ignore"):
            result[now >= soon] = 1
            result[now > overdue] = 2
        result[np.isnan(soon)] = 3
        result[a["tracked"][ids] == 0] = 4
        return result

    def apply(self, ids: np.ndarray, flt: Filter, now: float) -> np.ndarray:
        if flt.empty or not len(ids):
            return ids
        keep = np.ones(len(ids), dtype=bool)
        size = max(self.values, default=0) + 1
        for facet, allowed in flt.values.items():
            keep &= _lookup(allowed, size)[self.arrays[facet][ids]]
        if flt.format_sets is not None:
            keep &= _lookup(flt.format_sets, size)[self.arrays["formats"][ids]]
        if flt.statuses is not None:
            keep &= _lookup(np.array(flt.statuses), len(STATUSES))[self.status(ids, now)]
        return ids[keep]

    def counts(
        self, ids: np.ndarray, now: float, limit: int | None
    ) -> dict[str, list[tuple[str, int]]]:
        result: dict[str, list[tuple[str, int]]] = {}
        if limit == 0:
            return {facet: [] for facet in (*VALUE_FACETS, "freshness", "format")}
        size = max(self.values, default=0) + 1
        for facet in VALUE_FACETS:
            counted = np.bincount(self.arrays[facet][ids], minlength=size)
            items = [
                (self.values[int(i)][1], int(counted[i]))
                for i in np.flatnonzero(counted)
                if int(i) in self.values
            ]
            result[facet] = _top(items, limit)
        statuses = np.bincount(self.status(ids, now), minlength=len(STATUSES))
        result["freshness"] = _top(
            [(STATUSES[i], int(c)) for i, c in enumerate(statuses) if c], limit
        )
        sets = np.bincount(self.arrays["formats"][ids], minlength=size)
        formats: dict[str, int] = {}
        for i in np.flatnonzero(sets):
            for fmt in self._format_sets.get(int(i), ()):
                formats[fmt] = formats.get(fmt, 0) + int(sets[i])
        result["format"] = _top(list(formats.items()), limit)
        return result

    def mark(self, ids: np.ndarray) -> np.ndarray:
        """A boolean array over all doc ids, True at ``ids`` (membership in O(1))."""
        marked = np.zeros(self.size, dtype=bool)
        ids = ids[(ids >= 0) & (ids < self.size)]
        marked[ids] = True
        return marked

    @staticmethod
    def top(ids: np.ndarray, key: np.ndarray, offset: int, limit: int) -> np.ndarray:
        """Positions in ``ids`` of ``[offset, offset+limit)`` in the order of the int64
        ``key`` (ascending), ties by id, without sorting them all: partition at the cut, sort
        only what is at or before it."""
        wanted = min(len(ids), offset + limit)
        if wanted <= offset:
            return np.zeros(0, dtype=np.int64)
        if wanted < len(ids):
            cut = np.partition(key, wanted - 1)[wanted - 1]
            pool = np.flatnonzero(key <= cut)
        else:
            pool = np.arange(len(ids))
        order = pool[np.lexsort((ids[pool], key[pool]))]
        return order[offset:wanted]


def _lookup(allowed: np.ndarray, size: int) -> np.ndarray:
    table = np.zeros(size, dtype=bool)
    table[allowed[(allowed >= 0) & (allowed < size)].astype(np.int64)] = True
    return table


def _top(items: list[tuple[str, int]], limit: int | None) -> list[tuple[str, int]]:
    items.sort(key=lambda kv: (-kv[1], kv[0]))
    return items[:limit] if limit is not None else items


# --- the per-process cache ---------------------------------------------------------------
_lock = threading.Lock()
_snapshots: dict[str, Snapshot] = {}


def snapshot(store: Store) -> Snapshot:
    """The facet columns of the store's index as of now (loaded or patched as needed)."""
    key = store.search.location
    state = store.search.state()
    current = _snapshots.get(key)
    if (
        current is not None
        and current.index_id == state.index_id
        and current.generation == state.generation
    ):
        return current
    with _lock:
        current = _snapshots.get(key)
        if (
            current is not None
            and current.index_id == state.index_id
            and current.generation >= state.generation
        ):
            return current
        if current is None or current.index_id != state.index_id:
            fresh = _load(store, state.index_id, state.generation)
        else:
            fresh = _patch(store, current, state.generation)
        _snapshots[key] = fresh
        return fresh


def forget(store: Store | None = None) -> None:
    """Drop the cached copy (of one store's index, or all)."""
    with _lock:
        if store is None:
            _snapshots.clear()
        else:
            _snapshots.pop(store.search.location, None)


def _empty_arrays(size: int) -> dict[str, np.ndarray]:
    arrays = {}
    for name in FACET_COLUMNS:
        if name in FLOAT_COLUMNS:
            arrays[name] = np.full(size, np.nan if name != "updated" else -1.0)
        elif name in ("active", "tracked"):
            arrays[name] = np.zeros(size, dtype=np.int8)
        else:
            arrays[name] = np.zeros(size, dtype=np.int32)
    return arrays


def _fill(arrays: dict[str, np.ndarray], read: FacetColumns) -> None:
    for name in FACET_COLUMNS:
        arrays[name][read.ids] = read.columns[name]


def _load(store: Store, index_id: str | None, generation: int) -> Snapshot:
    read = store.search.facet_columns()
    arrays = _empty_arrays(int(read.ids.max()) + 1 if len(read.ids) else 1)
    _fill(arrays, read)
    return Snapshot(index_id, generation, arrays, store.search.facet_values())


def _patch(store: Store, current: Snapshot, generation: int) -> Snapshot:
    read = store.search.facet_columns(after_generation=current.generation)
    size = max(current.size, int(read.ids.max()) + 1 if len(read.ids) else 0)
    arrays = {}
    for name, array in current.arrays.items():
        grown = _empty_arrays(size)[name]
        grown[: len(array)] = array
        arrays[name] = grown
    _fill(arrays, read)
    values = dict(current.values)
    values.update(store.search.facet_values(after_id=max(current.values, default=0)))
    return Snapshot(current.index_id, generation, arrays, values)
