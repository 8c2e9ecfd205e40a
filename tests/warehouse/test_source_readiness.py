"""Only complete files: a source still being written is 'waiting' (not failed, not published)
and the next load takes it whole. A real writer process pauses after 30% of a CSV, as in
issue 11; the live table's row count and checksum are checked before and after."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from loading_fixtures import loads, write_spec
from s3_server import s3_bucket, s3_server  # noqa: F401 - pytest fixtures

from catalog.datasets import discover_datasets
from pipelines.automation import source_sensor
from pipelines.definitions import build_definitions
from pipelines.runner import run_datasets
from schemas.dataset_spec import Source
from schemas.errors import InvalidInput
from warehouse.lake import connect_lake
from warehouse.landing import Readiness, SourceNotReady, land, source_state
from warehouse.load import load_dataset
from warehouse.workspace import Workspace

COLUMNS = [
    {"name": "id", "source": "编号", "type": "bigint"},
    {"name": "person_name", "source": "姓名"},
]
ROWS = 200_000

# Writes ROWS rows to argv[1]: 30% of them, then the file argv[2] says "paused", then waits
# (argv[3] seconds, or until the file argv[3] exists), then the rest, then the marker argv[4]
# if given. Each write is flushed, as a department's export tool writes.
WRITER = """
import os, sys, time
from pathlib import Path
path, paused, wait = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
marker = Path(sys.argv[4]) if len(sys.argv) > 4 else None
rows = int(os.environ["ROWS"])
with path.open("w", encoding="utf-8") as out:
    out.write("编号,姓名\\n")
    cut = rows * 3 // 10
    out.writelines(f"{i},居民{i % 997}\\n" for i in range(cut))
    out.flush()
    paused.touch()
    if wait.replace(".", "").isdigit():
        time.sleep(float(wait))
    else:
        while not Path(wait).exists():
            time.sleep(0.02)
    out.writelines(f"{i},居民{i % 997}\\n" for i in range(cut, rows))
if marker is not None:
    marker.touch()
"""


def start_writer(path: Path, tmp_path: Path, wait: str, marker: Path | None = None):
    paused = tmp_path / "paused"
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), str(paused), wait]
        + ([str(marker)] if marker else []),
        env={**os.environ, "ROWS": str(ROWS)},
    )
    deadline = time.monotonic() + 60
    while not paused.exists():
        assert writer.poll() is None, "the writer died"
        assert time.monotonic() < deadline, "the writer never paused"
        time.sleep(0.01)
    return writer


def live(workspace: Workspace) -> tuple[int, int]:
    """The live table's row count and an order-free checksum of its rows."""
    con = connect_lake(workspace, read_only=True)
    try:
        count, checksum = con.sql(
            "SELECT count(*), sum(hash(t)) FROM lake.main.roster t"
        ).fetchone()
        return count, int(checksum)
    finally:
        con.close()


def file_checksum(path: Path) -> tuple[int, int]:
    """The same checksum over the CSV's rows, typed as the table types them."""
    count, checksum = duckdb.sql(
        'SELECT count(*), sum(hash(t)) FROM (SELECT CAST("编号" AS BIGINT) AS id, '
        f"\"姓名\" AS person_name FROM read_csv('{path}', all_varchar = true)) t"
    ).fetchone()
    return count, int(checksum)


def first_delivery(workspace: Workspace, **source) -> tuple[Path, tuple[int, int]]:
    """A published version of 'roster' (1,000 rows, an old file): the version to protect."""
    path = workspace.sources_dir / "minzheng" / "roster.csv"
    path.parent.mkdir(parents=True)
    path.write_text("编号,姓名\n" + "".join(f"{i},旧{i}\n" for i in range(1000)), encoding="utf-8")
    os.utime(path, (time.time() - 3600, time.time() - 3600))
    if source.get("ready"):
        (path.parent / source["ready"]).touch()
    spec = write_spec(
        workspace.datasets_dir / "minzheng", "roster", path, columns=COLUMNS, **source
    )
    assert load_dataset(workspace, spec).status == "published"
    before = live(workspace)
    assert before == file_checksum(path)
    return path, before


