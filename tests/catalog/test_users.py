"""Identities and roles (issue 13): users of an organisation, roles, argon2 passwords, API
tokens; every change logged with its actor. Real store in a tmp workspace."""

from __future__ import annotations

import datetime as dt
import json

import psycopg
import pytest
from typer.testing import CliRunner

from catalog.directory import Directory
from catalog.sharing.users import LOCAL_ADMIN, UserAccounts, token_hash
from mulu.cli import app
from schemas.errors import Conflict, Forbidden, InvalidInput, NotFound
from schemas.roles import Role
from warehouse.settings import Settings
from warehouse.store import Store

pytestmark = pytest.mark.both_stores

ORG = "11330100MB0000001X"
PASSWORD = "正确的马电池订书钉-2026"


@pytest.fixture
def accounts(directory: Directory) -> UserAccounts:
    directory.add_organisations([{"code": ORG, "name": "市民政局"}])
    return UserAccounts(directory.store)


def test_add_list_disable(accounts: UserAccounts):
    user = accounts.add("li.ming", org=ORG, name="李明", actor="admin-wang", roles=["steward"])
    assert user["org_code"] == ORG
    assert user["active"]
    assert user["roles"] == ["steward"]
    assert user["created_by"] == "admin-wang"
    assert "password_hash" not in user
    accounts.add("zhao", org=ORG, name="赵", actor="admin-wang", roles=["分析员"])
    assert [u["login"] for u in accounts.all()] == ["li.ming", "zhao"]
    assert accounts.all()[1]["roles"] == ["analyst"]
    assert not accounts.disable("zhao", actor="admin-wang")["active"]
    assert accounts.get("zhao")["active"] is False


def test_duplicate_login_unknown_org_short_password_bad_role(accounts: UserAccounts):
    accounts.add("li", org=ORG, name="李", actor="a")
    with pytest.raises(Conflict):
        accounts.add("li", org=ORG, name="李二", actor="a")
    with pytest.raises(NotFound):
        accounts.add("qian", org="NOPE", name="钱", actor="a")
    with pytest.raises(InvalidInput, match="至少需要 10 个字符"):
        accounts.add("sun", org=ORG, name="孙", actor="a", password="short")
    with pytest.raises(InvalidInput, match="未知角色"):
        accounts.add("zhou", org=ORG, name="周", actor="a", roles=["boss"])
    assert [u["login"] for u in accounts.all()] == ["li"]


@pytest.mark.slow
def test_password_is_an_argon2_hash_never_clear_text(accounts: UserAccounts, workspace):
    accounts.add("li", org=ORG, name="李", actor="a", password=PASSWORD)
    assert accounts.verify_password("li", PASSWORD)["login"] == "li"
    with pytest.raises(Forbidden):
        accounts.verify_password("li", PASSWORD + "x")
    with pytest.raises(Forbidden):
        accounts.verify_password("nobody", PASSWORD)
    stored = accounts.store.users.get("li")
    assert stored is not None
    assert stored["password_hash"].startswith("$argon2id$")
    issued = accounts.issue_token("li", name="ci", actor="a")
    # analysts' SQL sessions never see the users' tables (the hashes stay in the store)
    shown = set(accounts.store.export.table_names())
    assert not shown & {"users", "user_roles", "api_tokens", "user_events"}
    accounts.store.close()  # checkpoint: every byte is in the main file
    raw = _everything_stored(workspace)
    assert PASSWORD.encode() not in raw
    assert issued.secret.encode() not in raw
    assert token_hash(issued.secret).encode() in raw


def _everything_stored(workspace) -> bytes:
    """Every byte the store keeps: SQLite's files, or every row of every PostgreSQL table."""
    url = Settings.load(workspace).database_url
    if not url:
        files = workspace.metadata_db.parent.glob("catalog.sqlite*")
        return b"".join(p.read_bytes() for p in files)
    with psycopg.connect(url) as con:
        tables = [
            name
            for (name,) in con.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            )
        ]
        assert {"users", "api_tokens", "user_events"} <= set(tables)
        text = [
            str(row[0])
            for table in tables
            for row in con.execute(f'SELECT t::text FROM "{table}" t')  # type: ignore[arg-type]
        ]
    return "\n".join(text).encode()


