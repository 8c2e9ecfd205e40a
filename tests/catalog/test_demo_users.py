"""The demo's users (issue 13): one or two per role in the demo district's organisations,
the providing department's officer chosen as the provider of a loaded 有条件共享 dataset, with
the printed demo password (argon2) and a token for the analyst; running the demo again keeps
them and only renews the analyst's demo token. Real store, real argon2."""

from __future__ import annotations

import pytest

from catalog.demo import vocabulary as vocab
from catalog.demo.users import DEMO_PASSWORD, create_demo_users
from catalog.directory import Directory
from catalog.sharing.users import UserAccounts
from schemas.errors import NotFound, Unauthenticated
from schemas.roles import Role

pytestmark = pytest.mark.both_stores

ORGS = {
    "数据局": "11330100MB0000009X",
    "民政局": "11330100MB0000001X",
    "人社局": "11330100MB0000002X",
}


@pytest.fixture
def district(directory: Directory) -> Directory:
    directory.add_organisations(
        [{"code": code, "name": vocab.DISTRICT + short} for short, code in ORGS.items()]
    )
    return directory


def entry(directory: Directory, provider: str, share_type: str) -> str:
    return directory.create(
        {
            "name": f"{provider}的台账",
            "provider_name": vocab.DISTRICT + provider,
            "share_type": share_type,
            "share_condition": "仅限业务使用" if share_type == "有条件共享" else None,
            "update_cycle": "每月",
        }
    )


@pytest.mark.slow
def test_demo_users_per_role_in_real_organisations(district: Directory):
    store = district.store
    unconditional = entry(district, "人社局", "无条件共享")
    conditional = entry(district, "民政局", "有条件共享")
    done = create_demo_users(
        store, actor="local-admin:demo", entry_codes=[unconditional, conditional]
    )
    assert done.created == 5
    assert done.provided_entry == conditional
    by_login = {u["login"]: u for u in done.users}
    assert list(by_login) == ["admin", "data.office", "mzj.officer", "rsj.officer", "rsj.analyst"]
    assert {Role(r) for u in done.users for r in u["roles"]} == set(Role)
    assert by_login["data.office"]["org_name"] == "示范区数据局"
    assert by_login["mzj.officer"]["org_name"] == "示范区民政局"  # provides the 有条件共享 entry
    assert (
        by_login["rsj.analyst"]["org_code"] == by_login["rsj.officer"]["org_code"] == ORGS["人社局"]
    )
    accounts = UserAccounts(store)
    assert accounts.verify_password("mzj.officer", DEMO_PASSWORD)["login"] == "mzj.officer"
    assert store.users.get("admin")["password_hash"].startswith("$argon2id$")
    assert done.token is not None
    assert done.token_login == "rsj.analyst"
    assert accounts.authenticate_token(done.token)["login"] == "rsj.analyst"
    who = accounts.principal("data.office", via="password")
    assert who.has(Role.STEWARD)
    assert who.org_code == ORGS["数据局"]
    assert accounts.events("admin")[0]["actor"] == "local-admin:demo"

    # Again (a re-run of the demo): nothing fails, nobody is added, the token is renewed.
    again = create_demo_users(store, actor="local-admin:demo", entry_codes=[conditional])
    assert again.created == 0
    assert [u["login"] for u in again.users] == list(by_login)
    assert again.token is not None
    assert again.token != done.token
    assert accounts.authenticate_token(again.token)["login"] == "rsj.analyst"
    with pytest.raises(Unauthenticated, match="吊销"):
        accounts.authenticate_token(done.token)
    assert len(store.users.all()) == 5


def test_without_a_conditional_dataset_人社局_provides(district: Directory):
    done = create_demo_users(district.store, actor="t", password=None, token=False)
    assert [u["login"] for u in done.users][2:] == ["rsj.officer", "mzj.officer", "mzj.analyst"]
    assert done.provided_entry is None
    assert done.token is None


def test_demo_users_need_the_demo_district(directory: Directory):
    with pytest.raises(NotFound, match="示范区数据局"):
        create_demo_users(directory.store, actor="t")
    assert directory.store.users.all() == []
