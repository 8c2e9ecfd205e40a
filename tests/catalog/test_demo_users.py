"""The demo's users (issue 13): one or two per role in the demo district's organisations,
with the printed demo password (argon2) and a token for the analyst; running the demo again
keeps them and only renews the analyst's demo token. Real store, real argon2."""

from __future__ import annotations

import pytest

from catalog.demo import vocabulary as vocab
from catalog.demo.users import ANALYST_LOGIN, DEMO_PASSWORD, DEMO_USERS, create_demo_users
from catalog.directory import Directory
from catalog.sharing.users import UserAccounts
from schemas.errors import NotFound, Unauthenticated
from schemas.roles import Role

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


@pytest.mark.slow
def test_demo_users_per_role_in_real_organisations(district: Directory):
    store = district.store
    done = create_demo_users(store, actor="local-admin:demo")
    assert done.created == len(DEMO_USERS) == 5
    by_login = {u["login"]: u for u in done.users}
    assert {Role(r) for u in done.users for r in u["roles"]} == set(Role)
    assert by_login["data.office"]["org_name"] == "示范区数据局"
    assert by_login["mzj.officer"]["org_name"] == "示范区民政局"  # provides 低保
    assert (
        by_login["rsj.analyst"]["org_code"] == by_login["rsj.officer"]["org_code"] == ORGS["人社局"]
    )
    accounts = UserAccounts(store)
    assert accounts.verify_password("mzj.officer", DEMO_PASSWORD)["login"] == "mzj.officer"
    assert store.users.get("admin")["password_hash"].startswith("$argon2id$")
    assert done.token is not None
    assert accounts.authenticate_token(done.token)["login"] == ANALYST_LOGIN
    who = accounts.principal("data.office", via="password")
    assert who.has(Role.STEWARD)
    assert who.org_code == ORGS["数据局"]
    assert accounts.events("admin")[0]["actor"] == "local-admin:demo"

    # Again (a re-run of the demo): nothing fails, nobody is added, the token is renewed.
    again = create_demo_users(store, actor="local-admin:demo")
    assert again.created == 0
    assert [u["login"] for u in again.users] == [u.login for u in DEMO_USERS]
    assert again.token is not None
    assert again.token != done.token
    assert accounts.authenticate_token(again.token)["login"] == ANALYST_LOGIN
    with pytest.raises(Unauthenticated, match="吊销"):
        accounts.authenticate_token(done.token)
    assert len(store.users.all()) == 5


def test_demo_users_need_the_demo_district(directory: Directory):
    with pytest.raises(NotFound, match="示范区数据局"):
        create_demo_users(directory.store, actor="t")
    assert directory.store.users.all() == []
