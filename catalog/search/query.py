"""``search``: Chinese-aware full-text search of the catalogue, with facets.

A query is cut into words by jieba (``text.query_words``); an entry matches when it matches
every word. A word matches (FTS5 ``OR``):

* the same jieba token in any indexed field (名称, 信息项, 摘要, 提供方, 标签, 分类);
* its abbreviation variants (社保卡 ↔ 社会保障卡, ``text.ABBREVIATIONS``);
* its dictionary parts near each other (统计数据 → 统计 … 数据), for texts jieba cut
  differently;
* its characters in a row in the name (any substring of a name matches);
* for a latin word, a prefix of the name's pinyin initials (``sbk`` → 社保卡申领).

A query shaped like a 信息资源代码 (``101001/000001``, ``101001-000001``, or a prefix of at
least the 6-digit 分类码) also matches by code.

Ranking: the exact name first, then the exact code, then a code prefix, then names containing
the whole query, then names containing an abbreviation variant of it, then the rest; within a
tier FTS5 ``bm25`` with the name weighted highest. bm25 is computed for every match (about
1.3 µs each, no early stop), so above ``RANK_LIMIT`` matches (before filters) the order within
a tier is instead: matched in a short field (``MAIN_COLUMNS``) before matched only in 信息项 or
摘要, then the shorter name first (``SearchResult.ranking`` says which).
An empty query lists every active entry, most recently updated first.

Matches come out of FTS5 as rowids (and bm25 scores) in one ``group_concat`` string; filters,
total, facet counts (over all matches after the filters), tiers and the page order are then
numpy work over the in-memory facet columns (``facets.py``); SQL reads only the page's rows.
"""

from __future__ import annotations

import datetime as dt
import html
import re
import sqlite3
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from catalog.freshness.sla import STATUS_NAMES, Status
from catalog.search import facets as facet_index
from catalog.search import text
from catalog.search.index import needs_refresh, refresh_index, seconds, select_in
from schemas.entry import catalogue_now
from warehouse import metadata
from warehouse.workspace import Workspace

# bm25 weights, in search_fts column order: name, chars, pinyin, tags, category, provider,
# items, summary.
WEIGHTS = (10.0, 4.0, 5.0, 3.0, 2.0, 2.0, 1.5, 1.0)
NEAR_SLACK = 4
RANK_LIMIT = 4_000
# Fields short enough that a match in one says what the entry is about (above RANK_LIMIT an
# entry matched in one of these comes before one matched only in 信息项 or 摘要).
MAIN_COLUMNS = ("name", "chars", "pinyin", "tags", "category", "provider")
SCORE_CEILING = 1 << 55  # bm25 × 1e6 never comes near (bm25 is a few dozen at most)

FACETS = ("organisation", "category", "share_type", "open_type", "update_cycle", "freshness",
          "format")
ALIASES = {
    "organisation": "organisation", "organization": "organisation", "org": "organisation",
    "provider": "organisation", "provider_name": "organisation", "提供方": "organisation",
    "category": "category", "分类": "category", "category_name": "category",
    "share_type": "share_type", "共享类型": "share_type",
    "open_type": "open_type", "开放属性": "open_type",
    "update_cycle": "update_cycle", "cycle": "update_cycle", "更新周期": "update_cycle",
    "freshness": "freshness", "status": "freshness", "时效": "freshness",
    "format": "format", "formats": "format", "格式": "format",
}
_STATUS_BY_NAME = {**{s.value: s.value for s in Status},
                   **{name: s.value for s, name in STATUS_NAMES.items()}}

