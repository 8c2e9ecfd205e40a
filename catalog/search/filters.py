"""Facet filters (筛选): their keys and Chinese names, the values users give, and those values
resolved to the index's value ids.

Values of one key are OR-ed, keys AND-ed. An organisation may be given by name or 提供方代码,
a freshness status by its value or Chinese name (逾期), a format in any case.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from catalog.freshness.sla import STATUS_NAMES, Status
from catalog.search import facets as facet_index
from schemas.errors import InvalidInput
from warehouse.store import Store

FACETS = (
    "organisation",
    "category",
    "share_type",
    "open_type",
    "update_cycle",
    "freshness",
    "format",
)
ALIASES = {
    "organisation": "organisation",
    "organization": "organisation",
    "org": "organisation",
    "provider": "organisation",
    "provider_name": "organisation",
    "提供方": "organisation",
    "category": "category",
    "分类": "category",
    "category_name": "category",
    "share_type": "share_type",
    "共享类型": "share_type",
    "open_type": "open_type",
    "开放属性": "open_type",
    "update_cycle": "update_cycle",
    "cycle": "update_cycle",
    "更新周期": "update_cycle",
    "freshness": "freshness",
    "status": "freshness",
    "时效": "freshness",
    "format": "format",
    "formats": "format",
    "格式": "format",
}
_STATUS_BY_NAME = {
    **{s.value: s.value for s in Status},
    **{name: s.value for s, name in STATUS_NAMES.items()},
}


def canonical_facet(key: str) -> str:
    """The facet a key names (English, alias or Chinese); InvalidInput for an unknown one."""
    name = ALIASES.get(key.strip().lower()) or ALIASES.get(key.strip())
    if name is None:
        raise InvalidInput(f"未知的筛选项 unknown facet {key!r}: one of {', '.join(FACETS)}")
    return name


def parse_facet_options(options: Iterable[str]) -> dict[str, list[str]]:
    """``["organisation=示范区民政局", "format=CSV"]`` (``--facet k=v``, ``facet=k=v``) →
    filters."""
    found: dict[str, list[str]] = {}
    for option in options:
        key, sep, value = option.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise InvalidInput(
                f"筛选条件有误 bad facet filter {option!r}: expected key=value, "
                f"e.g. share_type=无条件共享"
            )
        found.setdefault(canonical_facet(key), []).append(value.strip())
    return found


def normalise(facets: Mapping[str, Any]) -> dict[str, list[str]]:
    """``{key: value or [values]}`` → ``{facet: [values]}``: canonical keys, statuses by
    value, formats upper case, no duplicates or blanks."""
    filters: dict[str, list[str]] = {}
    for key, value in facets.items():
        name = canonical_facet(key)
        values = [value] if isinstance(value, str) else list(value)
        for item in values:
            item = str(item).strip()
            if name == "freshness":
                if item not in _STATUS_BY_NAME:
                    raise InvalidInput(
                        f"未知的时效状态 unknown freshness status {item!r}: one of "
                        f"{', '.join(s.value for s in Status)} (or 正常, 逾期 …)"
                    )
                item = _STATUS_BY_NAME[item]
            elif name == "format":
                item = item.upper()
            if item and item not in filters.setdefault(name, []):
                filters[name].append(item)
    return {k: v for k, v in filters.items() if v}


def resolve(
    store: Store,
    snap: facet_index.Snapshot,
    filters: dict[str, list[str]],
    visible: Iterable[str] | None = None,
) -> facet_index.Filter:
    """Filters as value ids of the snapshot (an unknown value allows nothing).

    ``visible``: the 开放属性 values the caller may see (the public side,
    ``catalog.policies.visible_open_types``); None is no such limit. It is one more
    ``open_type`` filter, AND-ed with any the caller gave, so hits, totals and facet counts all
    leave the hidden entries out."""
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
                found |= {snap.value_id(name, n) for n in store.search.provider_names(wanted)}
            values[name] = np.array(sorted(i for i in found if i is not None), dtype=np.int64)
    if visible is not None:
        shown = {snap.value_id("open_type", v) for v in visible}
        allowed = np.array(sorted(i for i in shown if i is not None), dtype=np.int64)
        given = values.get("open_type")
        values["open_type"] = allowed if given is None else np.intersect1d(given, allowed)
    return facet_index.Filter(values=values, format_sets=format_sets, statuses=statuses)
