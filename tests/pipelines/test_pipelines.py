"""Dagster wiring: specs become assets, loads register with the catalogue, the sensor sees new
files, schedules follow 更新周期. Real workspace, real files, real in-process Dagster runs."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
from s3_server import s3_bucket, s3_server  # noqa: F401 - pytest fixtures

from catalog.directory import Directory
from pipelines.automation import source_sensor
from pipelines.definitions import build_definitions
from pipelines.runner import UnknownDataset, run_datasets
from warehouse.workspace import Workspace

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


def add_dataset(
    workspace: Workspace,
    directory: Directory,
    name: str,
    title: str,
    cycle: str,
    rows: list[tuple[str, int]],
) -> tuple[str, Path]:
    code = directory.create(
        {
            "name": title,
            "provider_name": "区民政局",
            "share_type": "有条件共享",
            "update_cycle": cycle,
        }
    )
    source = workspace.root / "sources" / f"{name}.csv"
    source.parent.mkdir(parents=True, exist_ok=True)
    write_rows(source, rows)
    spec = workspace.datasets_dir / "minzheng" / f"{name}.yaml"
    spec.parent.mkdir(parents=True, exist_ok=True)
    spec.write_text(SPEC.format(name=name, title=title, code=code, url=source), encoding="utf-8")
    return code, source


def write_rows(path: Path, rows: list[tuple[str, int]]) -> None:
    path.write_text("姓名,金额\n" + "".join(f"{n},{a}\n" for n, a in rows), encoding="utf-8")


@pytest.fixture
def two_datasets(workspace, directory):
    dibao = add_dataset(
        workspace, directory, "di_bao", "城乡低保对象", "每月", [("张三", 800), ("李四", 650)]
    )
    tekun = add_dataset(workspace, directory, "te_kun", "特困人员", "不定期", [("王五", 900)])
    return dibao, tekun


@pytest.mark.slow
def test_run_loads_registers_and_second_run_is_a_no_op(workspace, directory, two_datasets):
    (dibao_code, _), _ = two_datasets
    first = run_datasets(workspace)
    assert first.success, first.failures
    assert {n: (d["status"], d["rows"]) for n, d in first.datasets.items()} == {
        "di_bao": ("published", 2),
        "te_kun": ("published", 1),
    }
    entry = directory.get(dibao_code)
    assert entry["updated_at"] is not None
    assert [u["source"] for u in directory.store.history.updates(dibao_code)] == ["pipeline"]
    # A full run also refreshes the catalogue's daily freshness sweep and the scorecard.
    assert len(list((workspace.root / "freshness" / "daily").glob("*.parquet"))) == 1
    assert list((workspace.root / "freshness" / "scorecards").glob("*.html"))
    second = run_datasets(workspace, ["di_bao"])
    assert second.datasets["di_bao"]["status"] == "unchanged"
    assert len(directory.store.history.updates(dibao_code)) == 1
    with pytest.raises(UnknownDataset, match="nope"):
        run_datasets(workspace, ["nope"])


def test_schedules_follow_the_entry_cycle_and_bad_specs_are_reported(
    workspace, directory, two_datasets
):
    broken = workspace.datasets_dir / "minzheng" / "broken.yaml"
    broken.write_text("name: Broken Name\n", encoding="utf-8")
    definitions, problems = build_definitions(workspace)
    assert len(problems) == 1
    assert "broken.yaml" in problems[0]
    schedules = list(definitions.schedules or [])
    # 每月 for di_bao; 不定期 has none; the catalogue's freshness sweep daily.
    assert {s.name: s.cron_schedule for s in schedules if "refresh" in s.name}.popitem()[
        1
    ] == "0 2 1 * *"
    assert {s.name: s.cron_schedule for s in schedules if "refresh" not in s.name} == {
        "freshness_daily_schedule": "30 6 * * *"
    }
    keys = {key.to_user_string() for a in definitions.assets for key in a.keys}
    assert keys == {
        "raw/di_bao",
        "warehouse/di_bao",
        "raw/te_kun",
        "warehouse/te_kun",
        "freshness/daily_sweep",
        "freshness/scorecard",
    }
    policies = {
        spec.key.to_user_string(): spec.freshness_policy
        for a in definitions.assets
        for spec in a.specs
        if spec.key.path[0] == "warehouse"
    }
    assert policies["warehouse/te_kun"] is None  # 不定期: no deadline
    monthly = policies["warehouse/di_bao"]  # 31 days + 5 days' grace; warn 31 − 5
    assert (monthly.fail_window.to_timedelta(), monthly.warn_window.to_timedelta()) == (
        dt.timedelta(days=36),
        dt.timedelta(days=26),
    )


def test_sensor_requests_a_run_only_when_a_source_changes(workspace, directory, two_datasets):
    (_, dibao_source), _ = two_datasets
    definitions, _ = build_definitions(workspace)
    from catalog.datasets import discover_datasets

    plans, _ = discover_datasets(workspace, directory)
    sensor = source_sensor(plans, workspace)
    first = sensor.evaluate_tick(dg.build_sensor_context(definitions=definitions))
    assert sorted(r.run_key.split(":")[0] for r in first.run_requests) == ["di_bao", "te_kun"]
    quiet = sensor.evaluate_tick(
        dg.build_sensor_context(cursor=first.cursor, definitions=definitions)
    )
    assert quiet.run_requests == []
    write_rows(dibao_source, [("张三", 800), ("李四", 650), ("赵六", 700)])
    os.utime(dibao_source, (1_900_000_000, 1_900_000_000))
    changed = sensor.evaluate_tick(
        dg.build_sensor_context(cursor=quiet.cursor, definitions=definitions)
    )
    assert [r.run_key.split(":")[0] for r in changed.run_requests] == ["di_bao"]


@pytest.mark.slow
def test_mulu_run_cli(workspace, directory, two_datasets):
    env = {**os.environ, "MULU_HOME": str(workspace.root)}
    mulu = str(Path(sys.executable).with_name("mulu"))
    done = subprocess.run(
        [mulu, "run", "--json"], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["success"]
    assert report["datasets"]["di_bao"]["status"] == "published"
    assert (workspace.root / "dagster" / "dagster.yaml").exists()


@pytest.mark.slow
def test_a_load_recovered_after_a_crash_is_registered_once(workspace, directory, two_datasets):
    from schemas.dataset_spec import load_spec
    from warehouse.load import load_dataset

    (dibao_code, _), _ = two_datasets
    spec = load_spec(workspace.datasets_dir / "minzheng" / "di_bao.yaml")

    def crash(_result):
        raise KeyboardInterrupt("killed between the lake commit and the load record")

    with pytest.raises(KeyboardInterrupt):
        load_dataset(workspace, spec, after_publish=crash)
    assert directory.store.history.updates(dibao_code) == []
    report = run_datasets(workspace, ["di_bao"])
    assert report.datasets["di_bao"]["status"] == "unchanged"  # not published twice
    assert [u["source"] for u in directory.store.history.updates(dibao_code)] == ["pipeline"]
    run_datasets(workspace, ["di_bao"])
    assert len(directory.store.history.updates(dibao_code)) == 1


def remote_spec(
    workspace: Workspace,
    directory: Directory,
    name: str,
    url: str,
    storage_options: dict | None = None,
) -> str:
    code = directory.create(
        {
            "name": f"{name} 数据",
            "provider_name": "区民政局",
            "share_type": "有条件共享",
            "update_cycle": "每月",
        }
    )
    spec = {
        "name": name,
        "title": f"{name} 数据",
        "entry_code": code,
        "source": {
            "url": url,
            "format": "csv",
            "encoding": "gbk",
            **({"storage_options": storage_options} if storage_options else {}),
        },
        "columns": [
            {"name": "person_name", "source": "姓名"},
            {"name": "amount", "source": "金额", "type": "integer"},
        ],
    }
    path = workspace.datasets_dir / "remote" / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")  # JSON is YAML
    return code


GBK_ROWS = "姓名,金额\n张三,800\n欧阳娜娜,650\n".encode("gbk")


@pytest.mark.slow
def test_http_and_s3_sources_load_end_to_end(workspace, directory, s3_bucket, tmp_path):  # noqa: F811
    import functools
    import http.server
    import threading

    served = tmp_path / "served"
    served.mkdir()
    (served / "dibao.csv").write_bytes(GBK_ROWS)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        s3_bucket.put("exchange/dibao.csv", GBK_ROWS)
        remote_spec(
            workspace,
            directory,
            "from_http",
            f"http://127.0.0.1:{server.server_address[1]}/dibao.csv",
        )
        remote_spec(
            workspace,
            directory,
            "from_s3",
            s3_bucket.url("exchange/dibao.csv"),
            s3_bucket.storage_options,
        )
        report = run_datasets(workspace)
    finally:
        server.shutdown()
    assert report.success, report.failures
    assert {n: (d["status"], d["rows"]) for n, d in report.datasets.items()} == {
        "from_http": ("published", 2),
        "from_s3": ("published", 2),
    }
    from warehouse.analyst import open_session

    con = open_session(workspace)
    assert con.execute("SELECT person_name FROM from_s3 ORDER BY amount").fetchall() == [
        ("欧阳娜娜",),
        ("张三",),
    ]


QUALITY_SPEC = (
    SPEC
    + """\
  - {{name: id_card_no, source: 身份证号, format: 身份证号}}
