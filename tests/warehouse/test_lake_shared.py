"""The lake on shared storage (issue 14): DuckLake's catalog in PostgreSQL, its Parquet files and
the landing zone on S3 (moto's server), chosen by the deployment settings alone.

Each test gets a fresh PostgreSQL database for the lake's catalog and a fresh bucket; the
loader, a second process and an analyst session all reach them through the settings
(MULU_LAKE_CATALOG_URL, MULU_LAKE_DATA_URL, MULU_STORAGE_URL, MULU_S3_ENDPOINT_URL) and the
AWS_* credentials in the environment, which the subprocesses inherit.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import psycopg
import pytest
from loading_fixtures import (
    ROSTER_HEADER,
    ROSTER_ROWS,
    lake_rows,
    live_table,
    loads,
    write_csv,
    write_spec,
)
from postgres_store import create_database, database_url, drop_database
from s3_server import ACCESS_KEY, SECRET_KEY, S3Bucket, s3_bucket, s3_server  # noqa: F401 - fixtures

from warehouse.analyst import ReadOnlyError, open_session
from warehouse.granted import read_page
from warehouse.lake import connect_lake, lake_place, snapshots
from warehouse.load import GateVerdict, SchemaDriftError, load_dataset
from warehouse.workspace import Workspace

pytestmark = [pytest.mark.postgresql, pytest.mark.server, pytest.mark.slow]

FIXTURES = Path(__file__).resolve().parents[1] / "loading_fixtures.py"
PG_PASSWORD = "not-a-real-password-7f3a"


@dataclass(frozen=True)
class SharedLake:
    workspace: Workspace
    bucket: S3Bucket
    catalog_db: str
    sources: Path
    specs: Path

    def objects(self, prefix: str) -> dict[str, bytes]:
        client = self.bucket.server.client()
        listed = client.list_objects_v2(Bucket=self.bucket.name, Prefix=prefix)
        return {
            item["Key"]: client.get_object(Bucket=self.bucket.name, Key=item["Key"])["Body"].read()
            for item in listed.get("Contents", [])
        }

    def catalog(self, sql: str) -> list[tuple]:
        with psycopg.connect(database_url(self.catalog_db)) as con:
            return con.execute(sql).fetchall()  # type: ignore[arg-type]


@pytest.fixture
def shared(
    tmp_path: Path,
    s3_bucket: S3Bucket,  # noqa: F811 - the fixture
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[SharedLake]:
    name = create_database()
    # A password in the URL (trust auth ignores it): it must reach neither catalog nor logs.
    url = database_url(name).replace("postgres@", f"postgres:{PG_PASSWORD}@")
    monkeypatch.setenv("MULU_LAKE_CATALOG_URL", url)
    monkeypatch.setenv("MULU_LAKE_DATA_URL", s3_bucket.url("lake/"))
    monkeypatch.setenv("MULU_STORAGE_URL", s3_bucket.url("store/"))
    monkeypatch.setenv("MULU_S3_ENDPOINT_URL", s3_bucket.server.endpoint_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("MULU_SOURCE_SETTLE", "0")
    workspace = Workspace(tmp_path / "ws").ensure()
    sources = workspace.sources_dir / "民政局"
    try:
        yield SharedLake(workspace, s3_bucket, name, sources, tmp_path / "datasets")
    finally:
        from warehouse import granted

        with granted._SHARED_LOCK:  # the process's cached reader of this lake
            for con in granted._SHARED.values():
                con.close()
            granted._SHARED.clear()
        drop_database(name)


def _roster(shared: SharedLake, name: str, rows: list[list[str]] = ROSTER_ROWS) -> Path:
    return write_csv(shared.sources / f"{name}.csv", ROSTER_HEADER, rows)


def test_load_lands_in_postgresql_and_s3_and_reads_back(shared: SharedLake) -> None:
    source = _roster(shared, "di_bao")
    spec = write_spec(shared.specs, "di_bao", source)

    result = load_dataset(shared.workspace, spec)

    assert (result.status, result.rows) == ("published", 4)
    assert result.location == shared.bucket.url("lake/main/di_bao")
    assert [r[0] for r in lake_rows(shared.workspace, "di_bao", order_by="person_name")] == [
        "张三",
        "李四",
        "王五",
        "赵六",
    ]
    # Nothing of the lake is in the workspace: the catalog is in PostgreSQL, the data on S3.
    assert not shared.workspace.lake_catalog.exists()
    assert not shared.workspace.lake_dir.exists()
    assert shared.catalog("SELECT count(*) FROM ducklake_data_file") == [(1,)]
    parquet = [k for k in shared.objects("lake/main/di_bao/") if k.endswith(".parquet")]
    assert len(parquet) == 1
    # The raw file as received, content-addressed on the object store, with its sidecar.
    raw = source.read_bytes()
    sha = hashlib.sha256(raw).hexdigest()
    landed = shared.objects("store/landing/di_bao/")
    assert landed[f"store/landing/di_bao/{sha}.csv"] == raw
    assert json.loads(landed[f"store/landing/di_bao/{sha}.meta.json"])["sha256"] == sha
    (record,) = loads(shared.workspace, "di_bao")
    assert record["location"] == shared.bucket.url("lake/main/di_bao")  # a URL stays a URL
    assert record["sources"][0]["landed_url"] == shared.bucket.url(
        f"store/landing/di_bao/{sha}.csv"
    )
    # No secret in the catalog: neither the S3 key nor the PostgreSQL password.
    dumped = json.dumps(
        [
            shared.catalog(f"SELECT * FROM {t}")
            for t in (
                "ducklake_metadata",
                "ducklake_snapshot_changes",
                "ducklake_table",
                "ducklake_data_file",
            )
        ],
        default=str,
    )
    assert SECRET_KEY not in dumped
    assert PG_PASSWORD not in dumped
    assert "s3://" in dumped  # the data path is kept as a URL


def test_analyst_session_and_granted_reads_on_the_shared_lake(shared: SharedLake) -> None:
    spec = write_spec(shared.specs, "di_bao", _roster(shared, "di_bao"))
    load_dataset(shared.workspace, spec)

    with open_session(shared.workspace, catalogue=False) as session:
        assert session.execute("SELECT count(*), sum(household_size) FROM di_bao").fetchone() == (
            4,
            9,
        )
        # The connection string it shows names no credentials.
        paths = json.dumps(
            session.execute("SELECT path, options FROM duckdb_databases()").fetchall(), default=str
        )
        assert PG_PASSWORD not in paths
        assert SECRET_KEY not in paths
        # Reads stay inside the lake's prefix, and the catalog database is out of reach.
        other = shared.bucket.url("store/landing/")
        with pytest.raises(duckdb.PermissionException):
            session.execute(f"SELECT * FROM read_csv('{other}*/*.csv')").fetchall()
        with pytest.raises(ReadOnlyError):
            session.execute("SELECT * FROM postgres_query('__ducklake_metadata_lake', 'SELECT 1')")
        with pytest.raises(duckdb.Error):
            session.execute("CREATE TABLE lake.main.x AS SELECT 1 AS a")

    from schemas.access import DataAccess

    access = DataAccess(
        dataset="di_bao",
        table="di_bao",
        columns=("person_name", "household_size"),
    )
    page = read_page(shared.workspace, access, offset=0, limit=10)
    assert page.total == 4
    assert page.columns == ["person_name", "household_size"]


def test_two_processes_load_different_datasets_at_once(shared: SharedLake) -> None:
    names = ["di_bao", "te_kun", "yang_lao"]
    specs = [shared.specs / f"{n}.yaml" for n in names]
    for name in names:
        write_spec(shared.specs, name, _roster(shared, name))
    procs = [
        subprocess.Popen(
            [sys.executable, str(FIXTURES), "load", str(shared.workspace.root), str(spec)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for spec in specs
    ]
    outcomes = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        outcomes.append(json.loads(out.strip().splitlines()[-1]))

    assert [(o["status"], o["rows"]) for o in outcomes] == [("published", 4)] * 3
    assert len({o["snapshot_id"] for o in outcomes}) == 3
    with contextlib.closing(connect_lake(shared.workspace, read_only=True)) as con:
        committed = {s["extra_info"]["dataset"] for s in snapshots(con) if s["extra_info"]}
        assert committed == set(names)
        for name in names:
            assert con.execute(f"SELECT count(*) FROM lake.main.{name}").fetchone() == (4,)


def test_failed_or_blocked_load_keeps_the_last_good_version(shared: SharedLake) -> None:
    source = _roster(shared, "di_bao")
    spec = write_spec(shared.specs, "di_bao", source)
    good = load_dataset(shared.workspace, spec)
    before = live_table(shared.workspace, "di_bao")
    data_files = set(shared.objects("lake/main/di_bao/"))

    # A value that does not fit its column: the load fails before anything is written.
    write_csv(source, ROSTER_HEADER, [*ROSTER_ROWS, ["钱七", "x", "many", "1", "2026-05-01"]])
    with pytest.raises(SchemaDriftError):
        load_dataset(shared.workspace, spec)
    assert live_table(shared.workspace, "di_bao") == before

    # Rows the quality gate blocks: held, the live table stays.
    write_csv(source, ROSTER_HEADER, ROSTER_ROWS[:2])
    blocked = load_dataset(
        shared.workspace, spec, gate=lambda staged: GateVerdict(run_id="q1", blocked=True)
    )
    assert blocked.status == "blocked"
    assert blocked.snapshot_id == good.snapshot_id
    assert live_table(shared.workspace, "di_bao") == before
    assert set(shared.objects("lake/main/di_bao/")) == data_files  # nothing written to S3
    assert [r["status"] for r in loads(shared.workspace, "di_bao")] == [
        "published",
        "failed",
        "blocked",
    ]
    # Every raw file stays landed, the failed and blocked ones too.
    assert len([k for k in shared.objects("store/landing/di_bao/") if k.endswith(".csv")]) == 3


def test_a_killed_loads_files_on_s3_are_removed_by_the_next_load(shared: SharedLake) -> None:
    spec = write_spec(shared.specs, "di_bao", _roster(shared, "di_bao"))
    load_dataset(shared.workspace, spec)
    stray = "lake/main/di_bao/ducklake-0000-left-by-a-killed-load.parquet"
    shared.bucket.put(stray, b"PAR1 not referenced by any snapshot")
    before = live_table(shared.workspace, "di_bao")

    write_csv(shared.sources / "di_bao.csv", ROSTER_HEADER, ROSTER_ROWS[:3])
    assert load_dataset(shared.workspace, spec).rows == 3

    assert stray not in shared.objects("lake/main/di_bao/")
    assert before[0] == 4
    assert live_table(shared.workspace, "di_bao")[0] == 3


def test_settings_choose_the_place_and_defaults_stay_embedded(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "plain")
    place = lake_place(ws, environ={})
    assert (place.catalog_url, place.data_url) == (None, None)
    shared_place = lake_place(
        ws,
        environ={
            "MULU_LAKE_CATALOG_URL": "postgresql://u:pw@db:5432/lake",
            "MULU_LAKE_DATA_URL": "s3://b/prefix",
            "AWS_SECRET_ACCESS_KEY": "s3cr3t",
        },
    )
    assert shared_place.data_url == "s3://b/prefix/"
    assert shared_place.object_data
    assert "s3cr3t" not in repr(shared_place)
