"""Keeping the search index in step with ``entries`` and the freshness policies.

Triggers on ``entries`` (migration 006) queue the code of every inserted, updated or deleted
entry inside the writer's own transaction. ``refresh_index`` takes the queue in batches: it
reads the entries and segments their text outside any lock, then the store replaces their
documents and removes the queue rows it handled in one short write transaction. A change made
meanwhile has queued a newer row, so it is picked up by the next batch: nothing is lost,
whichever process writes.

A change of the freshness policies (seen by comparing a snapshot kept with the index)
recomputes the deadlines of the entries it concerns; a new segmenter rebuilds everything.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from catalog.search import text
from catalog.search.documents import Policies, deadlines, document
from warehouse.store import Store

BATCH = 2_000
# search_meta key: the segmenter version of the last build whose queue was drained. Until it
# equals text.SEGMENTER_VERSION the index is being (re)built and holds only part of the
# catalogue, so a search waits for the build instead of answering from it.
_BUILT = "built"
_log = logging.getLogger(__name__)


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


def needs_refresh(store: Store) -> bool:
    """Cheap (point reads): is anything queued, or the segmenter or the policies changed?"""
    search = store.search
    return (
        search.has_pending()
        or search.meta("segmenter") != text.SEGMENTER_VERSION
        or search.meta("policy_signature") != search.policy_signature()
    )


def index_built(store: Store) -> bool:
    """Has the index been built through once (by the current segmenter)? A point read."""
    return store.search.meta(_BUILT) == text.SEGMENTER_VERSION


def refresh_index(store: Store, *, batch: int = BATCH) -> RefreshStats:
    """Bring the index up to date with ``entries`` and the freshness policies.

    Re-indexes the entries queued since the last refresh (a retired or deleted entry is
    removed), rebuilds everything when the segmenter changed, and recomputes freshness
    deadlines when the policies changed. Safe to run from several threads or processes at once.
    """
    started = time.perf_counter()
    stats = RefreshStats()
    search = store.search
    if search.meta("segmenter") != text.SEGMENTER_VERSION:
        _start_rebuild(store)
        stats.rebuilt = True
    if search.meta("policy_signature") != search.policy_signature():
        stats.freshness_updated = _refresh_policies(store)
    while True:
        done, indexed, removed = _refresh_batch(store, batch)
        stats.indexed += indexed
        stats.removed += removed
        if done:
            break
    if search.meta(_BUILT) != text.SEGMENTER_VERSION:
        search.set_meta(_BUILT, text.SEGMENTER_VERSION)  # the queue was drained: built
    stats.seconds = time.perf_counter() - started
    return stats


def rebuild_index(store: Store, *, batch: int = BATCH) -> RefreshStats:
    """Drop the index and build it again from every entry."""
    _start_rebuild(store)
    stats = refresh_index(store, batch=batch)
    stats.rebuilt = True
    return stats


_refreshing: dict[str, threading.Lock] = {}
_refreshing_lock = threading.Lock()


def refresh_unless_busy(store: Store) -> tuple[int, bool]:
    """Index what changed; when another thread of this process is doing it already, wait for
    it and then index only what is still queued (its work is not redone). Waiting, not
    searching the stale index: a search right after start-up must not answer "nothing" while
    the warm-up builds the index. Returns (entries indexed, whether changes are still
    waiting)."""
    with _refreshing_lock:
        lock = _refreshing.setdefault(store.search.location, threading.Lock())
    lock.acquire()
    try:
        return refresh_index(store).indexed, False
    finally:
        lock.release()


class Refresher:
    """The one thread of a server that keeps its search index in step, so that no request
    indexes: a search that finds changes queued answers from the index as it is (flagged
    ``stale``) and calls ``request()``; this thread then indexes them. It also looks every
    ``interval`` seconds (a cheap check), so changes made by other processes (a CLI import) are
    indexed before a search asks. ``warm_up`` runs first, in the same thread.
    """

    def __init__(
        self,
        store: Store,
        *,
        interval: float = 2.0,
        warm_up: Callable[[Store], object] | None = None,
    ) -> None:
        self.store = store
        self.interval = interval
        self._warm_up = warm_up
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="mulu-search-refresh")
        self.refreshes = 0  # refreshes that indexed something, for tests and logs

    def start(self) -> Refresher:
        self._thread.start()
        return self

    @property
    def running(self) -> bool:
        return self._thread.is_alive() and not self._stop.is_set()

    def request(self) -> None:
        """Index what is queued, soon (returns at once)."""
        self._wake.set()

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the batch in hand, then end the thread (waits at most ``timeout``)."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        if self._warm_up is not None:
            try:
                self._warm_up(self.store)
            except Exception:  # must not stop the server; a search reports the cause
                _log.exception("search warm-up failed")
        while not self._stop.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            if self._stop.is_set():
                break
            try:
                if needs_refresh(self.store):
                    indexed, _ = refresh_unless_busy(self.store)
                    self.refreshes += bool(indexed)
            except Exception:  # a failed refresh is retried on the next wake-up
                _log.exception("search index refresh failed")
                self._stop.wait(self.interval)


def _start_rebuild(store: Store) -> None:
    store.search.set_meta(_BUILT, "")  # first: until the new build is drained, it is partial
    store.search.start_rebuild(text.SEGMENTER_VERSION)


def _refresh_batch(store: Store, batch: int) -> tuple[bool, int, int]:
    """Index one batch of queued codes; (queue empty, indexed, removed)."""
    search = store.search
    queued = search.pending(batch)
    if not queued:
        return True, 0, 0
    codes = list(dict.fromkeys(code for _, code in queued))
    policies: Policies = store.freshness.overrides()
    entries = search.entries(codes)
    # Segmenting is the slow part: done before the store takes the write lock.
    documents = [
        document(entry, policies) for entry in entries.values() if entry["status"] == "active"
    ]
    removed = search.write_batch(documents, codes, through=queued[-1][0])
    return len(queued) < batch, len(documents), removed


def _policies_snapshot(policies: Policies) -> str:
    return json.dumps(sorted([list(k), list(v)] for k, v in policies.items()), ensure_ascii=False)


def _refresh_policies(store: Store) -> int:
    """Recompute the deadlines of the entries whose policies changed (policies are few: all
    of it is one write transaction, so no change slips between)."""
    search = store.search
    with store.transaction():
        policies: Policies = store.freshness.overrides()
        old_raw = search.meta("policies")
        old: Policies = {}
        if old_raw:
            old = {(k[0], k[1]): (v[0], v[1], v[2]) for k, v in json.loads(old_raw)}
        changed = {key for key in policies.keys() | old.keys() if policies.get(key) != old.get(key)}
        rows = search.entries_under_policies(
            sorted(code for scope, code in changed if scope == "entry"),
            sorted(code for scope, code in changed if scope == "organisation"),
        )
        updates = [
            deadlines(r["code"], r["updated_at"], r["update_cycle"], r["provider_code"], policies)
            for r in rows
        ]
        search.set_deadlines(updates)
        search.set_meta("policy_signature", search.policy_signature())
        search.set_meta("policies", _policies_snapshot(policies))
    return len(updates)
