"""Dagster distributed (issue 14): the workspace's instance on PostgreSQL, the queued run
coordinator's limits with a real daemon, and loads run by a real Celery worker (`mulu worker`)
on RabbitMQ. Each test has a PostgreSQL database of its own and, for Celery, a queue of its own.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from postgres_store import create_database, database_url, drop_database

from catalog.directory import Directory
from pipelines.instance import DATASET_TAG, DEPARTMENT_TAG, open_instance
from pipelines.runner import queue_datasets, run_datasets, wait_for_runs
from warehouse.lake import connect_lake, qualified
from warehouse.workspace import Workspace

pytestmark = [pytest.mark.server, pytest.mark.postgresql, pytest.mark.slow]

BIN = Path(sys.executable).parent
RABBITMQ = "amqp://guest:guest@127.0.0.1:5672//"
SPEC = """\
name: {name}
title: {title}
entry_code: "{code}"
source:
  url: {url}
columns:
  - {{name: person_name, source: 姓名}}
  - {{name: amount, source: 金额, type: integer}}
"""
ROWS = [(f"居民{i:04d}", 500 + i) for i in range(300)]


def add_dataset(workspace: Workspace, directory: Directory, name: str, org: str) -> Path:
    code = directory.create(
        {"name": f"{name} 名册", "provider_name": org, "share_type": "有条件共享"}
    )
    source = workspace.root / "sources" / f"{name}.csv"
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_text("姓名,金额\n" + "".join(f"{n},{a}\n" for n, a in ROWS), encoding="utf-8")
    spec = workspace.datasets_dir / "dept" / f"{name}.yaml"
    spec.parent.mkdir(parents=True, exist_ok=True)
    spec.write_text(SPEC.format(name=name, title=name, code=code, url=source), encoding="utf-8")
    return source


def rows_digest(rows: list[tuple[str, int]]) -> str:
    return hashlib.sha256(repr(sorted(rows)).encode()).hexdigest()


def lake_rows(workspace: Workspace, table: str) -> list[tuple[str, int]]:
    con = connect_lake(workspace, read_only=True)
    try:
        return [
            (str(n), int(a))
            for n, a in con.execute(
                f"select person_name, amount from {qualified(table)}"
            ).fetchall()
        ]
    finally:
        con.close()


@pytest.fixture
def dagster_db(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh PostgreSQL database for the workspace's Dagster instance (MULU_DAGSTER_DATABASE_URL,
    inherited by the daemon and the worker), dropped after the test."""
    name = create_database()
    url = database_url(name)
    monkeypatch.setenv("MULU_DAGSTER_DATABASE_URL", url)
    yield url
    drop_database(name)


