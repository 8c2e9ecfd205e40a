"""The public side (issue 13): 开放属性 governs what an anonymous caller sees.

A real ``mulu serve`` over a small district with mixed 开放属性 (open, conditional, not open,
none, a spelling Mulu keeps as it is): anonymous callers see the open entries only — in the
portal's search (hits and facet counts), /api/search, /api/entries (pages and totals), an entry
by code (a hidden one is 404, as a missing one), organisations' counts, /api/stats, CKAN's
package_search/package_list/package_show/organization_show (through the real ckanapi client)
and DCAT; a token's user sees every entry. Also the search layer itself: ``visible=`` and the
code order, patched when entries change.
"""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from api_server import serving

from catalog.directory import Directory
from catalog.policies import OPEN_METADATA, visible_open_types
from catalog.search import public as public_side
from catalog.search import search
from catalog.sharing.users import UserAccounts
from schemas.errors import NotFound
from schemas.principal import Principal
from warehouse.store import Store
from warehouse.workspace import Workspace

ORGS = {"11330100MB0000001X": "示范区民政局", "11330100MB0000002X": "示范区交通局"}
# 开放属性 cycling through the entries: three open kinds, and four the public must not see.
OPEN_TYPES = ["无条件开放", "有条件开放", "不予开放", None, "依申请开放", "不予开放", "内部使用"]
ENTRIES = 42


def _district(root: Path) -> tuple[Workspace, dict[str, dict[str, Any]]]:
    """ENTRIES entries over two organisations, 开放属性 mixed; returns them by code."""
    workspace = Workspace(root).ensure()
    directory = Directory.open(workspace, user="tester")
    made: dict[str, dict[str, Any]] = {}
    try:
        directory.add_organisations([{"code": c, "name": n} for c, n in ORGS.items()])
        for i in range(ENTRIES):
            code, name = list(ORGS.items())[i % 2]
            fields = {
                "name": f"公交线路信息{i:02d}" if i % 3 else f"低保对象名单{i:02d}",
                "provider_name": name,
                "provider_code": code,
                "summary": "摘要",
                "share_type": "无条件共享" if i % 2 else "有条件共享",
                "open_type": OPEN_TYPES[i % len(OPEN_TYPES)],
                "update_cycle": "每月",
                "formats": ["csv"],
            }
            made[directory.create(fields)] = fields
        accounts = UserAccounts(directory.store)
        accounts.add("li.ming", org=next(iter(ORGS)), name="李明", actor="tester")
    finally:
        directory.close()
    return workspace, made


def _open(made: dict[str, dict[str, Any]]) -> list[str]:
    return sorted(c for c, e in made.items() if (e["open_type"] or "") in OPEN_METADATA)


@pytest.fixture(scope="module")
def district(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, dict]]:
    """(base URL of a real server, a token of a signed-in user, the entries by code)."""
    workspace, made = _district(tmp_path_factory.mktemp("public") / "ws")
    store = Store.open(workspace)
    try:
        token = UserAccounts(store).issue_token("li.ming", name="test", actor="tester").secret
    finally:
        store.close()
    with serving(workspace.root) as base:
        yield base, token, made