def test_a_tokens_last_use_is_written_once_a_minute_not_per_request(accounts: UserAccounts):
    accounts.add("li", org=ORG, name="李", actor="a")
    issued = accounts.issue_token("li", name="etl", actor="a", days=30)
    start = dt.datetime(2026, 12, 7, 9, 30, 5)
    at = {"now": start}
    clocked = UserAccounts(accounts.store, clock=lambda: at["now"])

    def last_used() -> str:
        (listed,) = accounts.tokens("li")
        return str(listed["last_used_at"])

    clocked.authenticate_token(issued.secret)
    assert last_used() == start.isoformat()
    at["now"] = start + dt.timedelta(seconds=40)  # the same minute: no write
    clocked.authenticate_token(issued.secret)
    assert last_used() == start.isoformat()
    at["now"] = start + dt.timedelta(seconds=60)  # the next minute: written
    clocked.authenticate_token(issued.secret)
    assert last_used() == (start + dt.timedelta(seconds=60)).isoformat()


def test_disabled_user_cannot_log_in(accounts: UserAccounts):
    accounts.add("li", org=ORG, name="李", actor="a", password=PASSWORD)
    accounts.disable("li", actor="a")
    with pytest.raises(Forbidden, match="已停用"):
        accounts.verify_password("li", PASSWORD)


def test_token_round_trip_expiry_revocation_disabled_user(accounts: UserAccounts):
    accounts.add("li", org=ORG, name="李", actor="a")
    issued = accounts.issue_token("li", name="etl", actor="a", days=30)
    assert accounts.authenticate_token(issued.secret)["login"] == "li"
    (listed,) = accounts.tokens("li")
    assert listed["name"] == "etl"
    assert listed["last_used_at"] is not None
    assert "token_hash" not in listed
    assert issued.secret not in json.dumps(listed)
    with pytest.raises(Forbidden):
        accounts.authenticate_token("not-a-token")

    later = UserAccounts(accounts.store, clock=lambda: dt.datetime.now() + dt.timedelta(days=31))
    with pytest.raises(Forbidden, match="过期"):
        later.authenticate_token(issued.secret)

    accounts.revoke_token(issued.id, actor="b")
    with pytest.raises(Forbidden, match="吊销"):
        accounts.authenticate_token(issued.secret)
    assert accounts.tokens("li")[0]["revoked_by"] == "b"

    other = accounts.issue_token("li", name="second", actor="a")
    accounts.disable("li", actor="a")
    with pytest.raises(Forbidden, match="已停用"):
        accounts.authenticate_token(other.secret)
    with pytest.raises(NotFound):
        accounts.revoke_token(999, actor="a")


def test_roles_granted_and_revoked_every_change_has_its_actor(accounts: UserAccounts):
    accounts.add("li", org=ORG, name="李", actor="admin-wang", roles=[Role.OFFICER])
    assert accounts.grant_role("li", "数据管理员", actor="admin-zhang")["roles"] == [
        "officer",
        "steward",
    ]
    accounts.grant_role("li", "steward", actor="admin-zhang")  # held already: no change
    assert accounts.revoke_role("li", "officer", actor="admin-wang")["roles"] == ["steward"]
    issued = accounts.issue_token("li", name="ci", actor="admin-zhang")
    accounts.revoke_token(issued.id, actor="admin-wang")
    accounts.set_password("li", PASSWORD, actor="li")
    accounts.disable("li", actor="admin-zhang")
    accounts.enable("li", actor="admin-wang")
    events = [(e["action"], e["detail"].split(" ")[0], e["actor"]) for e in accounts.events("li")]
    assert events == [
        ("add", f"org={ORG}", "admin-wang"),
        ("grant", "officer", "admin-wang"),
        ("grant", "steward", "admin-zhang"),
        ("revoke", "officer", "admin-wang"),
        ("token", f"id={issued.id}", "admin-zhang"),
        ("revoke_token", f"id={issued.id}", "admin-wang"),
        ("password", "", "li"),
        ("disable", "", "admin-zhang"),
        ("enable", "", "admin-wang"),
    ]
    assert all(e["at"] for e in accounts.events("li"))