primary_key: [person_name]
"""
)


@pytest.mark.slow
def test_a_blocked_load_fails_its_checks_and_a_steward_publishes_it(workspace, directory):
    """Through Dagster and the CLI: the checks declared next to the asset report each rule;
    a blocked load materialises nothing and leaves the table as it was; `mulu quality review
    --accept` publishes it and registers the update."""
    import datetime as dt

    from schemas.identity import make_id_card
    from warehouse.analyst import open_session

    good = make_id_card("320303", dt.date(1980, 1, 2), 5)
    bad = good[:17] + ("0" if good[17] != "0" else "1")
    code = directory.create(
        {
            "name": "城乡低保对象",
            "provider_name": "区民政局",
            "share_type": "有条件共享",
            "update_cycle": "每月",
        }
    )
    source = workspace.root / "sources" / "di_bao.csv"
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_text(f"姓名,金额,身份证号\n张三,800,{good}\n", encoding="utf-8")
    spec = workspace.datasets_dir / "minzheng" / "di_bao.yaml"
    spec.parent.mkdir(parents=True, exist_ok=True)
    spec.write_text(
        QUALITY_SPEC.format(name="di_bao", title="城乡低保对象", code=code, url=source),
        encoding="utf-8",
    )
    first = run_datasets(workspace)
    assert first.success
    assert first.datasets["di_bao"]["quality"] == "passed"

    source.write_text(
        f"姓名,金额,身份证号\n张三,800,{good}\n李四,650,{bad}\n张三,1,{good}\n", encoding="utf-8"
    )
    second = run_datasets(workspace)
    assert second.success, second.failures  # Mulu blocks the data, not the Dagster run
    blocked = second.datasets["di_bao"]
    assert (blocked["status"], blocked["quality"]) == ("blocked", "blocked")
    instance = dg.DagsterInstance.from_config(str(workspace.root / "dagster"))
    checks = {}
    for record in instance.get_records_for_run(second.run_id).records:
        event = record.event_log_entry.dagster_event
        if event is not None and event.event_type_value == "ASSET_CHECK_EVALUATION":
            data = event.event_specific_data
            checks[data.check_name] = (data.passed, data.severity.value)
    assert checks["id_card_no__format"] == (False, "ERROR")
    assert checks["primary_key"] == (False, "ERROR")
    assert checks["amount__type"] == (True, "ERROR")
    materialized = [
        e
        for e in instance.get_records_for_run(second.run_id).records
        if e.event_log_entry.dagster_event is not None
        and e.event_log_entry.dagster_event.event_type_value == "ASSET_MATERIALIZATION"
        and e.event_log_entry.dagster_event.asset_key.path[0] == "warehouse"
    ]
    assert materialized == []
    con = open_session(workspace)
    try:
        assert con.execute("SELECT count(*) FROM di_bao").fetchone()[0] == 1
    finally:
        con.close()

    env = {**os.environ, "MULU_HOME": str(workspace.root), "MULU_USER": "王科长", "COLUMNS": "200"}
    mulu = str(Path(sys.executable).with_name("mulu"))
    runs = json.loads(
        subprocess.run(
            [mulu, "quality", "runs", "--pending", "--json"],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        ).stdout
    )
    assert [r["run_id"] for r in runs] == [blocked["quality_run_id"]]
    shown = subprocess.run(
        [mulu, "quality", "show", blocked["quality_run_id"]],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    assert "id_card_no:format" in shown
    assert "FAILED" in shown
    assert str(source) in shown
    refused = subprocess.run(
        [mulu, "quality", "review", blocked["quality_run_id"], "--accept", "--reject"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert refused.returncode == 1
    assert "exactly one" in refused.stderr
    done = subprocess.run(
        [
            mulu,
            "quality",
            "review",
            blocked["quality_run_id"][:15],
            "--accept",
            "--note",
            "已电话核实",
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "published as snapshot" in json.loads(done.stdout)["outcome"]
    con = open_session(workspace)
    try:
        assert con.execute("SELECT count(*) FROM di_bao").fetchone()[0] == 3
    finally:
        con.close()
    assert [u["note"].split(":")[0] for u in directory.store.history.updates(code)] == [
        f"di_bao load {first.datasets['di_bao']['load_id']}",
        f"di_bao load {blocked['load_id']}",
    ]
    scores = json.loads(
        subprocess.run(
            [mulu, "quality", "scores", "--json"],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        ).stdout
    )
    assert [(s["code"], s["runs"]) for s in scores] == [(code, 2)]