def stop(process: subprocess.Popen[bytes], log: Path) -> str:
    """Stop a process the test started (SIGTERM, then SIGKILL) and return its log."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return log.read_text(encoding="utf-8", errors="replace")


def test_a_run_keeps_its_run_and_events_in_postgresql(workspace, directory, dagster_db):
    add_dataset(workspace, directory, "di_bao", "区民政局")

    report = run_datasets(workspace, ["di_bao"])

    assert report.success, report.failures
    assert report.datasets["di_bao"]["status"] == "published"
    with psycopg.connect(dagster_db) as con:
        runs = con.execute("select run_id, status from runs").fetchall()
        kinds = {
            kind
            for (kind,) in con.execute(
                "select distinct dagster_event_type from event_logs where run_id = %s",
                (report.run_id,),
            )
        }
    assert runs == [(report.run_id, "SUCCESS")]
    assert {"ASSET_MATERIALIZATION", "STEP_SUCCESS", "PIPELINE_SUCCESS"} <= kinds
    # Nothing in SQLite under dagster/; dagster.yaml (it holds the URL) is its owner's only.
    config = workspace.dagster_dir / "dagster.yaml"
    assert "postgresql+psycopg2://" in config.read_text(encoding="utf-8")
    assert config.stat().st_mode & 0o077 == 0
    assert not list(workspace.dagster_dir.rglob("*.db"))


def test_the_queue_runs_one_load_of_a_dataset_at_a_time(
    workspace, directory, dagster_db, monkeypatch
):
    add_dataset(workspace, directory, "di_bao", "区民政局")
    monkeypatch.setenv("MULU_RUN_QUEUE", "4")  # room for both: only the dataset's limit holds one
    monkeypatch.setenv("MULU_HOME", str(workspace.root))
    with open_instance(workspace) as instance:
        home = workspace.dagster_dir
        log = workspace.root / "daemon.log"
        with log.open("wb") as out:
            daemon = subprocess.Popen(
                [str(BIN / "dagster-daemon"), "run", "-w", str(home / "workspace.yaml")],
                env={**os.environ, "DAGSTER_HOME": str(home)},
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            first, second = queue_datasets(workspace, instance, ["di_bao", "di_bao"])
            seen: set[tuple[str, str]] = set()
            deadline = time.monotonic() + 240  # generous: a busy CI machine
            while time.monotonic() < deadline:
                a, b = (instance.get_run_by_id(first), instance.get_run_by_id(second))
                assert a is not None
                assert b is not None
                seen.add((a.status.value, b.status.value))
                assert not (a.status.value == "STARTED" and b.status.value == "STARTED")
                if b.is_finished:
                    break
                time.sleep(0.2)
            runs = wait_for_runs(instance, [first, second], timeout=120)
            records = {r.dagster_run.run_id: r for r in instance.get_run_records()}
        finally:
            output = stop(daemon, log)
    assert [r.status.value for r in runs] == ["SUCCESS", "SUCCESS"], output[-3000:]
    assert runs[0].tags[DATASET_TAG] == "di_bao"
    assert runs[0].tags[DEPARTMENT_TAG]
    # The second waited in the queue while the first ran, and started after it ended.
    assert ("STARTED", "QUEUED") in seen, seen
    first_end, second_start = records[first].end_time, records[second].start_time
    assert first_end is not None
    assert second_start is not None
    assert second_start >= first_end
    assert rows_digest(lake_rows(workspace, "di_bao")) == rows_digest(ROWS)


def test_a_celery_worker_runs_a_load_into_the_lake(workspace, directory, dagster_db, monkeypatch):
    source = add_dataset(workspace, directory, "te_kun", "区民政局")
    queue = f"mulu-test-{uuid.uuid4().hex[:10]}"  # this test's queue: parallel tests keep theirs
    monkeypatch.setenv("MULU_CELERY_BROKER_URL", RABBITMQ)
    monkeypatch.setenv("MULU_CELERY_QUEUE", queue)
    log = workspace.root / "worker.log"
    with log.open("wb") as out:
        worker = subprocess.Popen(
            [
                str(BIN / "mulu"),
                "--local-admin",
                "--home",
                str(workspace.root),
                "worker",
                "--concurrency",
                "1",
                "--name",
                queue,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        report = run_datasets(workspace, ["te_kun"])
    finally:
        output = stop(worker, log)

    assert report.success, (report.failures, output[-3000:])
    load = report.datasets["te_kun"]
    assert (load["status"], load["rows"]) == ("published", len(ROWS))
    assert rows_digest(lake_rows(workspace, "te_kun")) == rows_digest(ROWS)
    # The steps ran in the worker (its name in the run's events), not in this process.
    with open_instance(workspace) as instance:
        logs = instance.all_logs(report.run_id)
        landed = [
            e.dagster_event.step_materialization_data.materialization.metadata["sha256"].value
            for e in logs
            if e.dagster_event is not None
            and e.dagster_event.is_step_materialization
            and e.dagster_event.step_key == "raw__te_kun"
        ]
        workers = {
            str(e.dagster_event.engine_event_data.metadata["Celery worker"].value)
            for e in logs
            if e.dagster_event is not None
            and e.dagster_event.is_engine_event
            and "Celery worker" in (e.dagster_event.engine_event_data.metadata or {})
        }
    assert landed == [[hashlib.sha256(source.read_bytes()).hexdigest()]]
    assert {w.split("@")[0] for w in workers} == {queue}, workers
    assert "ready" in output
