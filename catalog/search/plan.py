"""A query's plan: its words, the FTS5 expression that matches them, and the code it may be.

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

The expressions are FTS5 query strings over the index's text fields
(``warehouse.store.search_index.TEXT_FIELDS``), handed to the store as values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from catalog.search import text

NEAR_SLACK = 4
# Fields short enough that a match in one says what the entry is about (see ranking).
MAIN_FIELDS = ("name", "chars", "pinyin", "tags", "category", "provider")

_CODE = re.compile(r"^([1-3][0-9]{5}[0-9]{0,6})(?:[/-]([0-9]{0,8}))?$")
_CODE_FULL = re.compile(r"^([1-3][0-9]{5}[0-9]{0,6})[/-]([0-9]{3,8})$")


@dataclass
class QueryPlan:
    words: list[str]
    match: str | None = None  # every word, each by any of its alternatives
    main_match: str | None = None  # the same, in MAIN_FIELDS only, without NEAR
    name_key: str = ""  # the query compacted, as names are for lookup
    code_low: str | None = None  # codes in [code_low, code_high) match
    code_high: str | None = None
    code: str | None = None  # a whole 信息资源代码
    alternatives: list[list[str]] = field(default_factory=list)  # per word, OR-ed
    marks: list[str] = field(default_factory=list)  # strings to mark in names/summaries
    pinyin: list[str] = field(default_factory=list)  # latin words to mark by initials

    @property
    def code_range(self) -> bool:
        return self.code_low is not None

    @property
    def empty(self) -> bool:
        return not self.match and not self.code_range


def quote(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def chars_phrase(chars: str) -> str:
    """Matches names holding these characters in a row."""
    return "chars : " + quote(chars)


def _word_alternatives(word: str, marks: list[str]) -> list[str]:
    alternatives: list[str] = []
    for variant in text.variants(word):
        alternatives.append(quote(variant))
        marks.append(variant)
        if text.has_han(variant) and len(variant) >= 3:
            parts = text.cover(variant)
            if len(parts) > 1:
                near = " ".join(quote(p) for p in parts)
                alternatives.append(f"NEAR({near}, {NEAR_SLACK * len(parts)})")
                marks.extend(p for p in parts if len(p) > 1)
        if text.has_han(variant):
            alternatives.append(chars_phrase(text.han_chars(variant)))
    if text.is_pinyin_query(word):
        alternatives.append(f"pinyin : {quote(word)} *")
    return list(dict.fromkeys(alternatives))


def plan_query(query: str) -> QueryPlan:
    raw = text.normalise(query)
    plan = QueryPlan(words=text.query_words(raw) if raw else [])
    if not raw:
        return plan
    if plan.words:
        plan.alternatives = [_word_alternatives(w, plan.marks) for w in plan.words]
        plan.match = " AND ".join("(" + " OR ".join(a) + ")" for a in plan.alternatives)
        # Matched in a short field: NEAR left out (4x the cost of the rest; the name's
        # characters already cover the name, and tags, 分类 and 提供方 are short).
        plan.main_match = (
            f"{{{' '.join(MAIN_FIELDS)}}} : ("
            + " AND ".join(
                "(" + " OR ".join(x for x in a if not x.startswith("NEAR(")) + ")"
                for a in plan.alternatives
            )
            + ")"
        )
        plan.pinyin = [w for w in plan.words if text.is_pinyin_query(w)]
    key = text.compact(raw)
    plan.name_key = key
    code = _CODE.match(key)
    if code:
        prefix = code.group(1) + ("/" + code.group(2) if code.group(2) is not None else "")
        plan.code_low, plan.code_high = prefix, prefix + "\uffff"
        if _CODE_FULL.match(key):
            plan.code = prefix
    return plan