_CODE = re.compile(r"^([1-3][0-9]{5}[0-9]{0,6})(?:[/-]([0-9]{0,8}))?$")
_CODE_FULL = re.compile(r"^([1-3][0-9]{5}[0-9]{0,6})[/-]([0-9]{3,8})$")
_MARK = ("<mark>", "</mark>")


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
    match: str                # exact_name | exact_code | code_prefix | name_contains |
    #                           name_variant | text | all (why it ranks where it does)
    score: float              # bm25 (higher is better); 0 when not ranked by bm25
    name_highlighted: str     # HTML-escaped name, matched terms in <mark>…</mark>
    summary_snippet: str      # HTML-escaped excerpt of 摘要 around the first match, marked


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
    ranking: str = "bm25"     # bm25 | name_length (above RANK_LIMIT matches) | updated (no query)
    refreshed: int = 0        # entries (re)indexed by this call before searching
    stale: bool = False       # changes were waiting and this call did not index them
    words: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        value = dict(vars(self))  # not dataclasses.asdict: its deep copy costs ~1 ms a page
        value["hits"] = [dict(vars(hit)) for hit in self.hits]
        value["filters"] = {k: list(v) for k, v in self.filters.items()}
        value["words"] = list(self.words)
        value["facets"] = {k: [{"value": v, "count": c} for v, c in items]
                           for k, items in self.facets.items()}
        return value


# --- the public function -----------------------------------------------------------------
def search(source: Workspace | sqlite3.Connection | str | Path, query: str = "", *,
           facets: Mapping[str, str | Sequence[str]] | None = None, limit: int = 20,
           offset: int = 0, refresh: bool = True, facet_limit: int | None = 100,
           now: dt.datetime | None = None) -> SearchResult:
    """Search the catalogue.

    ``source``: a workspace, the metadata database path, or an open ``sqlite3`` connection to
    it (from ``warehouse.metadata.connect``; a web server keeps one per thread). ``facets``:
    ``{key: value or [values]}`` filters, values of one key OR-ed, keys AND-ed; keys are
    ``FACETS`` or their Chinese names (提供方, 分类, 共享类型, 开放属性, 更新周期, 时效, 格式);
    an organisation may be given by name or 提供方代码, a freshness status by its value or
    Chinese name (逾期). An empty query lists every active entry, most recently updated first.
    ``refresh``: first index what changed since the last refresh (a cheap check when nothing
    did). ``now``: the moment freshness is judged at (default now, catalogue time).
    ``facet_limit``: values kept per facet, most frequent first (None: all).
    """
    started = time.perf_counter()
    if isinstance(source, sqlite3.Connection):
        return _search(source, query, facets, limit, offset, refresh, facet_limit, now, started)
    path = source.metadata_db if isinstance(source, Workspace) else Path(source)
    con = metadata.connect(path)
    try:
        return _search(con, query, facets, limit, offset, refresh, facet_limit, now, started)
    finally:
        con.close()


def warm_up(source: Workspace | sqlite3.Connection | str | Path) -> None:
    """Make the first query as fast as the next (a server calls it at start-up): load jieba
    and pypinyin, index what changed, load the in-memory facet columns (about 0.5 s at
    357,000 entries)."""
    text.initialize()
    search(source, "", limit=0, facet_limit=0)


def parse_facet_options(options: Iterable[str]) -> dict[str, list[str]]:
    """``["organisation=示范区民政局", "format=CSV"]`` (the CLI's ``--facet k=v``) → filters."""
    found: dict[str, list[str]] = {}
    for option in options:
        key, sep, value = option.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ValueError(f"bad facet filter {option!r}: expected key=value, e.g. "
                             f"share_type=无条件共享")
        found.setdefault(canonical_facet(key), []).append(value.strip())
    return found


def canonical_facet(key: str) -> str:
    name = ALIASES.get(key.strip().lower()) or ALIASES.get(key.strip())
    if name is None:
        raise ValueError(f"unknown facet {key!r}: one of {', '.join(FACETS)}")
    return name


