"""Single sign-on logins begun live in the store (issue 14): the provider may send the browser
back to another server process, or to a server restarted meanwhile. Each login begun through one
store is taken through another (as another worker would), exactly once, even when two take it
at the same moment; the flash cookies' key is the same for every process of one store. On
SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
import time

import pytest

from catalog.sharing.oidc import PendingLogins
from schemas.errors import Unauthenticated
from warehouse.store import Store
from warehouse.workspace import Workspace

pytestmark = pytest.mark.both_stores


def test_a_login_begun_by_one_worker_is_taken_by_another_once(workspace: Workspace):
    with Store.open(workspace) as first:
        begun = PendingLogins(first).begin(
            "browser-1", next_url="/quality", redirect_uri="http://127.0.0.1/cb"
        )
    # The first worker is gone (closed store); another one answers the callback.
    with Store.open(workspace) as second:
        logins = PendingLogins(second)
        taken = logins.take(begun.state, "browser-1")
        assert taken == begun
        with pytest.raises(Unauthenticated, match="过期"):  # used once
            logins.take(begun.state, "browser-1")
        assert logins.count() == 0


def test_two_workers_taking_one_login_at_once_sign_in_one(workspace: Workspace):
    stores = [Store.open(workspace) for _ in range(4)]
    try:
        begun = PendingLogins(stores[0]).begin("b", next_url="/", redirect_uri="http://x/cb")
        results: list[str] = []
        start = threading.Barrier(len(stores))

        def take(store: Store) -> None:
            start.wait()
            try:
                PendingLogins(store).take(begun.state, "b")
                results.append("signed in")
            except Unauthenticated:
                results.append("refused")

        threads = [threading.Thread(target=take, args=(store,)) for store in stores]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert sorted(results) == ["refused"] * (len(stores) - 1) + ["signed in"]
    finally:
        for store in stores:
            store.close()


def test_expired_and_surplus_logins_go_when_the_next_begins(workspace: Workspace):
    with Store.open(workspace) as store:
        logins = PendingLogins(store, most=3)
        states = [logins.begin(f"b{n}", next_url="/", redirect_uri="x").state for n in range(5)]
        assert logins.count() == 3
        with pytest.raises(Unauthenticated):  # the oldest went first
            logins.take(states[0], "b0")
        assert logins.take(states[4], "b4").state == states[4]
        time.sleep(0.01)
        short = PendingLogins(store, ttl=0.005)
        short.begin("late", next_url="/", redirect_uri="x")  # drops every older one
        assert short.count() == 1


def test_every_worker_signs_flash_cookies_with_the_same_key(workspace: Workspace):
    with Store.open(workspace) as one, Store.open(workspace) as two:
        key = one.web_state.key("flash", "aa" * 32, "2026-01-01T00:00:00+00:00")
        assert key == "aa" * 32
        assert two.web_state.key("flash", "bb" * 32, "2026-01-01T00:00:01+00:00") == key
        assert two.web_state.key("other", "cc" * 32, "2026-01-01T00:00:01+00:00") == "cc" * 32