def test_actor_is_an_active_user_or_the_local_admin(accounts: UserAccounts):
    assert accounts.actor(None).startswith(f"{LOCAL_ADMIN}:")
    accounts.add("li", org=ORG, name="李", actor="a")
    assert accounts.actor("li") == "li"
    with pytest.raises(NotFound):
        accounts.actor("nobody")
    accounts.disable("li", actor="a")
    with pytest.raises(Forbidden):
        accounts.actor("li")


@pytest.mark.slow
def test_cli_add_with_password_stdin_then_token(accounts: UserAccounts, workspace):
    accounts.store.close()
    runner = CliRunner()
    home = ["--home", str(workspace.root)]
    # No users yet: local mode (the name in MULU_USER, as admin) adds the first user.
    local = {"MULU_USER": "bootstrap", "MULU_PASSWORD": None, "MULU_TOKEN": None}
    done = runner.invoke(
        app,
        [
            *home,
            "users",
            "add",
            "li",
            "--org",
            ORG,
            "--name",
            "李明",
            "--role",
            "steward",
            "--password-stdin",
        ],
        input=PASSWORD + "\n",
        env=local,
    )
    assert done.exit_code == 0, done.output
    # Now the workspace has users: the CLI acts as a signed-in user (mulu --user LOGIN).
    done = runner.invoke(
        app, [*home, "users", "add", "li", "--org", ORG, "--name", "李"], env=local
    )
    assert done.exit_code == Forbidden.exit_code, done.output
    signed_in = {**local, "MULU_PASSWORD": PASSWORD}
    done = runner.invoke(
        app,
        [*home, "--user", "li", "users", "token", "li", "--name", "ci", "--json"],
        env=signed_in,
    )
    assert done.exit_code == 0, done.output
    secret = json.loads(done.stdout)["secret"]
    done = runner.invoke(app, [*home, "--token", secret, "users", "list", "--json"], env=local)
    (listed,) = json.loads(done.stdout)
    assert listed["roles"] == ["steward"]
    assert listed["created_by"] == "bootstrap"
    done = runner.invoke(
        app, [*home, "--local-admin", "users", "add", "li", "--org", ORG, "--name", "李"]
    )
    assert done.exit_code == Conflict.exit_code

    with Store.open(workspace) as store:
        checked = UserAccounts(store)
        assert checked.authenticate_token(secret)["login"] == "li"
        assert checked.verify_password("li", PASSWORD)["login"] == "li"
        assert checked.tokens("li")[0]["created_by"] == "li"


@pytest.mark.slow
def test_a_new_password_or_disabling_ends_the_users_portal_sessions(accounts: UserAccounts):
    """Whoever opened a session with the old password (or stole its cookie) is signed out by
    the change; a disabled user's sessions end as the user is disabled, not at their next
    request."""
    from catalog.sharing.sessions import PortalSessions

    accounts.add("li", org=ORG, name="李", actor="a", password=PASSWORD)
    accounts.add("wang", org=ORG, name="王", actor="a", password=PASSWORD)
    sessions = PortalSessions(accounts.store)
    old, _ = sessions.start("li", via="password", remote="10.0.0.1")
    other, _ = sessions.start("wang", via="password", remote="10.0.0.2")
    accounts.set_password("li", PASSWORD + "-2", actor="li")
    assert sessions.resolve(old) is None
    assert sessions.live("li") == []
    assert sessions.resolve(other) is not None  # another user's session is untouched
    new, _ = sessions.start("li", via="password", remote="10.0.0.1")
    assert sessions.resolve(new) is not None
    accounts.disable("li", actor="a")
    assert sessions.live("li") == []
    accounts.enable("li", actor="a")
    assert sessions.resolve(new) is None  # enabling again does not revive a session
