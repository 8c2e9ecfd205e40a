"""Freshness: hand-computed deadlines and statuses, the vectorised sweep against the Python
reference, real portal data, reports, past days, policies and the scorecard."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from catalog.freshness.policies import entry_status, parse_duration, set_policy
from catalog.freshness.scorecard import dashboard, export_scorecard, on_time_trend, scorecard
from catalog.freshness.sla import Policy, Status, add_period
from catalog.freshness.sweep import save_day, statuses, summary, swept
from catalog.importing.importer import import_file
from schemas.cycles import parse_update_cycle
from schemas.errors import InvalidInput, NotFound
from warehouse import freshness_sweep

# Doubled on PostgreSQL: the tests of what the store keeps (policies, update history, the
# sweep's catalogue read); the sweep's date arithmetic, the real portal files and the CLI run
# on SQLite only (the module took over 20 s on PostgreSQL).

T = dt.datetime

# (更新周期, 最近更新时间, deadline by hand) around month ends, leap years and quarters.
DEADLINES = [
    ("每月", T(2024, 1, 31, 10), T(2024, 2, 29, 10)),  # leap February
    ("每月", T(2025, 1, 31, 10), T(2025, 2, 28, 10)),  # common February
    ("每月", T(2026, 3, 31, 8), T(2026, 4, 30, 8)),  # 30-day month
    ("每月", T(2026, 12, 15), T(2027, 1, 15)),  # year end
    ("每季度", T(2026, 11, 30), T(2027, 2, 28)),  # quarter into February
    ("每季度", T(2023, 11, 30), T(2024, 2, 29)),  # … of a leap year
    ("每季度", T(2026, 8, 31, 23, 59, 59), T(2026, 11, 30, 23, 59, 59)),
    ("每半年", T(2026, 8, 31), T(2027, 2, 28)),
    ("每年", T(2024, 2, 29, 12), T(2025, 2, 28, 12)),  # leap day
    ("每周", T(2026, 12, 29), T(2027, 1, 5)),
    ("每日", T(2024, 2, 28, 18), T(2024, 2, 29, 18)),
    ("每2日", T(2026, 2, 28), T(2026, 3, 2)),
    ("实时", T(2026, 10, 31, 23, 30), T(2026, 11, 1, 0, 30)),
    ("R/P1M", T(2026, 1, 31), T(2026, 2, 28)),  # DCAT monthly
]

# (更新周期, 最近更新时间 or None, at, status by hand). Default grace: 每月 5 d, 每季度 10 d,
# 每年 30 d, 每周 2 d, 每日 1 d, 实时 1 h; due soon: as long as the grace, at most 7 d.
STATUSES = [
    ("每月", T(2024, 1, 31), T(2024, 2, 23, 23, 59), Status.FRESH),  # 02-29 − 5 d is 02-24
    ("每月", T(2024, 1, 31), T(2024, 2, 24), Status.DUE_SOON),
    ("每月", T(2024, 1, 31), T(2024, 3, 5), Status.DUE_SOON),  # deadline + 5 d: in grace
    ("每月", T(2024, 1, 31), T(2024, 3, 5, 0, 0, 1), Status.OVERDUE),
    ("每月", T(2025, 1, 31), T(2025, 3, 5, 12), Status.OVERDUE),  # 02-28 + 5 d = 03-05 00:00
    ("每季度", T(2026, 11, 30), T(2027, 2, 20, 23, 59), Status.FRESH),  # 02-28 − 7 d = 02-21
    ("每季度", T(2026, 11, 30), T(2027, 3, 10), Status.DUE_SOON),  # 02-28 + 10 d
    ("每季度", T(2026, 11, 30), T(2027, 3, 10, 0, 0, 1), Status.OVERDUE),
    ("每年", T(2024, 2, 29), T(2025, 3, 30), Status.DUE_SOON),  # 02-28 + 30 d = 03-30
    ("每年", T(2024, 2, 29), T(2025, 3, 31), Status.OVERDUE),
    ("每周", T(2026, 12, 29), T(2027, 1, 7, 0, 0, 1), Status.OVERDUE),  # 01-05 + 2 d
    ("每日", T(2026, 1, 1, 9), T(2026, 1, 2, 8, 59), Status.DUE_SOON),  # soon = 1 d
    ("实时", T(2026, 11, 1, 10), T(2026, 11, 1, 10, 30), Status.DUE_SOON),
    ("实时", T(2026, 11, 1, 10), T(2026, 11, 1, 12, 0, 1), Status.OVERDUE),
    ("每月", None, T(2026, 11, 1), Status.NEVER_UPDATED),
    ("不定期", T(2020, 1, 1), T(2026, 11, 1), Status.NOT_TRACKED),
    ("自定义", None, T(2026, 11, 1), Status.NOT_TRACKED),
]


@pytest.mark.parametrize(("cycle", "last", "deadline"), DEADLINES)
def test_deadlines_by_hand(cycle, last, deadline):
    assert add_period(last, parse_update_cycle(cycle)) == deadline


def make_entry(
    directory,
    cycle: str | None,
    last: dt.datetime | None,
    *,
    provider: str = "示范区民政局",
    name: str = "测试资源",
) -> str:
    fields = {"name": name, "provider_name": provider, "share_type": "有条件共享"}
    if cycle:
        fields["update_cycle"] = cycle
    if last:
        fields["updated_at"] = last
    return directory.create(fields)


def status_of(store, code: str, at: dt.datetime, *, from_events: bool = False) -> dict:
    with swept(store, at, from_events=from_events) as sweep:
        [row] = [r for r in sweep.statuses() if r["code"] == code]
        return row


def test_the_sweep_speaks_the_domains_statuses():
    assert set(freshness_sweep.STATUSES) == {s.value for s in Status}


def test_the_sweep_never_opens_the_catalogue_file_beside_the_store(workspace, directory):
    """DuckDB's SQLite beside Python's sqlite3 on one file in one process drops the store's
    POSIX locks when it closes; the next process to close its connection then believes it is
    the last one and deletes the WAL under the store (acknowledged writes lost). The sweep
    reads the catalogue through the store, so the WAL outlives that other process."""
    code = make_entry(directory, "每月", T(2026, 9, 15, 9))
    wal = workspace.metadata_db.with_name(workspace.metadata_db.name + "-wal")
    with swept(directory.store, T(2026, 10, 1)) as sweep:
        assert [r["status"] for r in sweep.statuses() if r["code"] == code] == ["fresh"]
    assert [r["tracked"] for r in scorecard(directory.store, "2026-10")] == [1]
    reader = (
        "import sqlite3, sys; con = sqlite3.connect(sys.argv[1]); "
        "con.execute('SELECT count(*) FROM entries').fetchall(); con.close()"
    )
    subprocess.run([sys.executable, "-c", reader, str(workspace.metadata_db)], check=True)
    assert wal.exists()  # the store's connection is still open: its WAL must be too
    assert directory.get(code)["code"] == code


@pytest.mark.slow
def test_the_sweep_gives_the_hand_computed_deadlines_and_statuses(workspace, directory):
    for cycle, last, deadline in DEADLINES:
        code = make_entry(directory, cycle, last)
        assert status_of(directory.store, code, deadline)["deadline"] == deadline, cycle
    for cycle, last, at, expected in STATUSES:
        code = make_entry(directory, cycle, last)
        found = status_of(directory.store, code, at)
        assert found["status"] == expected, (cycle, last, at)
        reference = Policy(parse_update_cycle(cycle)).status(last, at)
        assert reference == expected, (cycle, last, at)


@pytest.mark.both_stores
def test_overdue_says_by_how_long(workspace, directory):
    code = make_entry(directory, "每月", T(2026, 9, 15, 9))
    found = status_of(directory.store, code, T(2026, 11, 1, 21))
    assert found["status"] == "overdue"
    assert found["delay_days"] == 17.5
    assert found["due_at"] == T(2026, 10, 20, 9)


@pytest.mark.both_stores
def test_past_days_come_from_the_update_history(workspace, directory):
    code = make_entry(directory, "每月", T(2026, 6, 1))
    directory.report_update(code, at=T(2026, 8, 20))
    assert (
        status_of(directory.store, code, T(2026, 7, 31, 23, 59, 59), from_events=True)["status"]
        == "overdue"
    )  # 07-01 + 5 d had passed
    assert (
        status_of(directory.store, code, T(2026, 8, 31, 23, 59, 59), from_events=True)["status"]
        == "fresh"
    )
    assert (
        status_of(directory.store, code, T(2026, 5, 31), from_events=True)["status"]
        == "never_updated"
    )
    path = save_day(directory.store, workspace, dt.date(2026, 7, 31))
    import duckdb

    assert duckdb.sql(
        f"SELECT status FROM read_parquet('{path}') WHERE code = '{code}'"
    ).fetchone() == ("overdue",)


@pytest.mark.both_stores
@pytest.mark.slow
def test_policies_override_grace_and_cycle(workspace, directory):
    code = make_entry(directory, "每月", T(2026, 9, 15), provider="示范区住建局")
    other = make_entry(directory, "每月", T(2026, 9, 15), provider="示范区住建局")
    at = T(2026, 10, 22)  # deadline 10-15 + 5 d passed
    assert status_of(directory.store, code, at)["status"] == "overdue"
    org = directory.get(code)["provider_code"]
    set_policy(directory.store, "organisation", org, user="tester", grace=parse_duration("10d"))
    assert status_of(directory.store, code, at)["status"] == "due_soon"
    set_policy(directory.store, "entry", code, user="tester", cycle="每季度")
    assert status_of(directory.store, code, at)["status"] == "fresh"
    assert status_of(directory.store, other, at)["status"] == "due_soon"  # the org's grace
    with pytest.raises(InvalidInput, match="bad duration"):
        parse_duration("soon")
    with pytest.raises(NotFound, match="no entry"):
        set_policy(directory.store, "entry", "399999/999999", user="tester", cycle="每月")
    with pytest.raises(InvalidInput, match="不存在|每月|cycle|更新周期"):
        set_policy(directory.store, "entry", code, user="tester", cycle="看心情")
    assert [
        (p["scope"], p["cycle"], p["grace_hours"]) for p in directory.store.freshness.policies()
    ] == [("entry", "每季度", None), ("organisation", None, 240.0)]


@pytest.mark.slow
def test_real_portal_data_gets_statuses_from_its_own_dates(workspace, directory, real_data):
    """六安 and GSA exports carry 更新频率/accrualPeriodicity and 更新时间/modified: every
    entry's status from the sweep equals the reference computed from its own fields."""
    import_file(directory, workspace, real_data / "cn-portals" / "anhui_luan.json")
    import_file(directory, workspace, real_data / "dcat-us" / "gsa.json")
    seen = set()
    # Judged a week after the newest update, when some are fresh and some long overdue.
    latest = max(
        dt.datetime.fromisoformat(e["updated_at"])
        for e in directory.iter_entries()
        if e["update_cycle"] == "每月" and e["updated_at"]
    )
    for at in (latest + dt.timedelta(days=7), T(2026, 11, 25, 12)):
        with swept(directory.store, at) as sweep:
            rows = sweep.statuses()
        assert len(rows) > 500
        for row in rows:
            cycle, last = row["cycle"], row["last_update"]
            policy = Policy(parse_update_cycle(cycle) if cycle else None)
            assert Status(row["status"]) == policy.status(last, at), (row["code"], cycle, last)
            seen.add(row["status"])
    assert {"overdue", "fresh", "not_tracked"} <= seen
    at = T(2026, 11, 25, 12)
    # One record by hand: 六安 工商_企业基本信息, 每年, 更新时间 2023-06-12 → overdue since 2024.
    [entry] = [
        e
        for e in statuses(directory.store, at=at, org="六安市市场监管局")
        if e["name"] == "工商_企业基本信息"
    ]
    assert (entry["cycle"], entry["last_update"].date(), entry["status"]) == (
        "每年",
        dt.date(2023, 6, 12),
        "overdue",
    )
    assert entry["deadline"].date() == dt.date(2024, 6, 12)


