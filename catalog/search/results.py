"""What a search answers: ``SearchResult`` and its ``Hit``s, built from a ranked page."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from catalog.search.documents import formats_of
from catalog.search.facets import STATUSES, Snapshot
from catalog.search.highlight import highlight, snippet
from catalog.search.plan import QueryPlan
from catalog.search.ranking import TIERS, Page
from warehouse.store import Store


@dataclass
class Hit:
    code: str
    name: str
    provider_name: str | None
    provider_code: str | None
    category: str | None
    share_type: str | None
    open_type: str | None
    update_cycle: str | None
    formats: list[str]
    freshness: str
    updated_at: str | None
    summary: str
    match: str  # exact_name | exact_code | code_prefix | name_contains |
    #                           name_variant | text | all (why it ranks where it does)
    score: float  # bm25 (higher is better); 0 when not ranked by bm25
    name_highlighted: str  # HTML-escaped name, matched terms in <mark>…</mark>
    summary_snippet: str  # HTML-escaped excerpt of 摘要 around the first match, marked


@dataclass
class SearchResult:
    query: str
    total: int
    hits: list[Hit]
    facets: dict[str, list[tuple[str, int]]]
    filters: dict[str, list[str]]
    limit: int
    offset: int
    took_ms: float
    ranking: str = "bm25"  # bm25 | name_length (> RANK_LIMIT matches) | updated (no query) | code
    refreshed: int = 0  # entries (re)indexed by this call before searching
    stale: bool = False  # changes were waiting and this call did not index them
    words: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        value = dict(vars(self))  # not dataclasses.asdict: its deep copy costs ~1 ms a page
        value["hits"] = [dict(vars(hit)) for hit in self.hits]
        value["filters"] = {k: list(v) for k, v in self.filters.items()}
        value["words"] = list(self.words)
        value["facets"] = {
            k: [{"value": v, "count": c} for v, c in items] for k, items in self.facets.items()
        }
        return value


def hits(store: Store, snap: Snapshot, page: Page, now: float, plan: QueryPlan) -> list[Hit]:
    """The page's hits, in its order, with freshness judged as the facet counts judge it."""
    if not len(page.ids):
        return []
    wanted = [int(i) for i in page.ids]
    statuses = [STATUSES[s] for s in snap.status(page.ids, now)]
    rows = store.search.documents(wanted)
    return [
        _hit(rows[doc_id], status, tier, score, plan)
        for doc_id, status, tier, score in zip(
            wanted, statuses, page.tiers, page.scores, strict=True
        )
        if doc_id in rows
    ]


def _hit(row: dict[str, Any], freshness: str, tier: int, score: float, plan: QueryPlan) -> Hit:
    name = row["name"]
    summary = row["summary"] or ""
    return Hit(
        code=row["code"],
        name=name,
        provider_name=row["provider_name"],
        provider_code=row["provider_code"],
        category=row["category"],
        share_type=row["share_type"],
        open_type=row["open_type"],
        update_cycle=row["update_cycle"],
        formats=formats_of(row["formats"]),
        freshness=freshness,
        updated_at=row["updated_at"],
        summary=summary,
        match=TIERS[tier],
        score=round(0.0 - (score or 0.0), 4),
        name_highlighted=highlight(name, plan.marks, plan.pinyin),
        summary_snippet=snippet(summary, plan.marks),
    )