def get(base: str, path: str, token: str | None = None, **params: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(base + path, params=params, headers=headers, timeout=30)


@pytest.mark.server
@pytest.mark.slow
def test_anonymous_package_search_shows_open_entries_only(district):
    import ckanapi

    base, token, made = district
    shown = _open(made)
    assert 0 < len(shown) < ENTRIES
    anonymous = ckanapi.RemoteCKAN(base)
    found = anonymous.action.package_search(rows=1000, **{"facet.field": '["organization"]'})
    assert found["count"] == len(shown)
    assert sorted(p["id"] for p in found["results"]) == shown
    assert sum(found["facets"]["organization"].values()) == len(shown)
    # A query and an organisation filter count the same way.
    found = anonymous.action.package_search(q="低保", rows=1000)
    low = [c for c in shown if made[c]["name"].startswith("低保")]
    assert found["count"] == len(low)
    assert sorted(p["id"] for p in found["results"]) == low
    # Asked for the hidden ones by name: none.
    hidden = anonymous.action.package_search(q="不予开放", fq="", rows=1000)
    assert all(p["id"] in shown for p in hidden["results"])
    # A token's user sees every entry.
    signed_in = ckanapi.RemoteCKAN(base, apikey=token)
    assert signed_in.action.package_search(rows=1000)["count"] == ENTRIES


@pytest.mark.server
@pytest.mark.slow
def test_ckan_lists_shows_and_organisations_as_the_caller_sees_them(district):
    import ckanapi

    base, token, made = district
    shown = _open(made)
    hidden = sorted(set(made) - set(shown))
    anonymous = ckanapi.RemoteCKAN(base)
    signed_in = ckanapi.RemoteCKAN(base, apikey=token)
    assert anonymous.action.package_list() == [c.replace("/", "-") for c in shown]
    assert anonymous.action.package_list(limit=3, offset=2) == [
        c.replace("/", "-") for c in shown[2:5]
    ]
    assert len(signed_in.action.package_list()) == ENTRIES
    assert anonymous.action.package_show(id=shown[0])["id"] == shown[0]
    with pytest.raises(ckanapi.NotFound):
        anonymous.action.package_show(id=hidden[0])
    assert signed_in.action.package_show(id=hidden[0])["id"] == hidden[0]
    for code in ORGS:
        of_org = [c for c in shown if made[c]["provider_code"] == code]
        org = anonymous.action.organization_show(id=code.lower(), include_datasets=True)
        assert org["package_count"] == len(of_org)
        assert sorted(p["id"] for p in org["packages"]) == of_org
        everything = signed_in.action.organization_show(id=code.lower())
        assert everything["package_count"] == sum(
            1 for e in made.values() if e["provider_code"] == code
        )
    counts = {
        o["title"]: o["package_count"] for o in anonymous.action.organization_list(all_fields=True)
    }
    assert sum(counts.values()) == len(shown)


@pytest.mark.server
@pytest.mark.slow
def test_rest_and_portal_show_open_entries_only(district):
    base, token, made = district
    shown = _open(made)
    hidden = sorted(set(made) - set(shown))
    # /api/search: hits, total, facet counts.
    found = get(base, "/api/search", limit=200).json()
    assert found["total"] == len(shown)
    assert sorted(h["code"] for h in found["hits"]) == shown
    open_counts = {f["value"]: f["count"] for f in found["facets"]["open_type"]}
    assert set(open_counts) <= OPEN_METADATA
    assert sum(open_counts.values()) == len(shown)
    assert get(base, "/api/search", facet="open_type=不予开放").json()["total"] == 0
    assert get(base, "/api/search", token, limit=1).json()["total"] == ENTRIES
    # /api/entries: pages in code order, the total counted the same way.
    pages = [get(base, "/api/entries", limit=5, offset=o).json() for o in range(0, 40, 5)]
    assert {p["total"] for p in pages} == {len(shown)}
    assert [e["code"] for p in pages for e in p["entries"]] == shown
    org = next(iter(ORGS))
    listed = get(base, "/api/entries", org=org, limit=100).json()
    assert listed["total"] == sum(1 for c in shown if made[c]["provider_code"] == org)
    assert get(base, "/api/entries", token, limit=1).json()["total"] == ENTRIES
    # One entry: a hidden one is 404, as a missing one; its history too.
    quoted = urllib.parse.quote(hidden[0], safe="")
    assert get(base, f"/api/entries/{quoted}").status_code == 404
    assert get(base, f"/api/entries/{quoted}/history").status_code == 404
    assert get(base, f"/api/entries/{quoted}", token).json()["code"] == hidden[0]
    assert get(base, f"/api/entries/{urllib.parse.quote(shown[0], safe='')}").status_code == 200
    # An open entry's history: what changed and when; which staff login did it is not public.
    opened = f"/api/entries/{urllib.parse.quote(shown[0], safe='')}/history"
    public_history = get(base, opened).json()["history"]
    assert public_history
    assert all(row["changed_by"] is None for row in public_history)
    assert all(row["changed_by"] for row in get(base, opened, token).json()["history"])
    # Organisations' counts and the figures.
    orgs = {o["code"]: o["entries"] for o in get(base, "/api/organisations").json()}
    assert sum(orgs.values()) == len(shown)
    one = get(base, f"/api/organisations/{org}").json()
    assert one["entries"] == orgs[org]
    assert get(base, "/api/stats").json()["entries"] == len(shown)
    assert get(base, "/api/stats", token).json()["entries"] == ENTRIES
    # The portal's search page: the total, and no hidden entry's name.
    page = get(base, "/", q="").text
    assert f"<strong>{len(shown)}</strong>" in page
    for code in hidden:  # asked for by its code: nothing found
        assert "<strong>0</strong>" in get(base, "/", q=code).text
    assert "<strong>1</strong>" in get(base, "/", q=shown[0]).text
    assert f"<strong>{ENTRIES}</strong>" in get(base, "/", token).text


@pytest.mark.server
@pytest.mark.slow
def test_dcat_gives_harvesters_the_open_catalogue(district):
    base, token, made = district
    shown = _open(made)

    def datasets(answer: requests.Response) -> set[str]:
        text = answer.text
        return {c for c in made if json.dumps(c)[1:-1] in text or c in text}

    assert datasets(get(base, "/catalog.jsonld")) == set(shown)
    assert datasets(get(base, "/catalog.ttl")) == set(shown)
    assert datasets(get(base, "/catalog.jsonld", token)) == set(made)


# --- the search layer, without a server ---------------------------------------------------
@pytest.mark.slow
def test_search_leaves_hidden_entries_out_of_hits_totals_and_counts(tmp_path: Path):
    workspace, made = _district(tmp_path / "ws")
    shown = _open(made)
    store = Store.open(workspace)
    try:
        anonymous = visible_open_types(Principal.anonymous())
        everything = search(store, "", limit=100)
        assert everything.total == ENTRIES
        result = search(store, "", limit=100, visible=anonymous)
        assert result.total == len(shown)
        assert {h.code for h in result.hits} == set(shown)
        assert sum(c for _, c in result.facets["share_type"]) == len(shown)
        # With the caller's own 开放属性 filter: AND-ed.
        asked = search(
            store, "", facets={"open_type": ["无条件开放", "不予开放"]}, visible=anonymous
        )
        assert asked.total == sum(1 for c in shown if made[c]["open_type"] == "无条件开放")
        # In code order, pages and all.
        listed = search(store, "", limit=7, offset=3, visible=anonymous, order_by="code")
        assert [h.code for h in listed.hits] == shown[3:10]
        assert public_side.code_list(store, Principal.anonymous()) == shown
        # A changed 开放属性 and a new entry: the order and the filter follow.
        directory = Directory(store, user="tester")
        directory.update(shown[0], {"open_type": "不予开放"})
        added = directory.create({**made[shown[1]], "name": "新增开放条目"})
        now_shown = sorted((set(shown) - {shown[0]}) | {added})
        assert public_side.code_list(store, Principal.anonymous()) == now_shown
        page = public_side.entry_page(store, Principal.anonymous(), limit=100)
        assert page.total == len(now_shown)
        assert [e["code"] for e in page.entries] == now_shown
        with pytest.raises(NotFound):
            public_side.check_entry(Principal.anonymous(), directory.get(shown[0]))
        signed_in = Principal(login="li.ming")
        assert public_side.check_entry(signed_in, directory.get(shown[0]))["code"] == shown[0]
        assert len(public_side.code_list(store, signed_in)) == ENTRIES + 1
    finally:
        store.close()


@pytest.mark.slow
def test_the_public_listing_is_cheap(tmp_path: Path):
    """The code order is read once per index state; later pages cost milliseconds."""
    workspace, _ = _district(tmp_path / "ws")
    store = Store.open(workspace)
    try:
        anonymous = Principal.anonymous()
        public_side.code_list(store, anonymous)
        started = time.perf_counter()
        for offset in range(0, 40, 5):
            public_side.entry_page(store, anonymous, limit=5, offset=offset)
        assert time.perf_counter() - started < 1.0
    finally:
        store.close()
