"""CKAN's datastore_search through the real ``ckanapi`` client and a token, against a real
``mulu serve`` (issue 13): the token's user reads the granted columns, PII masked; paging,
fields, filters and _links in CKAN's shape; package_show's resource ids resolve; no grant is
CKAN's NotAuthorized; every call is one audit row (channel ckan)."""

from __future__ import annotations

import datetime as dt
import urllib.parse
from collections.abc import Iterator
from typing import Any

import ckanapi
import pytest
from api_server import serving
from loading_fixtures import ROSTER_HEADER, ROSTER_ROWS, write_csv, write_spec

from catalog.directory import Directory
from catalog.sharing.audit import AuditLog
from catalog.sharing.grants import Grants
from catalog.sharing.users import UserAccounts
from schemas.entry import catalogue_now
from schemas.principal import Principal
from warehouse.lake import connect_lake
from warehouse.load import load_dataset
from warehouse.masking import mask_value
from warehouse.store import Store
from warehouse.workspace import Workspace

pytestmark = [pytest.mark.server, pytest.mark.slow]

MZJ = "11330100MB0000001X"  # 民政局 provides the roster
RSJ = "11330100MB0000002X"  # 人社局 reads it under a grant
CODE = "301005/000012"  # write_spec's entry
GRANTED = ("person_name", "id_card_no", "household_size")
MASKED = ("person_name", "id_card_no")


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[dict[str, Any]]:
    folder = tmp_path_factory.mktemp("ckan-datastore")
    workspace = Workspace(folder / "ws").ensure()
    directory = Directory.open(workspace, user="test")
    try:
        directory.add_organisations(
            [{"code": MZJ, "name": "示范区民政局"}, {"code": RSJ, "name": "示范区人社局"}]
        )
        directory.create(
            {
                "code": CODE,
                "name": "城乡低保对象",
                "provider_name": "示范区民政局",
                "share_type": "有条件共享",
                "update_cycle": "每月",
                "formats": ["csv", "xlsx"],
            }
        )
        roster = write_csv(folder / "exchange" / "roster.csv", ROSTER_HEADER, ROSTER_ROWS)
        load_dataset(workspace, write_spec(workspace.datasets_dir / "mzj", "dibao", roster))
        accounts = UserAccounts(directory.store)
        tokens = {}
        for login, org in (("mzj.officer", MZJ), ("rsj.analyst", RSJ), ("rsj.other", RSJ)):
            accounts.add(login, org=org, name=login, roles=["analyst"], actor="test")
            tokens[login] = accounts.issue_token(login, name="ckan", actor="test").secret
        grant = Grants(directory.store, workspace).create(
            Principal.local_admin("test"),
            dataset="dibao",
            purpose="低保资格复核",
            expires_at=catalogue_now().replace(tzinfo=None) + dt.timedelta(days=30),
            grantee_login="rsj.analyst",
            columns=list(GRANTED),
        )
    finally:
        directory.close()
    with serving(workspace.root) as base:
        yield {"base": base, "workspace": workspace, "tokens": tokens, "grant": grant["id"]}


def remote(site, login: str | None) -> ckanapi.RemoteCKAN:
    return ckanapi.RemoteCKAN(site["base"], apikey=site["tokens"][login] if login else None)


def granted_view(workspace) -> list[dict[str, Any]]:
    con = connect_lake(workspace, read_only=True)
    try:
        rows = con.sql(f"SELECT {', '.join(GRANTED)} FROM lake.main.dibao ORDER BY rowid")
        found = rows.fetchall()
    finally:
        con.close()
    return [
        {
            "_id": i,
            **{c: mask_value(v) if c in MASKED else v for c, v in zip(GRANTED, r, strict=True)},
        }
        for i, r in enumerate(found, 1)
    ]


def ckan_audit(site, login: str) -> list[dict[str, Any]]:
    with Store.open(site["workspace"]) as store:
        return AuditLog(store).entries(limit=None, actor=login, channel="ckan")


