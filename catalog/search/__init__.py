"""Search (目录检索): Chinese-aware full-text search of the catalogue with facets.

``search(workspace_or_connection, query, facets=..., limit=..., offset=...)`` → ``SearchResult``;
the index (migration 006) is kept in step by ``refresh_index`` (search calls it when anything
changed). See docs/search.md.
"""

from catalog.search.index import RefreshStats, needs_refresh, rebuild_index, refresh_index
from catalog.search.query import (
    FACETS,
    Hit,
    SearchResult,
    canonical_facet,
    parse_facet_options,
    search,
    warm_up,
)
from catalog.search.text import initialize

__all__ = ["FACETS", "Hit", "RefreshStats", "SearchResult", "canonical_facet", "initialize",
           "needs_refresh", "parse_facet_options", "rebuild_index", "refresh_index", "search",
           "warm_up"]