# --- implementation ----------------------------------------------------------------------
def _search(con: sqlite3.Connection, query: str, facets: Mapping[str, Any] | None,
            limit: int, offset: int, refresh: bool, facet_limit: int | None,
            now: dt.datetime | None, started: float) -> SearchResult:
    if limit < 0 or offset < 0:
        raise ValueError("limit and offset must not be negative")
    filters = _filters(facets or {})
    refreshed, stale = 0, needs_refresh(con)
    if refresh and stale:
        refreshed, stale = _refresh(con)
    snap = facet_index.snapshot(con)
    now_s = seconds(now or catalogue_now())
    plan = _plan(query)
    flt = _resolve(con, snap, filters)

    fts = _Matches(con)
    scores: np.ndarray | None = None  # bm25 × -1e6 as integers (higher is better), by id
    if plan.empty:
        ids = snap.alive_ids()
    else:
        found = []
        if plan.match:
            if len(plan.alternatives) == 1:
                # One word: its alternatives one by one, so that the ranking below reuses
                # their matches (the name's characters are also the "name contains" tier).
                matched = snap.union([fts.ids(a) for a in plan.alternatives[0]])
            else:
                matched = fts.ids(plan.match)
            if len(matched) <= RANK_LIMIT:  # bm25 costs ~1.3 µs per match: bounded
                matched, score = _scored(con, plan.match)
                scores = np.zeros(snap.size, dtype=np.int64)
                inside = matched < snap.size
                scores[matched[inside]] = score[inside]
            found.append(matched)
        if plan.code_range:
            found.append(facet_index.ids_from(
                con, "SELECT id FROM search_docs WHERE code >= ? AND code < ? AND active = 1",
                (plan.params["code_lo"], plan.params["code_hi"])))
        ids = snap.union(found)
    ids = snap.apply(ids, flt, now_s)
    total = len(ids)
    counts = snap.counts(ids, now_s, facet_limit)

    if plan.empty:
        ranking = "updated"
        key = -snap.arrays["updated"][ids].astype(np.int64)
        page = snap.top(ids, key, offset, limit)
        rows = _rows(con, snap, ids[page], now_s, [6] * len(page))
    else:
        tiers = _tiers(con, fts, snap, plan, ids)
        if scores is not None:
            ranking = "bm25"
            score = scores[ids]
            key = (tiers << 56) + (SCORE_CEILING - np.minimum(score, SCORE_CEILING))
        else:
            ranking = "name_length"
            score = np.zeros(len(ids), dtype=np.int64)
            only_long = 0
            if np.count_nonzero(tiers < 5) < offset + limit:  # the page reaches tier 5
                in_main = snap.mark(fts.ids(plan.main_match))
                only_long = (~in_main[ids]).astype(np.int64)
            key = (tiers << 56) + (only_long << 40) + snap.arrays["name_len"][ids]
        page = snap.top(ids, key, offset, limit)
        rows = _rows(con, snap, ids[page], now_s, tiers[page].tolist(),
                     (score[page] / 1e6).tolist())
    hits = [_hit(row, plan) for row in rows]
    return SearchResult(query=query, total=total, hits=hits, facets=counts, filters=filters,
                        limit=limit, offset=offset,
                        took_ms=round((time.perf_counter() - started) * 1000, 2),
                        ranking=ranking, refreshed=refreshed, stale=stale, words=plan.words)


_refreshing: dict[str, threading.Lock] = {}
_refreshing_lock = threading.Lock()


def _refresh(con: sqlite3.Connection) -> tuple[int, bool]:
    """Index what changed, unless another thread of this process is doing it already (then
    search the index as it is rather than queue behind it and redo its work): (indexed, stale).
    A read-only connection cannot refresh and searches the index as it is."""
    key = facet_index.database_key(con)
    with _refreshing_lock:
        lock = _refreshing.setdefault(key, threading.Lock())
    if not lock.acquire(blocking=False):
        return 0, True
    try:
        return refresh_index(con).indexed, False
    except sqlite3.OperationalError as exc:
        if "readonly" not in str(exc).replace("-", "").replace(" ", "").lower():
            raise
        return 0, True
    finally:
        lock.release()


