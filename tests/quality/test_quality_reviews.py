"""A steward's review (质量审核) through the one use case, ``catalog.reviews.review``, and through
each application that calls it: the REST API, the portal's form and ``mulu quality review``.
Each error is of one kind everywhere: a missing run is 404 (exit 3) whether it is read or
reviewed, bad input 400 (exit 2), a decided run 409 (exit 4). Real files, GE, lake and store."""

from __future__ import annotations

import datetime as dt
import json
import urllib.parse
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from loading_fixtures import lake_rows, write_csv, write_spec
from typer.testing import CliRunner
from web_users import add_user, bearer, start_session

from catalog.directory import Directory
from catalog.reviews import review
from mulu.cli import app as cli
from mulu.web.app import create_app
from quality.gate import load_validated
from quality.runs import RunNotFound, get_run
from schemas.errors import Conflict
from schemas.identity import make_id_card
from warehouse.store import Store
from warehouse.workspace import Workspace

pytestmark = [pytest.mark.slow, pytest.mark.both_stores]

TODAY = dt.date(2026, 11, 25)
GOOD = make_id_card("320303", dt.date(1980, 1, 2), 5)
BAD = GOOD[:17] + ("0" if GOOD[17] != "0" else "1")  # a wrong check digit blocks the load


@pytest.fixture
def store(workspace: Workspace):
    with Store.open(workspace) as opened:
        yield opened


@pytest.fixture
def blocked(tmp_path: Path, workspace: Workspace, store: Store):
    """A catalogue entry and a load of its dataset that the gate blocked: (entry code, run id)."""
    code = Directory(store, user="tester").create(
        {
            "name": "城乡低保对象",
            "provider_name": "区民政局",
            "share_type": "有条件共享",
            "update_cycle": "每月",
        }
    )
    source = write_csv(
        tmp_path / "exchange" / "低保.csv", ["身份证号", "姓名"], [[GOOD, "张三"], [BAD, "李四"]]
    )
    spec = write_spec(
        tmp_path / "specs",
        "dibao",
        source,
        primary_key=["id_card_no"],
        columns=[
            {"name": "id_card_no", "source": "身份证号", "pii": "身份证号", "format": "身份证号"},
            {"name": "person_name", "source": "姓名"},
        ],
    )
    spec = spec.model_copy(update={"entry_code": code})
    result = load_validated(store, workspace, spec, today=TODAY, data_docs=False)
    assert result.status == "blocked"
    return code, result.quality_run_id


def test_accepting_publishes_the_held_load_and_registers_it_with_its_entry(
    workspace, store, blocked
):
    code, run_id = blocked
    outcome = review(
        store, workspace, run_id[:12], action="accept", reviewer="王科长", note="已电话核实"
    )
    assert outcome["run_id"] == run_id
    assert outcome["outcome"] == f"published as snapshot {outcome['snapshot_id']}"
    assert len(lake_rows(workspace, "dibao")) == 2
    [update] = store.history.updates(code)
    assert (update["source"], update["load_id"]) == ("pipeline", run_id)  # run id = load id
    assert Directory(store).get(code)["updated_at"] is not None
    run = get_run(store, run_id)
    assert [(r["action"], r["reviewer"], r["note"]) for r in run["reviews"]] == [
        ("accept", "王科长", "已电话核实")
    ]
    with pytest.raises(Conflict, match="accepted already"):
        review(store, workspace, run_id, action="reject", reviewer="王科长")
    assert len(store.history.updates(code)) == 1


def test_waiving_the_last_blocking_failure_publishes_and_registers(workspace, store, blocked):
    code, run_id = blocked
    outcome = review(
        store,
        workspace,
        run_id,
        action="waive",
        rule="id_card_no:format",
        reviewer="王科长",
        note="旧证号",
    )
    assert "published as snapshot" in outcome["outcome"]
    assert outcome["snapshot_id"] is not None
    assert [u["load_id"] for u in store.history.updates(code)] == [run_id]


def test_rejecting_registers_nothing(workspace, store, blocked):
    code, run_id = blocked
    outcome = review(store, workspace, run_id, action="reject", reviewer="王科长")
    assert "snapshot_id" not in outcome
    assert store.history.updates(code) == []
    assert get_run(store, run_id)["load"]["status"] == "rejected"


