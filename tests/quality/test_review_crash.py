"""A steward's review killed with SIGKILL at each step is all or nothing.

A real process runs ``catalog.reviews.review`` (the use case the CLI, the API and the portal
call) and kills itself at one step: right after the review's intent is recorded, inside the
lake transaction before its commit, right after the lake commit (in the transaction that
completes the review, or in its registration with the entry), and after that transaction,
before the held file is removed. The next command (``mulu quality runs``, a new process) then
finds either the blocked run with its held file, no review, no registration and the live table
as it was (row count and checksum), or the published run with its review, its registration
once and the live table holding the held rows, never a mix; and the steward can carry on.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from loading_fixtures import write_csv, write_spec

from catalog.directory import Directory
from catalog.reviews import review
from quality.gate import load_validated
from quality.runs import get_run
from schemas.errors import Conflict
from schemas.identity import make_id_card
from warehouse.lake import connect_lake
from warehouse.store import Store
from warehouse.workspace import Workspace

pytestmark = [pytest.mark.slow, pytest.mark.both_stores]

REPO = Path(__file__).resolve().parents[2]
TODAY = dt.date(2026, 11, 25)
COLUMNS = [
    {"name": "id_card_no", "source": "身份证号", "pii": "身份证号", "format": "身份证号"},
    {"name": "person_name", "source": "姓名"},
]
HEADER = ["身份证号", "姓名"]


def _card(n: int) -> str:
    return make_id_card("320303", dt.date(1980, 1, 2) + dt.timedelta(days=n), n % 10)


def _bad(card: str) -> str:
    return card[:17] + ("0" if card[17] != "0" else "1")  # a wrong check digit blocks


LIVE_ROWS = [[_card(n), f"居民{n}"] for n in range(6)]
HELD_ROWS = [[_card(n), f"新居民{n}"] for n in range(10, 16)] + [[_bad(_card(16)), "错号"]]

# The review in a process of its own that kills itself at one step (``point``).
_CHILD = f"""
import os, signal, sys
from pathlib import Path
sys.path.insert(0, {str(REPO)!r})
point, home, run_id, action, rule = sys.argv[1:6]

def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

import catalog.reviews, quality.runs
from warehouse.load import commit
from warehouse.store.sql.loads import SqlLoads
if point == "after_intent":  # the pending review is committed; nothing else happened
    quality.runs.commit_held = die
elif point == "before_commit":  # inside the lake transaction, data file in the table
    commit.set_commit_message = die
elif point == "after_commit":  # the lake commit made; the completing transaction is open
    SqlLoads.publish_held = die
elif point == "in_registration":  # ... and has recorded the load, registering it now
    catalog.reviews.register_load = die
elif point == "before_removal":  # the completing transaction committed; held file still there
    quality.runs.remove_held_file = die
else:
    raise SystemExit("unknown point " + point)

from catalog.reviews import review
from warehouse.store import Store
from warehouse.workspace import Workspace

workspace = Workspace(Path(home))
with Store.open(workspace) as store:
    review(store, workspace, run_id, action=action, reviewer="王科长", rule=rule or None)
print("not killed")
"""

PUBLISHED_POINTS = ["after_commit", "in_registration", "before_removal"]
BLOCKED_POINTS = ["after_intent", "before_commit"]


def _mulu(workspace: Workspace, *args: str) -> subprocess.CompletedProcess:
    """``mulu`` of this checkout in a new process."""
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; sys.argv[0] = 'mulu'; from mulu.cli import main; main()",
            "--home",
            str(workspace.root),
            "--user",
            "王科长",
            *args,
        ],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _checksum_sql(relation: str) -> str:
    return f"SELECT count(*), sum(hash(id_card_no, person_name)) FROM {relation}"


def _table(workspace: Workspace) -> tuple[int, int]:
    con = connect_lake(workspace, read_only=True)
    try:
        return con.sql(_checksum_sql("lake.main.dibao")).fetchone()
    finally:
        con.close()


def _file_sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _unreferenced(workspace: Workspace) -> set[str]:
    """Files in the table's folder that no snapshot references."""
    con = connect_lake(workspace, read_only=True)
    try:
        known = {
            Path(row[0]).name
            for row in con.execute(
                "SELECT path FROM __ducklake_metadata_lake.ducklake_data_file"
            ).fetchall()
        }
    finally:
        con.close()
    folder = workspace.lake_dir / "main" / "dibao"
    return {p.name for p in folder.iterdir()} - known


