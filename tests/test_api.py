"""The HTTP API against a real ``mulu serve`` on 127.0.0.1: REST, DCAT, freshness, quality,
and the CKAN Action API through the real ``ckanapi`` client."""

from __future__ import annotations

import datetime as dt
import urllib.parse

import pytest
import rdflib
from api_server import get_json, post_json, serving

from catalog.directory import Directory
from catalog.importing.importer import import_file
from warehouse.workspace import Workspace


@pytest.fixture(scope="module")
def served(tmp_path_factory, real_data):
    workspace = Workspace(tmp_path_factory.mktemp("api") / "ws").ensure()
    directory = Directory.open(workspace, user="tester")
    try:
        import_file(directory, workspace, real_data / "cn-portals" / "anhui_luan.json")
        code = directory.create({"name": "城乡低保对象名单", "provider_name": "示范区民政局",
                                 "share_type": "有条件共享", "update_cycle": "每月",
                                 "summary": "民政局每月汇总的城乡最低生活保障对象",
                                 "formats": ["csv"], "tags": ["社会救助"],
                                 "updated_at": dt.datetime(2025, 1, 5)})
    finally:
        directory.close()
    with serving(workspace.root) as base:
        yield base, workspace, code


def quoted(code: str) -> str:
    return urllib.parse.quote(code, safe="")


def test_entries_and_organisations(served):
    base, _, code = served
    listed = get_json(f"{base}/api/entries?limit=5")
    assert listed["total"] == 549 and len(listed["entries"]) == 5
    entry = get_json(f"{base}/api/entries/{code}")
    assert entry["name"] == "城乡低保对象名单" and entry["formats"] == ["csv"]
    assert get_json(f"{base}/api/entries/{code.replace('/', '-')}")["code"] == code
    orgs = get_json(f"{base}/api/organisations")
    by_name = {o["name"]: o for o in orgs}
    assert by_name["六安市市场监管局"]["entries"] > 0
    org = get_json(f"{base}/api/organisations/{quoted('示范区民政局')}")
    assert org["entries"] == 1
    history = get_json(f"{base}/api/entries/{code}/history")
    assert history["history"][0]["action"] == "create"
    openapi = get_json(f"{base}/api/openapi.json")
    assert "/api/quality/runs/{run_id}/reviews" in openapi["paths"]


def test_freshness_and_a_reported_update(served):
    base, _, code = served
    before = get_json(f"{base}/api/freshness?org={quoted('示范区民政局')}")
    assert [e["status"] for e in before["entries"]] == ["overdue"]
    status, body = post_json(f"{base}/api/entries/{code}/updates",
                             {"reported_by": "民政局", "note": "11月数据已更新"})
    assert status == 201 and body["code"] == code
    after = get_json(f"{base}/api/freshness?org={quoted('示范区民政局')}")
    assert [e["status"] for e in after["entries"]] == ["fresh"]
    card = get_json(f"{base}/api/freshness/scorecard")
    assert {r["provider_name"] for r in card} >= {"示范区民政局"}
    status, _ = post_json(f"{base}/api/entries/399999-999999/updates", {})
    assert status == 404


def test_dcat_catalogue_as_json_ld_and_turtle(served):
    base, _, _ = served
    import urllib.request
    turtle = urllib.request.urlopen(f"{base}/catalog.ttl", timeout=60).read().decode()
    graph = rdflib.Graph().parse(data=turtle, format="turtle")
    dcat = rdflib.Namespace("http://www.w3.org/ns/dcat#")
    assert len(set(graph.subjects(rdflib.RDF.type, dcat.Dataset))) == 549
    jsonld = get_json(f"{base}/catalog.jsonld")
    assert "@graph" in jsonld


def test_quality_endpoints_answer_without_runs(served):
    base, _, _ = served
    assert get_json(f"{base}/api/quality/runs") == []
    status, body = post_json(f"{base}/api/quality/runs/nope/reviews",
                             {"action": "accept", "reviewer": "王科长"})
    assert status == 409 and "no quality run" in body["detail"]
def test_ckanapi_client_against_mulu(served):
    import ckanapi

    base, _, code = served
    ckan = ckanapi.RemoteCKAN(base)
    names = ckan.action.package_list()
    assert len(names) == 549 and code.replace("/", "-") in names
    package = ckan.action.package_show(id=code.replace("/", "-"))
    assert package["title"] == "城乡低保对象名单"
    assert package["organization"]["title"] == "示范区民政局"
    assert {e["key"]: e["value"] for e in package["extras"]}["update_cycle"] == "每月"
    assert [r["format"] for r in package["resources"]] == ["CSV"]
    orgs = ckan.action.organization_list(all_fields=True)
    assert any(o["title"] == "六安市市场监管局" and o["package_count"] > 0 for o in orgs)
    org = ckan.action.organization_show(id=package["organization"]["name"])
    assert org["package_count"] == 1
    with pytest.raises(ckanapi.NotFound):
        ckan.action.package_show(id="no-such-package")
    found = ckan.action.package_search(q="低保", rows=5)
    assert found["count"] >= 1 and found["results"][0]["id"] == code
    # GET-only clients too (as a browser or curl would call it).
    ckan_get = ckanapi.RemoteCKAN(base, get_only=True)
    assert ckan_get.action.package_show(id=code)["id"] == code


def test_portal_search_page_or_s_values_of_one_facet(served):
    import re
    import urllib.error
    import urllib.request

    base, _, _ = served

    def total(query: str) -> int:
        with urllib.request.urlopen(f"{base}/?{query}", timeout=30) as response:
            page = response.read().decode()
        return int(re.search(r'<p id="total"><strong>(\d+)</strong>', page).group(1))

    share = urllib.parse.quote("share_type=")
    one, other = urllib.parse.quote("无条件共享"), urllib.parse.quote("有条件共享")
    either = total(f"facet={share}{one}&facet={share}{other}")
    assert either == total(f"facet={share}{one}") + total(f"facet={share}{other}") > 0
    with pytest.raises(urllib.error.HTTPError) as error:
        total(f"facet={urllib.parse.quote('colour=red')}")
    assert error.value.code == 400