def test_the_api_answers_each_error_with_its_status(workspace, blocked):
    _, run_id = blocked
    steward = bearer(add_user(workspace, "wang.kz", roles=("steward",)))
    officer = bearer(add_user(workspace, "officer", roles=("officer",)))
    with TestClient(create_app(workspace), headers=steward) as client:
        missing = client.get("/api/quality/runs/nope")
        assert missing.status_code == 404
        assert "no quality run 'nope'" in missing.json()["detail"]
        missing = client.post(
            "/api/quality/runs/nope/reviews", json={"action": "accept", "reviewer": "王科长"}
        )
        assert missing.status_code == 404  # the same as reading it, not 409
        assert "no quality run 'nope'" in missing.json()["detail"]

        reviews = f"/api/quality/runs/{run_id}/reviews"
        passed_rule = client.post(reviews, json={"action": "waive", "rule": "person_name:type"})
        assert passed_rule.status_code == 400, passed_rule.text
        no_rule = client.post(reviews, json={"action": "waive", "rule": "no_such_rule"})
        assert no_rule.status_code == 404
        # Only a steward decides: anonymous 401, an officer 403; an officer of another
        # organisation than the provider's may not even read the run (its failing rows).
        anonymous = client.post(reviews, json={"action": "accept"}, headers={"Authorization": ""})
        assert anonymous.status_code == 401
        assert client.post(reviews, json={"action": "accept"}, headers=officer).status_code == 403
        assert client.get(reviews.removesuffix("/reviews"), headers=officer).status_code == 403

        # The body's reviewer is ignored: the review records the authenticated steward.
        accepted = client.post(reviews, json={"action": "accept", "reviewer": "某某"})
        assert accepted.status_code == 201
        assert accepted.json()["snapshot_id"] is not None
        again = client.post(reviews, json={"action": "reject"})
        assert again.status_code == 409
        assert "accepted already" in again.json()["detail"]
        run = client.get(f"/api/quality/runs/{run_id[:10]}").json()
        assert run["decision"] == "accepted"
        assert [r["reviewer"] for r in run["reviews"]] == ["wang.kz"]


def test_the_portal_shows_the_message(workspace, blocked):
    _, run_id = blocked
    add_user(workspace, "wang.kz", roles=("steward",))
    secret, csrf = start_session(workspace, "wang.kz")
    with TestClient(create_app(workspace), cookies={"mulu_session": secret}) as client:
        missing = client.get("/quality/nope")
        assert missing.status_code == 404
        assert "no quality run" in missing.text
        missing = client.post("/quality/nope/review", data={"action": "accept", "csrf_token": csrf})
        assert missing.status_code == 404
        # Without the form's CSRF token the post is refused before anything is decided.
        forged = client.post(f"/quality/{run_id}/review", data={"action": "accept"})
        assert forged.status_code == 403

        refused = client.post(
            f"/quality/{run_id}/review",
            follow_redirects=False,
            data={"action": "waive", "rule": "person_name:type", "csrf_token": csrf},
        )
        assert refused.status_code == 303
        # The message is kept server-side (a signed cookie), never put in the URL.
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(refused.headers["location"]).query)
        assert set(query) == {"lang"}
        page = client.get(refused.headers["location"])
        assert page.status_code == 200
        assert 'id="error"' in page.text
        assert "not a failed expectation" in page.text
        assert "not a failed expectation" not in client.get(refused.headers["location"]).text

        done = client.post(
            f"/quality/{run_id}/review",
            follow_redirects=False,
            data={"action": "accept", "csrf_token": csrf},
        )
        assert "flash" not in done.headers["location"]
        page = client.get(done.headers["location"])
        assert "published as snapshot" in page.text
        assert "wang.kz" in page.text  # the reviewer recorded is the signed-in steward


def test_the_cli_exits_with_each_errors_code(workspace, blocked):
    code, run_id = blocked
    runner = CliRunner()

    def mulu(*args: str):
        return runner.invoke(cli, ["--home", str(workspace.root), "--user", "王科长", *args])

    assert mulu("quality", "show", "nope").exit_code == 3
    assert mulu("quality", "review", "nope", "--accept").exit_code == 3
    assert mulu("quality", "review", run_id, "--waive", "no_such_rule").exit_code == 3
    assert mulu("quality", "review", run_id, "--waive", "person_name:type").exit_code == 2
    done = mulu("quality", "review", run_id, "--accept", "--json")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["snapshot_id"] is not None
    again = mulu("quality", "review", run_id, "--reject")
    assert again.exit_code == 4
    assert "accepted already" in again.output
    with Store.open(workspace) as store:
        assert [u["load_id"] for u in store.history.updates(code)] == [run_id]
        with pytest.raises(RunNotFound):
            get_run(store, "nope")
