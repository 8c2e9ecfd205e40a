"""Search (目录检索): Chinese-aware full-text search of the catalogue with facets.

``search(store, query, facets=..., limit=..., offset=...)`` → ``SearchResult``; the index is
kept in step by ``refresh_index`` (search calls it when anything changed). See docs/search.md.

Modules: ``text`` (jieba, pinyin, abbreviations), ``documents`` (an entry as indexed),
``index`` (keeping the index in step), ``plan`` (a query's FTS5 expressions), ``filters``
(facet keys and values), ``facets`` (in-memory facet columns and counts), ``ranking`` (tiers
and bm25), ``highlight``, ``results`` and ``query`` (the ``search`` function).
"""

from catalog.search.filters import FACETS, canonical_facet, parse_facet_options
from catalog.search.index import RefreshStats, needs_refresh, rebuild_index, refresh_index
from catalog.search.query import search, warm_up
from catalog.search.results import Hit, SearchResult
from catalog.search.text import initialize

__all__ = [
    "FACETS",
    "Hit",
    "RefreshStats",
    "SearchResult",
    "canonical_facet",
    "initialize",
    "needs_refresh",
    "parse_facet_options",
    "rebuild_index",
    "refresh_index",
    "search",
    "warm_up",
]
