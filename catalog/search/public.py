"""The public side (公开目录, issue 13): what an anonymous caller sees of the catalogue.

开放属性 governs it: anonymous callers see the metadata of open entries only (``open_type`` in
``catalog.policies.OPEN_METADATA``); signed-in users see the whole directory, as before. Every
read of the web layer that lists, counts or shows entries goes through here with the caller,
so the REST API, the portal, CKAN and DCAT agree.

Lists and counts for the public come from the search index's facet arrays (``search`` with
``visible=``), so totals, pages and facet counts are right without reading every entry; a
hidden entry asked for by code is ``NotFound`` (404, not 403: whether it exists is not told).
Signed-in callers are answered by the store as before.

An entry read for the public is checked again against the policy (the index may lag a change
of 开放属性 by a moment: such an entry is left out of the page rather than shown).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from catalog.policies import can_see_entry, visible_open_types
from catalog.search import facets as facet_index
from catalog.search import filters, order
from catalog.search.index import Refresher
from catalog.search.query import search
from catalog.search.results import SearchResult
from schemas.errors import NotFound
from schemas.principal import Principal
from warehouse.store import Store
from warehouse.store.fields import EntryPage

Refresh = bool | Refresher


def hidden(code: str) -> NotFound:
    """The answer for an entry the caller may not see: the same as for no such entry."""
    return NotFound(f"没有信息资源代码为 {code!r} 的条目 (no entry {code!r})")


def check_entry(who: Principal, entry: dict[str, Any]) -> dict[str, Any]:
    """``entry`` if ``who`` may see it; NotFound otherwise."""
    if not can_see_entry(who, entry):
        raise hidden(str(entry.get("code")))
    return entry


def _visible_entries(who: Principal, store: Store, codes: list[str]) -> list[dict[str, Any]]:
    found = store.entries.by("code", codes)
    return [found[c] for c in codes if c in found and can_see_entry(who, found[c])]


def entry_page(
    store: Store,
    who: Principal,
    *,
    provider: str | None = None,
    share_type: str | None = None,
    update_cycle: str | None = None,
    limit: int = 50,
    offset: int = 0,
    refresh: Refresh = True,
) -> EntryPage:
    """Active entries in code order, filtered by exact values, as ``who`` sees them."""
    visible = visible_open_types(who)
    if visible is None:
        return store.entries.page(
            provider=provider,
            share_type=share_type,
            update_cycle=update_cycle,
            limit=limit,
            offset=offset,
        )
    facets = {
        k: v
        for k, v in (
            ("organisation", provider),
            ("share_type", share_type),
            ("update_cycle", update_cycle),
        )
        if v
    }
    result = search(
        store,
        "",
        facets=facets or None,
        limit=limit,
        offset=offset,
        refresh=refresh,
        facet_limit=0,
        visible=visible,
        order_by="code",
    )
    return EntryPage(result.total, _visible_entries(who, store, [h.code for h in result.hits]))


def code_list(
    store: Store,
    who: Principal,
    *,
    limit: int | None = None,
    offset: int = 0,
    refresh: Refresh = True,
) -> list[str]:
    """Codes of the active entries ``who`` sees, in code order (``limit`` None: all)."""
    visible = visible_open_types(who)
    if visible is None:
        return store.entries.code_list(limit=limit, offset=offset)
    # Brought up to date (and its total counted) by a search; the codes then come from the
    # code-order cache, not from reading every hit.
    search(store, "", limit=0, refresh=refresh, facet_limit=0, visible=visible)
    snap = facet_index.snapshot(store)
    ids = snap.apply(snap.alive_ids(), filters.resolve(store, snap, {}, visible), 0.0)
    wanted = len(ids) if limit is None else limit
    return order.codes_of(store, snap, order.in_code_order(store, snap, ids, offset, wanted))


def organisation_count(
    store: Store, who: Principal, org_code: str, *, refresh: Refresh = True
) -> int:
    """The organisation's active entries ``who`` sees."""
    visible = visible_open_types(who)
    if visible is None:
        return store.entries.count(provider_code=org_code)
    return search(
        store,
        "",
        facets={"organisation": org_code},
        limit=0,
        refresh=refresh,
        facet_limit=0,
        visible=visible,
    ).total


def _public_counts(store: Store, visible: Iterable[str], refresh: Refresh) -> SearchResult:
    return search(store, "", limit=0, refresh=refresh, facet_limit=None, visible=visible)


def organisations_with_counts(
    store: Store, who: Principal, *, refresh: Refresh = True
) -> list[dict[str, Any]]:
    """Every organisation in code order with ``entries``: its active entries ``who`` sees
    (for the public counted by 提供方 name, as the search facet counts them)."""
    orgs = store.organisations.all_with_entry_counts()
    visible = visible_open_types(who)
    if visible is None:
        return orgs
    by_name = dict(_public_counts(store, visible, refresh).facets.get("organisation", []))
    return [{**org, "entries": int(by_name.get(org["name"], 0))} for org in orgs]


def stats(
    store: Store,
    who: Principal,
    full: Callable[[], dict[str, Any]],
    *,
    refresh: Refresh = True,
) -> dict[str, Any]:
    """The catalogue's figures as ``who`` sees them: ``full()`` (``Directory.stats``) for a
    signed-in user; for the public, the same figures over open entries only (without
    ``retired`` and ``by_resource_class``, which the index does not count)."""
    visible = visible_open_types(who)
    if visible is None:
        return full()
    result = _public_counts(store, visible, refresh)
    facets = {k: dict(v) for k, v in result.facets.items()}
    organisations = store.organisations.all()
    names = {o["name"]: o["code"] for o in organisations}
    by_org = facets.get("organisation", {})
    return {
        "entries": result.total,
        "organisations": len(organisations),
        "organisations_with_entries": len(by_org),
        "by_share_type": facets.get("share_type", {}),
        "by_update_cycle": facets.get("update_cycle", {}),
        "by_open_type": facets.get("open_type", {}),
        "by_organisation": [
            {"code": names.get(name, name), "name": name, "entries": count}
            for name, count in by_org.items()
        ],
        "visible": "open entries only (公开目录：仅开放条目)",
    }