@pytest.fixture
def blocked(workspace: Workspace):
    """A live table (LIVE_ROWS) and a blocked delivery (HELD_ROWS) of an entry's dataset:
    (entry code, run id, held file, the live table's checksum, the held rows' checksum)."""
    with Store.open(workspace) as store:
        code = Directory(store, user="tester").create(
            {
                "name": "城乡低保对象",
                "provider_name": "区民政局",
                "share_type": "有条件共享",
                "update_cycle": "每月",
            }
        )
        source = write_csv(workspace.sources_dir / "民政局" / "低保.csv", HEADER, LIVE_ROWS)
        spec = write_spec(workspace.datasets_dir / "民政局", "dibao", source, columns=COLUMNS)
        spec = spec.model_copy(update={"entry_code": code})
        first = load_validated(store, workspace, spec, today=TODAY, data_docs=False)
        assert first.status == "published"
        write_csv(source, HEADER, HELD_ROWS)
        result = load_validated(store, workspace, spec, today=TODAY, data_docs=False)
        assert result.status == "blocked"
        held = Path(store.loads.get(result.load_id)["held_path"])
        updates = len(store.history.updates(code))
    assert held.exists()
    live = _table(workspace)
    assert live[0] == len(LIVE_ROWS)
    held_sum = duckdb.sql(_checksum_sql(f"read_parquet('{held}')")).fetchone()
    assert held_sum[0] == len(HELD_ROWS)
    return code, result.quality_run_id, held, live, held_sum, updates