def landed(workspace: Workspace) -> list[str]:
    return sorted(p.name for p in (workspace.landing_dir / "roster").iterdir())


@pytest.mark.slow
def test_a_file_paused_mid_write_waits_for_the_settle_time(workspace, tmp_path):
    path, before = first_delivery(workspace, settle=4)
    landed_before = landed(workspace)
    spec = write_spec(
        workspace.datasets_dir / "minzheng", "roster", path, columns=COLUMNS, settle=4
    )
    writer = start_writer(path, tmp_path, wait="2")  # pauses 2 s, shorter than the settle time
    try:
        waiting = load_dataset(workspace, spec)  # during the pause, with 30% of the rows
    finally:
        writer.wait(timeout=60)
    assert (waiting.status, waiting.rows) == ("waiting", 0)
    assert "still being written" in waiting.error
    record = loads(workspace, "roster")[-1]
    assert (record["status"], record["error"]) == ("waiting", waiting.error)
    assert live(workspace) == before  # the partial file was not published
    assert landed(workspace) == landed_before  # nor landed

    done = load_dataset(workspace, spec)  # the next run: the writer has finished
    assert (done.status, done.rows) == ("published", ROWS)
    assert live(workspace) == file_checksum(path)
    assert live(workspace)[0] == ROWS


@pytest.mark.slow
def test_a_ready_marker_holds_the_load_until_it_appears(workspace, tmp_path):
    path, before = first_delivery(workspace, ready="_SUCCESS")
    spec = write_spec(
        workspace.datasets_dir / "minzheng", "roster", path, columns=COLUMNS, ready="_SUCCESS"
    )
    marker = path.parent / "_SUCCESS"
    marker.unlink()  # the department removes it, then writes the new delivery
    go = tmp_path / "go"
    writer = start_writer(path, tmp_path, wait=str(go), marker=marker)
    try:
        waiting = load_dataset(workspace, spec)
        assert (waiting.status, waiting.rows) == ("waiting", 0)
        assert waiting.error == f"{path}: waiting for the ready marker {marker}"
        assert live(workspace) == before
        assert loads(workspace, "roster")[-1]["status"] == "waiting"
    finally:
        go.touch()
        writer.wait(timeout=60)
    assert marker.exists()
    done = load_dataset(workspace, spec)
    assert (done.status, done.rows) == ("published", ROWS)
    assert live(workspace) == file_checksum(path)


@pytest.mark.slow
def test_the_sensor_and_a_run_see_a_waiting_source(workspace, directory):
    code = directory.create(
        {"name": "居民名册", "provider_name": "区民政局", "share_type": "有条件共享"}
    )
    path = workspace.sources_dir / "minzheng" / "roster.csv"
    path.parent.mkdir(parents=True)
    path.write_text("编号,姓名\n1,张三\n2,李四\n", encoding="utf-8")
    spec = workspace.datasets_dir / "minzheng" / "roster.yaml"
    spec.parent.mkdir(parents=True)
    spec.write_text(
        f"name: roster\ntitle: 居民名册\nentry_code: '{code}'\n"
        "source: {url: sources/minzheng/roster.csv, ready: _SUCCESS}\n"
        "columns:\n  - {name: id, source: 编号, type: bigint}\n"
        "  - {name: person_name, source: 姓名}\n",
        encoding="utf-8",
    )
    # A run: the source waits for its marker; the run succeeds, nothing is published.
    report = run_datasets(workspace, ["roster"])
    assert report.success, report.failures
    assert report.datasets["roster"]["status"] == "waiting"
    assert [r["status"] for r in loads(workspace, "roster")] == ["waiting"]

    definitions, _ = build_definitions(workspace)
    plans, _ = discover_datasets(workspace, directory)
    sensor = source_sensor(plans, workspace)
    first = sensor.evaluate_tick(dg.build_sensor_context(definitions=definitions))
    assert [r.run_key.split(":")[0] for r in first.run_requests] == ["roster"]
    quiet = sensor.evaluate_tick(
        dg.build_sensor_context(cursor=first.cursor, definitions=definitions)
    )
    assert quiet.run_requests == []
    (path.parent / "_SUCCESS").touch()  # the marker alone changes nothing in the file
    ready = sensor.evaluate_tick(
        dg.build_sensor_context(cursor=quiet.cursor, definitions=definitions)
    )
    assert [r.run_key.split(":")[0] for r in ready.run_requests] == ["roster"]
    report = run_datasets(workspace, ["roster"])
    assert report.datasets["roster"]["status"] == "published"
    assert report.datasets["roster"]["rows"] == 2


