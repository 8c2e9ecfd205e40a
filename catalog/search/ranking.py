"""Which entries a plan matches, and in what order they come.

Tiers first: the exact name, then the exact code, then a code prefix, then names containing
the whole query, then names containing an abbreviation variant of it, then the rest. Within a
tier FTS5 ``bm25`` with the name weighted highest. bm25 is computed for every match (about
1.3 µs each, no early stop), so above ``RANK_LIMIT`` matches (before filters) the order within
a tier is instead: matched in a short field (``plan.MAIN_FIELDS``) before matched only in 信息项
or 摘要, then the shorter name first (``Page.ranking`` says which). An empty query lists every
active entry, most recently updated first.

Orders are int64 keys over the matches, cut to the page by ``Snapshot.top`` (numpy).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from catalog.search import text
from catalog.search.facets import Snapshot
from catalog.search.plan import QueryPlan, chars_phrase
from warehouse.store import Store

# bm25 weights per text field.
WEIGHTS = {
    "name": 10.0,
    "chars": 4.0,
    "pinyin": 5.0,
    "tags": 3.0,
    "category": 2.0,
    "provider": 2.0,
    "items": 1.5,
    "summary": 1.0,
}
RANK_LIMIT = 4_000
SCORE_CEILING = 1 << 55  # bm25 × 1e6 never comes near (bm25 is a few dozen at most)
# Tiers, best first; "all" is every entry of an empty query.
TIERS = ("exact_name", "exact_code", "code_prefix", "name_contains", "name_variant", "text", "all")
_TEXT, _ALL = TIERS.index("text"), TIERS.index("all")
ALL = _ALL  # the tier of a listing's entries (no query, or listed in code order)


@dataclass(frozen=True)
class Page:
    """One page of results: index ids in order, each one's tier and bm25 score (0 when not
    ranked by bm25), and how the order within a tier was decided."""

    ids: np.ndarray
    tiers: list[int]
    scores: list[float]
    ranking: str  # bm25 | name_length (above RANK_LIMIT matches) | updated (no query) | code


@dataclass(frozen=True)
class Matched:
    ids: np.ndarray  # sorted active index ids
    scores: np.ndarray | None  # bm25 × -1e6 as integers by index id; None above RANK_LIMIT


class Matches:
    """FTS5 matches of one search, each expression evaluated once (the same phrase serves the
    match and the ranking)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.found: dict[str, np.ndarray] = {}

    def ids(self, expression: str) -> np.ndarray:
        if expression not in self.found:
            self.found[expression] = self.store.search.matching(expression)
        return self.found[expression]


def match(store: Store, matches: Matches, snap: Snapshot, plan: QueryPlan) -> Matched:
    """The active entries matching ``plan`` (text or code), scored when few enough."""
    found = []
    scores = None
    if plan.match:
        if len(plan.alternatives) == 1:
            # One word: its alternatives one by one, so that the ranking reuses their
            # matches (the name's characters are also the "name contains" tier).
            matched = snap.union([matches.ids(a) for a in plan.alternatives[0]])
        else:
            matched = matches.ids(plan.match)
        if len(matched) <= RANK_LIMIT:  # bm25 costs ~1.3 µs per match: bounded
            matched, score = store.search.scored(plan.match, WEIGHTS)
            scores = np.zeros(snap.size, dtype=np.int64)
            inside = matched < snap.size
            scores[matched[inside]] = score[inside]
        found.append(matched)
    if plan.code_low is not None and plan.code_high is not None:
        found.append(store.search.with_code_between(plan.code_low, plan.code_high))
    return Matched(snap.union(found), scores)


def latest_first(snap: Snapshot, ids: np.ndarray, offset: int, limit: int) -> Page:
    """The page of an empty query: most recently updated first."""
    key = -snap.arrays["updated"][ids].astype(np.int64)
    page = ids[snap.top(ids, key, offset, limit)]
    return Page(page, [_ALL] * len(page), [0.0] * len(page), "updated")


def ranked(
    store: Store,
    matches: Matches,
    snap: Snapshot,
    plan: QueryPlan,
    ids: np.ndarray,
    scores: np.ndarray | None,
    offset: int,
    limit: int,
) -> Page:
    """The page of ``ids`` (the matches left by the filters) in tier order."""
    tier = tiers(store, matches, snap, plan, ids)
    if scores is not None:
        ranking = "bm25"
        score = scores[ids]
        key = (tier << 56) + (SCORE_CEILING - np.minimum(score, SCORE_CEILING))
    else:
        ranking = "name_length"
        score = np.zeros(len(ids), dtype=np.int64)
        only_long = 0
        reaches_text = np.count_nonzero(tier < _TEXT) < offset + limit
        if plan.main_match is not None and reaches_text:
            in_main = snap.mark(matches.ids(plan.main_match))
            only_long = (~in_main[ids]).astype(np.int64)
        key = (tier << 56) + (only_long << 40) + snap.arrays["name_len"][ids]
    page = snap.top(ids, key, offset, limit)
    return Page(ids[page], tier[page].tolist(), (score[page] / 1e6).tolist(), ranking)


def tiers(
    store: Store, matches: Matches, snap: Snapshot, plan: QueryPlan, ids: np.ndarray
) -> np.ndarray:
    """The tier (index into ``TIERS``) of each of ``ids``. "Contains" is read from the name's
    characters in the full-text index, so punctuation and spaces between are ignored."""
    result = np.full(len(ids), _TEXT, dtype=np.int64)
    variants = text.variants(plan.name_key)
    for tier, forms in (("name_variant", variants[1:]), ("name_contains", variants[:1])):
        phrases = dict.fromkeys(p for p in (text.han_chars(v) for v in forms) if p)
        for phrase in phrases:
            result[snap.mark(matches.ids(chars_phrase(phrase)))[ids]] = TIERS.index(tier)
    if plan.code_low is not None and plan.code_high is not None:
        prefixed = store.search.with_code_between(plan.code_low, plan.code_high)
        result[snap.mark(prefixed)[ids]] = TIERS.index("code_prefix")
        if plan.code is not None:
            exact_code = store.search.with_code(plan.code)
            result[snap.mark(exact_code)[ids]] = TIERS.index("exact_code")
    exact = store.search.with_name_key(plan.name_key)
    result[snap.mark(exact)[ids]] = TIERS.index("exact_name")
    return result
