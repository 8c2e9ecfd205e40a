"""The ``mulu`` resource: Dagster hands the assets the workspace and one store per run through
the Definitions, not through closures; the code location reads MULU_HOME when it loads."""

from __future__ import annotations

import sqlite3

import dagster as dg
import pytest

from pipelines.definitions import build_definitions, defs
from pipelines.resources import MULU, MuluResource
from schemas.errors import Unavailable
from warehouse.store.store import Store


def test_every_asset_gets_the_workspace_from_the_mulu_resource(workspace):
    definitions, problems = build_definitions(workspace)
    assert problems == []
    resource = definitions.resources[MULU]
    assert isinstance(resource, MuluResource)
    assert resource.workspace == workspace
    assert definitions.assets  # the freshness sweep and scorecard, even without datasets
    for asset in definitions.assets:
        assert MULU in asset.required_resource_keys, asset.keys


def test_the_code_location_reads_mulu_home_when_it_loads(workspace, monkeypatch):
    monkeypatch.setenv("MULU_HOME", str(workspace.root))
    loaded = defs.load_fn()
    assert loaded.resources[MULU].home == str(workspace.root)


@pytest.mark.slow
def test_a_run_shares_one_store_and_closes_it_at_the_end(workspace):
    stores: list[Store] = []

    @dg.asset
    def first(mulu: MuluResource) -> None:
        stores.append(mulu.store)
        code = mulu.directory().create(
            {"name": "城乡低保对象", "provider_name": "区民政局", "share_type": "有条件共享"}
        )
        assert mulu.store.entries.get(code)["name"] == "城乡低保对象"

    @dg.asset(deps=[first])
    def second(mulu: MuluResource) -> None:
        stores.append(mulu.store)

    result = dg.materialize(
        [first, second], resources={MULU: MuluResource.for_workspace(workspace)}
    )
    assert result.success
    assert len(stores) == 2
    assert stores[0] is stores[1]
    # closed when the run ended
    with pytest.raises((RuntimeError, sqlite3.ProgrammingError)), stores[0].snapshot():
        pass
    with pytest.raises(Unavailable, match="only while a Dagster run"):
        _ = MuluResource.for_workspace(workspace).store
    with Store.open(workspace) as store:  # what the run wrote is committed
        assert [e["name"] for e in store.entries.iter()] == ["城乡低保对象"]