def _scored(con: sqlite3.Connection, match: str) -> tuple[np.ndarray, np.ndarray]:
    """(rowids, bm25 × -1e6 as integers) of every match, in one FTS5 pass (two
    ``group_concat`` strings; ``LIMIT -1`` keeps SQLite from flattening the subquery into the
    aggregate, where bm25 cannot run)."""
    weights = ", ".join(str(w) for w in WEIGHTS)
    row = con.execute(
        f"SELECT group_concat(id), group_concat(score) FROM (SELECT rowid AS id, "
        f"CAST(bm25(search_fts, {weights}) * -1000000 AS INTEGER) AS score FROM search_fts "
        f"WHERE search_fts MATCH ? LIMIT -1)", (match,)).fetchone()
    if not row[0]:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return (np.fromstring(row[0], sep=",", dtype=np.int64),
            np.fromstring(row[1], sep=",", dtype=np.int64))


def _rows(con: sqlite3.Connection, snap: facet_index.Snapshot, ids: np.ndarray, now: float,
          tiers: Sequence[int], scores: Sequence[float] | None = None) -> list[dict[str, Any]]:
    """search_docs rows of ``ids``, in that order, with freshness (as the facet counts judge
    it), tier and score."""
    if not len(ids):
        return []
    wanted = [int(i) for i in ids]
    statuses = [facet_index.STATUSES[s] for s in snap.status(ids, now)]
    cursor = con.execute(f"SELECT * FROM search_docs "
                         f"WHERE id IN ({', '.join(map(str, wanted))})")
    names = [c[0] for c in cursor.description]
    found = {row[0]: dict(zip(names, row, strict=True)) for row in cursor.fetchall()}
    scores = scores if scores is not None else [0.0] * len(wanted)
    return [{**found[doc_id], "freshness": status, "score": score, "tier": tier}
            for doc_id, status, tier, score in zip(wanted, statuses, tiers, scores,
                                                   strict=False)
            if doc_id in found]


def _tiers(con: sqlite3.Connection, fts: _Matches, snap: facet_index.Snapshot, plan: _Plan,
           ids: np.ndarray) -> np.ndarray:
    """The ranking tier of each of ``ids``: 0 its name is the query, 1 its code is, 2 its
    code starts with it, 3 its name contains the query, 4 its name contains an abbreviation
    variant of it (社保卡 → 社会保障卡…), 5 any other match. "Contains" is read from the
    name's characters in the FTS index, so punctuation and spaces between are ignored."""
    tiers = np.full(len(ids), 5, dtype=np.int64)
    key = plan.params["name_key"]
    variants = text.variants(key)
    for tier, forms in ((4, variants[1:]), (3, variants[:1])):
        phrases = dict.fromkeys(p for p in (text.han_chars(v) for v in forms) if p)
        for phrase in phrases:
            tiers[snap.mark(fts.ids(_chars_phrase(phrase)))[ids]] = tier
    if plan.code_range:
        for tier, sql, args in (
                (2, "SELECT id FROM search_docs WHERE code >= ? AND code < ?",
                 (plan.params["code_lo"], plan.params["code_hi"])),
                (1, "SELECT id FROM search_docs WHERE code = ?", (plan.params.get("code"),))):
            tiers[snap.mark(facet_index.ids_from(con, sql, args))[ids]] = tier
    exact = facet_index.ids_from(con, "SELECT id FROM search_docs WHERE name_key = ?", (key,))
    tiers[snap.mark(exact)[ids]] = 0
    return tiers


class _Matches:
    """FTS5 matches of one search, each expression evaluated once (the same phrase serves the
    match and the ranking)."""

    def __init__(self, con: sqlite3.Connection) -> None:
        self.con = con
        self.found: dict[str, np.ndarray] = {}

    def ids(self, expression: str) -> np.ndarray:
        if expression not in self.found:
            self.found[expression] = facet_index.ids_from(
                self.con, "SELECT rowid AS id FROM search_fts WHERE search_fts MATCH ?",
                (expression,))
        return self.found[expression]