def test_a_source_outside_the_roots_is_skipped_by_the_sensor(workspace, directory, tmp_path):
    code = directory.create(
        {"name": "居民名册", "provider_name": "区民政局", "share_type": "有条件共享"}
    )
    spec = workspace.datasets_dir / "minzheng" / "roster.yaml"
    spec.parent.mkdir(parents=True)
    spec.write_text(
        f"name: roster\ntitle: 居民名册\nentry_code: '{code}'\n"
        "source: {url: ../../../etc/passwd, format: csv}\n"
        "columns:\n  - {name: id, source: 编号, type: bigint}\n",
        encoding="utf-8",
    )
    definitions, _ = build_definitions(workspace)
    plans, _ = discover_datasets(workspace, directory)
    assert [plan.spec.name for plan in plans] == ["roster"]
    tick = source_sensor(plans, workspace).evaluate_tick(
        dg.build_sensor_context(definitions=definitions)
    )
    assert tick.run_requests == []


def test_settle_defaults_and_spec_keys(monkeypatch):
    monkeypatch.delenv("MULU_SOURCE_SETTLE")
    assert Readiness.of(Source(url="a.csv")) == Readiness(settle=5.0)
    monkeypatch.setenv("MULU_SOURCE_SETTLE", "1.5")  # read when a load runs
    assert Readiness.of(Source(url="a.csv")) == Readiness(settle=1.5)
    assert Readiness.of(Source(url="a.csv", settle=0)) == Readiness(settle=0)
    assert Readiness.of(Source(url="a.csv", ready="_SUCCESS")).ready == "_SUCCESS"
    monkeypatch.setenv("MULU_SOURCE_SETTLE", "soon")
    with pytest.raises(InvalidInput, match="MULU_SOURCE_SETTLE='soon': expected seconds"):
        Readiness.of(Source(url="a.csv"))
    for bad, reason in [
        ({"url": "a.csv", "ready": "../_SUCCESS"}, "ready must be a file name"),
        ({"url": "a.csv", "ready": "*.done"}, "ready must be a file name"),
        ({"url": "https://x/a.csv", "ready": "_SUCCESS"}, "ready applies to local"),
        ({"url": "s3://b/a.csv", "settle": 3}, "settle applies to local and file://"),
        ({"url": "a.csv", "settle": -1}, "greater than or equal to 0"),
    ]:
        with pytest.raises(ValueError, match=reason):
            Source(**bad)


def test_an_s3_source_waits_for_its_ready_marker(s3_bucket, landing_dir):  # noqa: F811
    s3_bucket.put("in/2026-10/part-0.csv", "编号,姓名\n1,张三\n".encode())
    s3_bucket.put("in/2026-11/part-0.csv", "编号,姓名\n2,李四\n".encode())
    s3_bucket.put("in/2026-10/_SUCCESS", b"")
    url, options = s3_bucket.url("in/*/part-*.csv"), s3_bucket.storage_options
    ready = Readiness(ready="_SUCCESS")
    with pytest.raises(
        SourceNotReady, match=r"waiting for the ready marker s3://.*/in/2026-11/_SUCCESS"
    ):
        land(url, landing_dir, "roster", storage_options=options, readiness=ready)
    assert not (landing_dir / "roster").exists()  # nothing landed, not even its folder
    state = source_state(url, storage_options=options, ready="_SUCCESS")
    s3_bucket.put("in/2026-11/_SUCCESS", b"")
    assert source_state(url, storage_options=options, ready="_SUCCESS") != state  # the sensor
    landed = land(url, landing_dir, "roster", storage_options=options, readiness=ready)
    assert len(landed) == 2