@pytest.mark.both_stores
@pytest.mark.slow
def test_scorecard_ranks_the_late_organisation_first(workspace, directory, tmp_path):
    # 住建局: two monthly entries, updated late; 民政局: on time.
    for provider, updates in (
        ("示范区住建局", [T(2026, 8, 1), T(2026, 9, 20), T(2026, 11, 1)]),
        ("示范区民政局", [T(2026, 8, 1), T(2026, 9, 1), T(2026, 10, 1)]),
    ):
        for i in range(2):
            code = make_entry(directory, "每月", updates[0], provider=provider, name=f"资源{i}")
            for when in updates[1:]:
                directory.report_update(code, at=when)
    rows = scorecard(directory.store, "2026-10")
    assert [r["provider_name"] for r in rows] == ["示范区住建局", "示范区民政局"]
    late, good = rows
    # 住建局's deadline in October: 09-20 + 1 month = 10-20, met on 11-01? grace 5 d → late
    # by 12 days; at the month's end it is overdue. 民政局: 10-01 deadline met on 10-01.
    assert (
        late["due"],
        late["on_time"],
        late["on_time_rate"],
        late["overdue"],
        late["median_delay_days"],
    ) == (2, 0, 0.0, 2, 12.0)
    assert (good["due"], good["on_time"], good["on_time_rate"], good["overdue"]) == (2, 2, 100.0, 0)
    for fmt in ("csv", "xlsx", "html"):
        path = export_scorecard(rows, tmp_path / f"card.{fmt}")
        assert path.stat().st_size > 0
    # The dashboard reads the history once and says what the separate calls say.
    for month in ("2026-10", None):
        shown = dashboard(directory.store, month)
        assert shown.rows == scorecard(directory.store, month)
        assert shown.counts == summary(directory.store)
        assert shown.trend == on_time_trend(directory.store)
        assert shown.trend  # October's deadlines, at least
    text = (tmp_path / "card.csv").read_text(encoding="utf-8-sig")
    assert text.splitlines()[0].startswith("排名,提供方代码,提供方")
    assert "示范区住建局" in (tmp_path / "card.html").read_text(encoding="utf-8")


