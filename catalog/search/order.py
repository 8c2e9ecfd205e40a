"""Entries in 信息资源代码 order over the search index: listings (``/api/entries``, CKAN's
``package_list``) that must leave out what the caller may not see (the public side) and still
count and page right.

Each document's rank in code order is kept per index generation (one read of the codes of
every active document, then numpy); a listing's page is then a partial sort of the filtered
ids by that rank, as ``Snapshot.top`` does for the other orders.
"""

from __future__ import annotations

import threading

import numpy as np

from catalog.search.facets import Snapshot
from warehouse.store import Store

_lock = threading.Lock()
# store location -> (index id, generation, code per index id or None, rank per index id)
_cache: dict[str, tuple[str | None, int, np.ndarray, np.ndarray]] = {}
_LAST = np.iinfo(np.int64).max


def _codes(store: Store, snap: Snapshot, ids: np.ndarray, into: np.ndarray) -> None:
    """Fill ``into[id]`` with the code of each active one of ``ids`` (None otherwise)."""
    active = ids[(ids < snap.size)]
    active = active[snap.arrays["active"][active] == 1]
    into[ids[ids < len(into)]] = None
    rows = store.search.documents([int(i) for i in active])
    for doc_id, row in rows.items():
        into[doc_id] = row["code"]


def code_rank(store: Store, snap: Snapshot) -> np.ndarray:
    """Per index id, its document's place in code order (inactive ones last). Read in full
    once per index (0.6 s at 35,700 entries), then patched from the documents changed since."""
    return _ranked(store, snap)[1]


def codes_of(store: Store, snap: Snapshot, ids: np.ndarray) -> list[str]:
    """The codes of ``ids`` (active documents of ``snap``), from the same cache."""
    codes = _ranked(store, snap)[0]
    return [str(c) for c in codes[ids] if c is not None]


def _ranked(store: Store, snap: Snapshot) -> tuple[np.ndarray, np.ndarray]:
    key = store.search.location
    found = _cache.get(key)
    if found is not None and found[0] == snap.index_id and found[1] == snap.generation:
        return found[2], found[3]
    with _lock:
        found = _cache.get(key)
        if found is not None and found[0] == snap.index_id and found[1] == snap.generation:
            return found[2], found[3]
        codes = np.full(snap.size, None, dtype=object)
        if found is None or found[0] != snap.index_id or found[1] > snap.generation:
            _codes(store, snap, snap.alive_ids(), codes)
        else:
            codes[: len(found[2])] = found[2][: snap.size]
            changed = store.search.facet_columns(after_generation=found[1]).ids
            _codes(store, snap, np.asarray(changed, dtype=np.int64), codes)
        present = np.flatnonzero(codes != None)  # noqa: E711 - numpy's element-wise test
        rank = np.full(snap.size, _LAST, dtype=np.int64)
        rank[present[np.argsort(codes[present].astype(str), kind="stable")]] = np.arange(
            len(present)
        )
        _cache[key] = (snap.index_id, snap.generation, codes, rank)
        return codes, rank


def in_code_order(
    store: Store, snap: Snapshot, ids: np.ndarray, offset: int, limit: int
) -> np.ndarray:
    """``ids[offset:offset+limit]`` after ordering ``ids`` by code."""
    key = code_rank(store, snap)[ids]
    return ids[snap.top(ids, key, offset, limit)]
