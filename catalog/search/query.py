"""``search``: Chinese-aware full-text search of the catalogue, with facets.

One search: bring the index up to date (a cheap check when nothing changed), plan the query
(``plan``), find its matches in the store's full-text index (``ranking.match``), filter and
count facets over all of them on the in-memory facet columns (``filters``, ``facets``), then
order them and read only the page's rows (``ranking``, ``results``).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Literal

from catalog.search import facets as facet_index
from catalog.search import filters, order, ranking, text
from catalog.search.documents import seconds
from catalog.search.index import Refresher, index_built, needs_refresh, refresh_unless_busy
from catalog.search.plan import plan_query
from catalog.search.results import SearchResult, hits
from schemas.entry import catalogue_now
from schemas.errors import InvalidInput
from warehouse.store import Store

# The longest query searched (characters): longer is InvalidInput (400 over HTTP). Planning a
# query costs time by its words; 20,000 characters once kept a server busy for 100 s.
MAX_QUERY_CHARS = 500


def search(
    store: Store,
    query: str = "",
    *,
    facets: Mapping[str, str | Sequence[str]] | None = None,
    limit: int = 20,
    offset: int = 0,
    refresh: bool | Refresher = True,
    facet_limit: int | None = 100,
    now: dt.datetime | None = None,
    visible: Iterable[str] | None = None,
    order_by: Literal["relevance", "code"] = "relevance",
) -> SearchResult:
    """Search the catalogue.

    ``facets``: ``{key: value or [values]}`` filters, values of one key OR-ed, keys AND-ed;
    keys are ``FACETS`` or their Chinese names (提供方, 分类, 共享类型, 开放属性, 更新周期, 时效,
    格式); an organisation may be given by name or 提供方代码, a freshness status by its value
    or Chinese name (逾期); an unknown key or status is ``InvalidInput``, and so is a query
    longer than ``MAX_QUERY_CHARS``. An empty query lists every active entry, most recently
    updated first. ``refresh``: True, first index what changed since the last refresh; False,
    search the index as it is; a ``Refresher`` (a server's), search the index as it is and ask
    the refresher to index the changes. Whatever ``refresh`` says, a search before the index
    was ever built waits for the build, never answering from a partial index (only False
    skips that). A result from an index with changes queued says ``stale``. ``now``: the moment freshness is judged at (default now, catalogue
    time). ``facet_limit``: values kept per facet, most frequent first (None: all).
    """
    started = time.perf_counter()
    if len(query) > MAX_QUERY_CHARS:
        raise InvalidInput(
            f"search query too long: {len(query):,} characters (at most {MAX_QUERY_CHARS})"
        )
    if limit < 0 or offset < 0:
        raise InvalidInput("limit and offset must not be negative")
    wanted = filters.normalise(facets or {})
    refreshed, stale = 0, needs_refresh(store)
    if stale and refresh is not False:
        if refresh is True or not refresh.running or not index_built(store):
            refreshed, stale = refresh_unless_busy(store)
        else:
            refresh.request()
    snap = facet_index.snapshot(store)
    now_s = seconds(now or catalogue_now())
    plan = plan_query(query)
    allowed = filters.resolve(store, snap, wanted, visible)

    if order_by == "code":
        if plan.empty:
            found = snap.alive_ids()
        else:
            found = ranking.match(store, ranking.Matches(store), snap, plan).ids
        ids = snap.apply(found, allowed, now_s)
        counts = snap.counts(ids, now_s, facet_limit)
        listed = order.in_code_order(store, snap, ids, offset, limit)
        page = ranking.Page(listed, [ranking.ALL] * len(listed), [0.0] * len(listed), "code")
    elif plan.empty:
        ids = snap.apply(snap.alive_ids(), allowed, now_s)
        counts = snap.counts(ids, now_s, facet_limit)
        page = ranking.latest_first(snap, ids, offset, limit)
    else:
        matches = ranking.Matches(store)
        matched = ranking.match(store, matches, snap, plan)
        ids = snap.apply(matched.ids, allowed, now_s)
        counts = snap.counts(ids, now_s, facet_limit)
        page = ranking.ranked(store, matches, snap, plan, ids, matched.scores, offset, limit)
    return SearchResult(
        query=query,
        total=len(ids),
        hits=hits(store, snap, page, now_s, plan),
        facets=counts,
        filters=wanted,
        limit=limit,
        offset=offset,
        took_ms=round((time.perf_counter() - started) * 1000, 2),
        ranking=page.ranking,
        refreshed=refreshed,
        stale=stale,
        words=plan.words,
    )


def warm_up(store: Store) -> None:
    """Make the first query as fast as the next (a server calls it at start-up): load jieba
    and pypinyin, index what changed, load the in-memory facet columns (about 0.5 s at
    357,000 entries)."""
    text.initialize()
    search(store, "", limit=0, facet_limit=0)