def _filters(facets: Mapping[str, Any]) -> dict[str, list[str]]:
    filters: dict[str, list[str]] = {}
    for key, value in facets.items():
        name = canonical_facet(key)
        values = [value] if isinstance(value, str) else list(value)
        for item in values:
            item = str(item).strip()
            if name == "freshness":
                if item not in _STATUS_BY_NAME:
                    raise ValueError(f"unknown freshness status {item!r}: one of "
                                     f"{', '.join(s.value for s in Status)} (or 正常, 逾期 …)")
                item = _STATUS_BY_NAME[item]
            elif name == "format":
                item = item.upper()
            if item and item not in filters.setdefault(name, []):
                filters[name].append(item)
    return {k: v for k, v in filters.items() if v}


def _resolve(con: sqlite3.Connection, snap: facet_index.Snapshot,
             filters: dict[str, list[str]]) -> facet_index.Filter:
    """Filters as value ids of the snapshot (an unknown value allows nothing)."""
    values: dict[str, np.ndarray] = {}
    format_sets = statuses = None
    for name, wanted in filters.items():
        if name == "freshness":
            statuses = tuple(facet_index.STATUSES.index(v) for v in wanted)
        elif name == "format":
            format_sets = snap.format_sets_with(wanted)
        else:
            found = {snap.value_id(name, v) for v in wanted}
            if name == "organisation":  # also by 提供方代码
                found |= {snap.value_id(name, r[0]) for r in select_in(
                    con, "SELECT DISTINCT provider_name FROM search_docs WHERE provider_code "
                         "IN ({})", wanted)}
            values[name] = np.array(sorted(i for i in found if i is not None), dtype=np.int64)
    return facet_index.Filter(values=values, format_sets=format_sets, statuses=statuses)


# --- the query plan ----------------------------------------------------------------------
@dataclass
class _Plan:
    words: list[str]
    match: str | None = None
    main_match: str | None = None
    code_range: bool = False
    params: dict[str, Any] = field(default_factory=dict)
    alternatives: list[list[str]] = field(default_factory=list)  # per word, OR-ed
    marks: list[str] = field(default_factory=list)      # strings to mark in names/summaries
    pinyin: list[str] = field(default_factory=list)     # latin words to mark by initials

    @property
    def empty(self) -> bool:
        return not self.match and not self.code_range