@pytest.mark.slow
def test_cli_status_for_every_entry_and_a_report(workspace, directory):
    late = make_entry(directory, "每月", T(2025, 1, 1))
    make_entry(directory, "不定期", None)
    env = {
        **os.environ,
        "MULU_HOME": str(workspace.root),
        "MULU_USER": "区民政局",
        "COLUMNS": "200",
    }
    mulu = str(Path(sys.executable).with_name("mulu"))

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([mulu, *args], capture_output=True, text=True, env=env, check=False)

    everything = json.loads(run("freshness", "--json").stdout)
    assert {e["code"]: e["status"] for e in everything}[late] == "overdue"
    assert len(everything) == 2
    done = run("freshness", "report", late, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(run("freshness", "--status", "overdue", "--json").stdout) == []
    assert summary(directory.store) == {"fresh": 1, "not_tracked": 1}
    assert run("freshness", "report", "399999/999999").returncode == NotFound.exit_code
    assert run("freshness", "--status", "late").returncode == InvalidInput.exit_code
    assert run("freshness", "scorecard", "--month", "2026-13").returncode == InvalidInput.exit_code
    card = run("freshness", "scorecard", "--json")
    assert card.returncode == 0, card.stderr


@pytest.mark.both_stores
@pytest.mark.slow
def test_one_entrys_status_agrees_with_the_sweep(workspace, directory, real_data):
    """The entry page computes one entry's status in Python (policies.entry_status); it must
    say what the sweep says, overrides included."""
    import_file(directory, workspace, real_data / "cn-portals" / "anhui_luan.json")
    first = next(directory.iter_entries())
    set_policy(
        directory.store,
        "organisation",
        first["provider_code"],
        user="t",
        grace=parse_duration("400d"),
    )
    at = T(2024, 7, 1)
    with swept(directory.store, at) as sweep:
        swept_rows = {r["code"]: (r["status"], r["deadline"]) for r in sweep.statuses()}
    for entry in directory.iter_entries():
        found = entry_status(directory.store, entry, at)
        assert (found["status"], found["deadline"]) == swept_rows[entry["code"]], entry["code"]
    assert {s for s, _ in swept_rows.values()} >= {"overdue", "due_soon"}


@pytest.mark.both_stores
@pytest.mark.slow
def test_api_moments_with_a_time_zone_are_catalogue_time(workspace, directory):
    """``/api/freshness?at=…Z`` is converted to catalogue time (Asia/Shanghai), not a 500."""
    from fastapi.testclient import TestClient
    from web_users import add_user, bearer

    from mulu.web.app import create_app

    code = make_entry(directory, "每月", T(2026, 9, 15, 9))  # deadline 10-15 09:00, +5 d grace
    token = add_user(workspace, "reader")  # anonymous callers see open entries only
    with TestClient(create_app(workspace), headers=bearer(token)) as client:

        def status_at(at: str) -> str:
            answer = client.get("/api/freshness", params={"at": at})
            assert answer.status_code == 200, answer.text
            [row] = [r for r in answer.json()["entries"] if r["code"] == code]
            return row["status"]

        # 2026-10-20 00:30 UTC is 08:30 in Shanghai: before the grace ends at 09:00 …
        assert status_at("2026-10-20T00:30:00Z") == "due_soon"
        # … and 01:30 UTC is 09:30 there: overdue. The same clock time without a zone is
        # catalogue time already.
        assert status_at("2026-10-20T01:30:00Z") == "overdue"
        assert status_at("2026-10-20T08:30:00") == "due_soon"
        assert status_at("2026-10-20T09:00:00+08:00") == "due_soon"
        assert (
            client.get("/api/freshness", params={"at": "2000-01-01T00:00:00Z"}).status_code == 200
        )