def _kill_review(workspace: Workspace, point: str, run_id: str, action: str, rule: str = ""):
    child = subprocess.run(
        [sys.executable, "-c", _CHILD, point, str(workspace.root), run_id, action, rule],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == -signal.SIGKILL, (child.stdout, child.stderr)


def _state(workspace: Workspace, code: str, run_id: str) -> dict:
    with Store.open(workspace) as store:
        run = get_run(store, run_id)
        return {
            "decision": run["decision"],
            "reviews": [(r["action"], r["outcome"]) for r in run["reviews"]],
            "load": run["load"]["status"],
            "updates": [u["load_id"] for u in store.history.updates(code)],
            "pending": store.quality.pending_reviews(),
            "waived": run["waived"],
        }


# The steps where the store's own behaviour is tested (a pending intent committed; killed
# inside the completing transaction after some of its writes; that transaction committed): on
# both stores. The other steps are the lake's, the same whichever store: on SQLite only (each
# case takes seconds of subprocesses).
STORE_CASES = [
    ("after_intent", "waive"),
    ("in_registration", "accept"),
    ("before_removal", "accept"),
]
LAKE_CASES = [
    (point, action)
    for point in BLOCKED_POINTS + PUBLISHED_POINTS
    for action in ("accept", "waive")
    if (point, action) not in STORE_CASES
]


@pytest.mark.sqlite_only
@pytest.mark.parametrize(("point", "action"), LAKE_CASES)
def test_a_review_killed_at_any_step_is_all_or_nothing(workspace, blocked, point, action):
    _killed_review_is_all_or_nothing(workspace, blocked, point, action)


@pytest.mark.parametrize(("point", "action"), STORE_CASES)
def test_a_review_killed_in_the_stores_steps_is_all_or_nothing(workspace, blocked, point, action):
    _killed_review_is_all_or_nothing(workspace, blocked, point, action)


def _killed_review_is_all_or_nothing(workspace, blocked, point, action):
    code, run_id, held, live, held_sum, updates = blocked
    rule = "id_card_no:format" if action == "waive" else ""
    held_sha = _file_sha(held)
    _kill_review(workspace, point, run_id, action, rule)
    # What the dead process left, before any command settles it.
    left = _state(workspace, code, run_id)
    if point == "before_removal":
        assert (left["pending"], left["decision"], held.exists()) == ([], "accepted", True)
    else:
        assert [p["action"] for p in left["pending"]] == [action]
        assert (left["decision"], left["reviews"], left["load"]) == (None, [], "blocked")
        committed = point in PUBLISHED_POINTS
        assert _table(workspace) == (held_sum if committed else live)
        # Killed inside the lake transaction: its data file lies in the table, unreferenced.
        assert bool(_unreferenced(workspace)) == (point == "before_commit")

    # The next command settles what the dead process left.
    listed = _mulu(workspace, "quality", "runs", "--json")
    assert listed.returncode == 0, listed.stderr
    [row] = [r for r in json.loads(listed.stdout) if r["run_id"] == run_id]
    state = _state(workspace, code, run_id)
    assert state["pending"] == []
    if point in BLOCKED_POINTS:
        assert row["decision"] is None
        assert (state["decision"], state["reviews"], state["load"]) == (None, [], "blocked")
        assert state["waived"] == 0  # a waiver comes only with its publish
        assert len(state["updates"]) == updates  # nothing registered
        assert _file_sha(held) == held_sha  # the held rows are intact
        assert _table(workspace) == live  # the live table as it was
        assert _unreferenced(workspace) == set()  # the attempt left no file in the table
        # The steward simply decides again.
        again = _mulu(workspace, "quality", "review", run_id, *_flags(action, rule), "--json")
        assert again.returncode == 0, again.stderr
        state = _state(workspace, code, run_id)
    assert state["decision"] == "accepted"
    [(done, outcome)] = state["reviews"]
    assert done == action
    assert "published as snapshot" in outcome
    assert state["load"] == "published"
    assert state["waived"] == (1 if action == "waive" else 0)
    assert state["updates"].count(run_id) == 1  # registered once (run id = load id)
    assert not held.exists()
    assert _table(workspace) == held_sum
    # Decided is decided: a second review is refused and changes nothing.
    refused = _mulu(workspace, "quality", "review", run_id, "--reject")
    assert refused.returncode == 4
    assert _table(workspace) == held_sum


def _flags(action: str, rule: str) -> list[str]:
    return ["--waive", rule] if action == "waive" else [f"--{action}"]


def test_a_reject_killed_before_removing_the_held_file_is_done(workspace, blocked):
    code, run_id, held, live, _, updates = blocked
    _kill_review(workspace, "before_removal", run_id, "reject")
    assert held.exists()  # the decision is recorded; the file is left over
    shown = _mulu(workspace, "quality", "show", run_id, "--json")
    assert shown.returncode == 0, shown.stderr
    run = json.loads(shown.stdout)
    assert (run["decision"], run["load"]["status"]) == ("rejected", "rejected")
    assert [r["action"] for r in run["reviews"]] == ["reject"]
    assert not held.exists()  # the next command removed it
    assert _table(workspace) == live
    with Store.open(workspace) as store:
        assert len(store.history.updates(code)) == updates


def test_a_refused_publish_records_nothing(workspace, blocked):
    """The held rows gone: the accept is refused (Unavailable) and no review, no waiver and no
    intent are left behind, in the store or the lake."""
    code, run_id, held, live, _, updates = blocked
    held.rename(held.with_suffix(".moved"))
    with Store.open(workspace) as store:
        for action, rule in (("accept", None), ("waive", "id_card_no:format")):
            with pytest.raises(Exception, match="held rows of load") as refused:
                review(store, workspace, run_id, action=action, rule=rule, reviewer="王科长")
            assert refused.value.http_status == 503
            run = get_run(store, run_id)
            assert (run["decision"], run["reviews"], run["waived"]) == (None, [], 0)
            assert store.quality.pending_reviews() == []
        held.with_suffix(".moved").rename(held)
        outcome = review(
            store, workspace, run_id, action="waive", rule="id_card_no:format", reviewer="王科长"
        )
        assert "published as snapshot" in outcome["outcome"]
        with pytest.raises(Conflict, match="accepted already"):
            review(store, workspace, run_id, action="accept", reviewer="王科长")
        assert [u["load_id"] for u in store.history.updates(code)][updates:] == [run_id]


# Reports likewise: a department's report of an update (数据更新) is the event and the entry's
# 最近更新时间 in one transaction, through the API as through the directory.
_REPORT_CHILD = f"""
import datetime as dt, os, signal, sys
from pathlib import Path
sys.path.insert(0, {str(REPO)!r})
from catalog.directory import Directory
from warehouse.workspace import Workspace

def die(*args, **kwargs):  # the event is written, the entry not yet
    os.kill(os.getpid(), signal.SIGKILL)

Directory.update = die
directory = Directory.open(Workspace(Path(sys.argv[1])), user="民政局")
directory.report_update(sys.argv[2], at=dt.datetime(2026, 12, 1, 9, 0))
"""


def test_a_report_killed_half_way_leaves_neither_event_nor_date(workspace):
    with Store.open(workspace) as store:
        code = Directory(store, user="tester").create(
            {
                "name": "城乡低保对象",
                "provider_name": "区民政局",
                "share_type": "有条件共享",
                "update_cycle": "每月",
            }
        )
    child = subprocess.run(
        [sys.executable, "-c", _REPORT_CHILD, str(workspace.root), code],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    with Store.open(workspace) as store:
        assert store.history.updates(code) == []
        assert Directory(store).get(code)["updated_at"] is None


def test_a_report_through_the_api_moves_the_date_with_the_event(workspace):
    from fastapi.testclient import TestClient

    from mulu.web.app import create_app

    with Store.open(workspace) as store:
        code = Directory(store, user="tester").create(
            {
                "name": "城乡低保对象",
                "provider_name": "区民政局",
                "share_type": "有条件共享",
                "update_cycle": "每月",
            }
        )
    from web_users import add_user, bearer

    # The report's author is the signed-in user (a steward here), not the body's reported_by.
    token = add_user(workspace, "民政局", roles=("steward",))
    with TestClient(create_app(workspace), headers=bearer(token)) as client:
        reported = client.post(
            f"/api/entries/{code}/updates",
            json={"at": "2026-12-01T01:30:00Z", "reported_by": "someone else", "note": "11月数据"},
        )
        assert reported.status_code == 201, reported.text
        assert reported.json()["updated_at"] == "2026-12-01T09:30:00"  # catalogue time
        assert client.get(f"/api/entries/{code}").json()["updated_at"] == "2026-12-01T09:30:00"
        [event] = client.get(f"/api/entries/{code}/history").json()["updates"]
        assert (event["updated_at"], event["reported_by"]) == ("2026-12-01T09:30:00", "民政局")
        missing = client.post("/api/entries/399999-999999/updates", json={})
        assert missing.status_code == 404
    with Store.open(workspace) as store:
        assert len(store.history.updates(code)) == 1