def _quote(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def _chars_phrase(chars: str) -> str:
    return "chars : " + _quote(chars)


def _word_alternatives(word: str, marks: list[str]) -> list[str]:
    alternatives: list[str] = []
    for variant in text.variants(word):
        alternatives.append(_quote(variant))
        marks.append(variant)
        if text.has_han(variant) and len(variant) >= 3:
            parts = text.cover(variant)
            if len(parts) > 1:
                near = " ".join(_quote(p) for p in parts)
                alternatives.append(f"NEAR({near}, {NEAR_SLACK * len(parts)})")
                marks.extend(p for p in parts if len(p) > 1)
        if text.has_han(variant):
            alternatives.append(_chars_phrase(text.han_chars(variant)))
    if text.is_pinyin_query(word):
        alternatives.append(f"pinyin : {_quote(word)} *")
    return list(dict.fromkeys(alternatives))


def _plan(query: str) -> _Plan:
    raw = text.normalise(query)
    plan = _Plan(words=text.query_words(raw) if raw else [])
    if not raw:
        return plan
    if plan.words:
        plan.alternatives = [_word_alternatives(w, plan.marks) for w in plan.words]
        plan.match = " AND ".join("(" + " OR ".join(a) + ")" for a in plan.alternatives)
        # Matched in a short field: NEAR left out (4x the cost of the rest; the name's
        # characters already cover the name, and tags, 分类 and 提供方 are short).
        plan.main_match = f"{{{' '.join(MAIN_COLUMNS)}}} : (" + " AND ".join(
            "(" + " OR ".join(x for x in a if not x.startswith("NEAR(")) + ")"
            for a in plan.alternatives) + ")"
        plan.pinyin = [w for w in plan.words if text.is_pinyin_query(w)]
    key = text.compact(raw)
    plan.params["name_key"] = key
    code = _CODE.match(key)
    if code:
        prefix = code.group(1) + ("/" + code.group(2) if code.group(2) is not None else "")
        plan.code_range = True
        plan.params.update(code_lo=prefix, code_hi=prefix + "\uffff")
        if _CODE_FULL.match(key):
            plan.params["code"] = prefix
    return plan


# --- hits and highlighting ---------------------------------------------------------------
_TIER_NAMES = {0: "exact_name", 1: "exact_code", 2: "code_prefix", 3: "name_contains",
               4: "name_variant", 5: "text", 6: "all"}


def _hit(row: dict[str, Any], plan: _Plan) -> Hit:
    name = row["name"]
    summary = row["summary"] or ""
    return Hit(
        code=row["code"], name=name, provider_name=row["provider_name"],
        provider_code=row["provider_code"], category=row["category"],
        share_type=row["share_type"], open_type=row["open_type"],
        update_cycle=row["update_cycle"],
        formats=[f for f in (row["formats"] or "").strip("|").split("|") if f],
        freshness=row["freshness"], updated_at=row["updated_at"], summary=summary,
        match=_TIER_NAMES[row["tier"]], score=round(0.0 - (row["score"] or 0.0), 4),
        name_highlighted=highlight(name, plan.marks, plan.pinyin),
        summary_snippet=snippet(summary, plan.marks))


def _spans(value: str, marks: Iterable[str]) -> list[tuple[int, int]]:
    """Character spans of ``value`` where any of ``marks`` occurs (case-insensitive, NFKC),
    merged."""
    folded = text.fold(value)
    spans = []
    for mark in sorted({m for m in marks if m}, key=len, reverse=True):
        start = folded.find(mark)
        while start >= 0:
            spans.append((start, start + len(mark)))
            start = folded.find(mark, start + 1)
    spans.sort()
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _pinyin_spans(value: str, words: Sequence[str]) -> list[tuple[int, int]]:
    """Spans of Han characters whose pinyin initials spell one of ``words``."""
    positions, letters = [], []
    for i, char in enumerate(value):
        if text.has_han(char):
            initial = text.char_initial(char)
            if initial:
                positions.append(i)
                letters.append(initial)
    joined = "".join(letters)
    spans = []
    for word in words:
        at = joined.find(word)
        if at >= 0:
            spans.append((positions[at], positions[at + len(word) - 1] + 1))
    return spans


def _render(value: str, spans: list[tuple[int, int]]) -> str:
    out, last = [], 0
    for start, end in sorted(spans):
        if start < last:
            continue
        out.append(html.escape(value[last:start]))
        out.append(_MARK[0] + html.escape(value[start:end]) + _MARK[1])
        last = end
    out.append(html.escape(value[last:]))
    return "".join(out)


def highlight(value: str, marks: Iterable[str], pinyin: Sequence[str] = ()) -> str:
    """``value`` HTML-escaped with every occurrence of ``marks`` in ``<mark>…</mark>``."""
    spans = _spans(value, marks)
    if pinyin and not spans:
        spans = _pinyin_spans(value, pinyin)
    return _render(value, spans)


def snippet(value: str, marks: Iterable[str], *, width: int = 80) -> str:
    """An excerpt of ``value`` (about ``width`` characters) around its first match, marked;
    the beginning when nothing matches."""
    if len(value) <= width:
        return highlight(value, marks)
    spans = _spans(value, marks)
    start = max(0, spans[0][0] - width // 4) if spans else 0
    end = min(len(value), start + width)
    start = max(0, end - width)
    part = value[start:end]
    inner = [(max(s - start, 0), min(e - start, len(part))) for s, e in spans
             if s < end and e > start]
    return ("…" if start else "") + _render(part, inner) + ("…" if end < len(value) else "")