def test_a_token_with_a_grant_reads_the_granted_masked_rows(site):
    before = len(ckan_audit(site, "rsj.analyst"))
    found = remote(site, "rsj.analyst").action.datastore_search(resource_id="dibao")
    assert [f["id"] for f in found["fields"]] == ["_id", *GRANTED]
    assert [f["type"] for f in found["fields"]] == ["int", "text", "text", "int"]
    assert found["records"] == granted_view(site["workspace"])
    assert found["records"][0]["id_card_no"] == "010*************14"
    assert found["total"] == len(ROSTER_ROWS)
    assert found["limit"] == 100
    after = ckan_audit(site, "rsj.analyst")
    assert len(after) == before + 1
    assert after[0]["dataset"] == "dibao"
    assert after[0]["rows"] == len(ROSTER_ROWS)
    assert after[0]["grant_id"] == site["grant"]
    assert after[0]["columns"] == list(GRANTED)


def test_package_shows_resource_ids_and_the_package_name_resolve(site):
    client = remote(site, "rsj.analyst")
    package = client.action.package_show(id=CODE.replace("/", "-"))
    expected = granted_view(site["workspace"])
    for resource in package["resources"]:
        found = client.action.datastore_search(resource_id=resource["id"])
        assert found["records"] == expected
    by_name = client.action.datastore_search(resource_id=package["name"])
    assert by_name["records"] == expected


def test_paging_with_limit_offset_and_links(site):
    client = remote(site, "rsj.analyst")
    first = client.action.datastore_search(resource_id="dibao", limit=3)
    assert [r["_id"] for r in first["records"]] == [1, 2, 3]
    assert first["total"] == 4
    link = urllib.parse.urlsplit(first["_links"]["next"])
    assert link.path == "/api/3/action/datastore_search"
    query = dict(urllib.parse.parse_qsl(link.query))
    assert (query["offset"], query["limit"]) == ("3", "3")
    second = client.action.datastore_search(resource_id="dibao", limit=3, offset=3)
    assert first["records"] + second["records"] == granted_view(site["workspace"])


def test_fields_and_filters_narrow_never_widen(site):
    client = remote(site, "rsj.analyst")
    sizes = client.action.datastore_search(resource_id="dibao", fields=["household_size"])
    assert [f["id"] for f in sizes["fields"]] == ["_id", "household_size"]
    assert [r["household_size"] for r in sizes["records"]] == [3, 1, None, 5]
    one = client.action.datastore_search(resource_id="dibao", filters={"household_size": 3})
    assert one["total"] == 1
    assert one["records"][0]["id_card_no"] == "010*************14"
    with pytest.raises(ckanapi.ValidationError):  # not granted: as if not there
        client.action.datastore_search(resource_id="dibao", fields=["monthly_allowance"])
    with pytest.raises(ckanapi.ValidationError):  # masked: filtering would tell clear values
        client.action.datastore_search(resource_id="dibao", filters={"person_name": "张三"})
    with pytest.raises(ckanapi.ValidationError):
        client.action.datastore_search(resource_id="dibao", q="张三")
    lists = client.action.datastore_search(resource_id="dibao", records_format="lists", limit=1)
    assert lists["records"] == [[1, "***", "010*************14", 3]]


def test_without_a_grant_ckan_says_not_authorized(site):
    with pytest.raises(ckanapi.NotAuthorized):
        remote(site, "rsj.other").action.datastore_search(resource_id="dibao")
    # Anonymous: an entry that is not open is not found at all (its existence is not told).
    with pytest.raises(ckanapi.NotFound):
        remote(site, None).action.datastore_search(resource_id="dibao")
    with pytest.raises(ckanapi.NotFound):
        remote(site, "rsj.analyst").action.datastore_search(resource_id="no_such_thing")
    # Nothing was read; the refused try itself is on record.
    assert [e["action"] for e in ckan_audit(site, "rsj.other")] == ["access_denied"]


def test_the_owner_reads_clear_values(site):
    found = remote(site, "mzj.officer").action.datastore_search(resource_id="dibao", limit=1)
    assert found["records"][0]["person_name"] == "张三"
    assert found["records"][0]["monthly_allowance"] == 1250.5
    assert found["mulu"]["basis"] == "owner"
