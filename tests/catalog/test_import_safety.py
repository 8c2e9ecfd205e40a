"""Imports never lose a record for another's fault, always end their ``imports`` row in a state,
merge exact repeats, refuse a mapping that does not fit before writing, and resume after kill -9.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from catalog.directory import Directory
from catalog.importing.importer import ImportBrokeOff, import_file, process_alive
from schemas.errors import InvalidInput
from warehouse.store.sqlite.scratch import ImportScratch
from warehouse.workspace import Workspace

pytestmark = pytest.mark.both_stores

MULU = str(Path(sys.executable).with_name("mulu"))
GENERIC_HEADER = ["目录名称", "提供部门", "共享类型", "更新周期", "最近更新时间", "摘要"]


def mulu(home: Path, *args: str, **options) -> subprocess.CompletedProcess:
    env = {**os.environ, "MULU_HOME": str(home), "MULU_USER": "importer", "COLUMNS": "200"}
    return subprocess.run(
        [MULU, *args], capture_output=True, text=True, env=env, check=False, **options
    )


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return path


def generic_rows(count: int, start: int = 0) -> list[list[str]]:
    return [
        [f"目录{n:06d}", f"部门{n % 37}", "无条件共享", "每月", f"2024-0{n % 9 + 1}-15", f"摘要{n}"]
        for n in range(start, start + count)
    ]


def state(directory: Directory) -> tuple[dict[str, int], str]:
    """Row counts of the catalogue's tables and a checksum over what the entries say."""
    con = directory.store.database.connection()
    counts = {
        table: con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        for table in ("entries", "entry_history", "organisations", "imports", "import_rejects")
    }
    return counts, entries_checksum(con)


def entries_checksum(con) -> str:
    digest = hashlib.sha256()
    for row in con.execute(
        "SELECT code, name, provider_code, provider_name, share_type, update_cycle, updated_at, "
        "summary, source_key FROM entries ORDER BY code"
    ):
        digest.update(json.dumps(list(row), ensure_ascii=False).encode())
    return digest.hexdigest()


def import_row(directory: Directory, import_id: int) -> dict:
    found = directory.store.imports.get(import_id)
    assert found is not None
    return found


def dcat_catalogue(count: int) -> dict:
    return {
        "conformsTo": "https://project-open-data.cio.gov/v1.1/schema",
        "dataset": [
            {
                "title": f"Dataset {n}",
                "identifier": f"https://example.gov/id/{n}",
                "publisher": {"name": "Example Agency"},
                "description": f"About dataset {n}",
                "accessLevel": "public",
                "modified": "2023-05-01",
                "keyword": ["example"],
            }
            for n in range(count)
        ],
    }


# --- row-level isolation -------------------------------------------------------------------
def test_unpaired_surrogates_warn_and_every_record_lands(directory, workspace, tmp_path):
    catalogue = dcat_catalogue(316)
    for n in (17, 150, 301):  # a Windows-1252 apostrophe decoded badly: "\udc92"
        catalogue["dataset"][n]["description"] = "Agency\udc92s data"
    path = tmp_path / "data.json"
    path.write_text(json.dumps(catalogue), encoding="ascii")  # "\udc92" escapes, as found
    assert path.read_text().count("\\udc92") == 3

    report = import_file(directory, workspace, path)
    assert (report.records, report.created, report.rejected, report.warned) == (316, 316, 0, 3)
    assert [(p.row, p.severity, p.reason.code) for p in report.problems] == [
        (18, "warning", "bad_characters"),
        (151, "warning", "bad_characters"),
        (302, "warning", "bad_characters"),
    ]
    row = import_row(directory, report.import_id)
    assert (row["status"], row["records"], row["created"], row["warned"]) == (
        "finished",
        316,
        316,
        3,
    )
    summaries = [e["summary"] for e in directory.iter_entries() if "\ufffd" in e["summary"]]
    assert summaries == ["Agency\ufffds data"] * 3


def test_a_one_megabyte_field_lands_whole(directory, workspace, tmp_path):
    big = "长" * (1 << 20)  # 1 Mi characters, 3 MB of UTF-8
    rows = [GENERIC_HEADER, *generic_rows(2)]
    rows.insert(2, ["大字段目录", "区统计局", "无条件共享", "每月", "2024-01-01", big])
    path = write_csv(tmp_path / "big.csv", rows)
    report = import_file(directory, workspace, path)
    assert (report.records, report.created, report.rejected) == (3, 3, 0), report.lines()
    (entry,) = [e for e in directory.iter_entries() if e["name"] == "大字段目录"]
    assert entry["summary"] == big


def test_reject_keeps_the_source_line_verbatim(directory, workspace, tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text(
        "目录名称,提供部门,共享类型,更新周期\n"
        "好条目,区统计局,无条件共享,每月\n"
        '"缺提供方, 有逗号",,无条件共享,"每月"\n'
        "多一列,区统计局,无条件共享,每月,多余\n",
        encoding="utf-8",
    )
    lines = path.read_text(encoding="utf-8").splitlines()
    report = import_file(directory, workspace, path)
    assert (report.created, report.rejected) == (1, 2)
    with Path(report.rejects_file).open(encoding="utf-8-sig", newline="") as handle:
        kept = list(csv.DictReader(handle))
    assert [(k["row"], k["severity"], k["raw"]) for k in kept] == [
        ("3", "reject", lines[2]),
        ("4", "reject", lines[3]),
    ]
    stored = directory.store.imports.problems(report.import_id)
    assert [p["raw"] for p in stored] == [lines[2], lines[3]]
    assert [p["code"] for p in stored] == ["missing_field", "extra_fields"]


@pytest.mark.slow
def test_english_reasons_with_lang_en(directory, workspace, tmp_path):
    path = write_csv(
        tmp_path / "en.csv",
        [GENERIC_HEADER, ["缺提供方", "", "无条件共享", "每月", "", ""]],
    )
    report = import_file(directory, workspace, path, lang="en")
    assert report.lines() == [f"{path}:2: 提供部门 (provider_name): missing 信息资源提供方"]
    assert report.as_dict()["problems"][0]["reason"] == "missing 信息资源提供方"
    assert report.as_dict("zh")["problems"][0]["reason"] == "缺少 信息资源提供方"
    done = mulu(workspace.root, "catalog", "import", str(path), "--lang", "en")
    assert done.returncode == 3
    assert f"{path}:2: 提供部门 (provider_name): missing 信息资源提供方" in done.stdout
    assert "rejects/import-" in done.stdout


# --- duplicates and identity ------------------------------------------------------------------
@pytest.mark.slow
def test_exact_repeats_merge_into_one_entry_each(directory, workspace, tmp_path):
    distinct = [
        {"标题": f"数据集{n}", "来源部门": f"部门{n % 4}", "更新频率": "每月", "数据格式": "csv"}
        for n in range(20)
    ]
    records = [dict(distinct[n % 20]) for n in range(2300)]  # a portal repeating its pages
    path = tmp_path / "portal.json"
    path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    report = import_file(directory, workspace, path)
    assert (report.records, report.created, report.duplicates, report.rejected) == (
        2300,
        20,
        2280,
        0,
    )
    assert report.warned == 0  # a repeat is counted as a duplicate, not a warned record
    assert directory.stats()["entries"] == 20
    first = report.problems[0]
    assert (first.row, first.field, first.reason.code, first.severity) == (
        21,
        "record",
        "duplicate_record",
        "warning",
    )
    assert first.text("zh") == "与第 1 行完全相同，已合并为一个目录条目"
    row = import_row(directory, report.import_id)
    assert (row["duplicates"], row["created"]) == (2280, 20)
    again = import_file(directory, workspace, path)
    assert (again.created, again.updated, again.unchanged, again.duplicates) == (0, 0, 20, 2280)


def test_same_key_different_values_stay_distinct(directory, workspace, tmp_path):
    rows = [GENERIC_HEADER] + [
        ["年度统计公报", "区统计局", "无条件共享", "每年", f"{year}-03-01", f"{year} 年"]
        for year in (2021, 2022, 2023)
    ]
    path = write_csv(tmp_path / "yearly.csv", rows)
    report = import_file(directory, workspace, path)
    assert (report.created, report.duplicates) == (3, 0)
    again = import_file(directory, workspace, path)
    assert (again.created, again.unchanged) == (0, 3)


def test_explicit_mapping_with_missing_key_column_fails_before_writing(
    directory, workspace, tmp_path, real_data
):
    import_file(directory, workspace, real_data / "cn-portals" / "anhui_huainan.json")
    before = state(directory)
    path = write_csv(tmp_path / "other.csv", [["标题", "来源部门"], ["甲", "乙"]])
    mapping = tmp_path / "mine.yaml"
    mapping.write_text(
        "name: mine\ndetect: {all: [标题, 来源部门, 更新频率]}\nkey: [链接]\n"
        "fields:\n  name: 标题\n  provider_name: 来源部门\n  update_cycle: 更新频率\n"
        "defaults: {share_type: 无条件共享}\n",
        encoding="utf-8",
    )
    with pytest.raises(InvalidInput) as refused:
        import_file(directory, workspace, path, mapping=str(mapping), lang="en")
    message = str(refused.value)
    assert "更新频率, 链接" in message  # the missing columns …
    assert "the file's columns: 来源部门, 标题" in message  # … and the ones it has
    assert state(directory) == before
    assert not list(workspace.rejects_dir.glob("*other*"))


@pytest.mark.slow
def test_empty_file_exits_2_and_writes_nothing(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    done = mulu(tmp_path / "ws", "catalog", "import", str(empty))
    assert done.returncode == 2, done.stdout
    assert "empty.csv" in done.stderr
    assert "Traceback" not in done.stderr
    listed = mulu(tmp_path / "ws", "catalog", "imports", "--json")
    assert json.loads(listed.stdout) == []


# --- the imports row ----------------------------------------------------------------------
def broken_off_export(path: Path, count: int = 3_000) -> tuple[Path, str]:
    """A JSON export cut short 5,000 characters before its end (a download that broke off),
    and the whole text."""
    text = json.dumps(
        [{"标题": f"数据集{n}", "来源部门": "区统计局", "更新频率": "每月"} for n in range(count)],
        ensure_ascii=False,
    )
    path.write_text(text[: len(text) - 5000], encoding="utf-8")
    return path, text


@pytest.mark.slow
def test_a_file_broken_off_mid_way_keeps_what_landed_and_says_so(directory, workspace, tmp_path):
    path, _ = broken_off_export(tmp_path / "cut.json")
    with pytest.raises(ImportBrokeOff) as broke:
        import_file(directory, workspace, path, lang="en")
    report = broke.value.report
    landed = directory.stats()["entries"]
    assert 2_000 < landed < 3_000
    assert (report.status, report.records, report.created) == ("failed", landed, landed)
    assert str(broke.value).startswith(f"{landed:,} records landed before the file broke off at")
    assert "cut.json: JSON syntax error after record" in str(broke.value)
    assert str(broke.value).endswith("fix the file and re-run to resume")
    assert broke.value.exit_code not in (0, 1, 2, 3, 4, 5, 6)
    (row,) = directory.store.imports.recent()
    assert (row["status"], row["records"], row["created"]) == ("failed", landed, landed)
    assert row["finished_at"] is not None
    assert row["error"].startswith("ReadError: ")
    assert "cut.json" in row["error"]


@pytest.mark.slow
def test_cli_exit_8_for_a_broken_off_file_then_rerun_resumes(tmp_path):
    path, whole = broken_off_export(tmp_path / "cut.json")
    home = tmp_path / "ws"
    done = mulu(home, "catalog", "import", str(path), "--lang", "en")
    assert done.returncode == 8, done.stderr
    assert "Traceback" not in done.stderr
    stderr = " ".join(done.stderr.split())
    assert "records landed before the file broke off at" in stderr
    assert "fix the file and re-run to resume" in stderr
    assert "records →" in done.stdout  # what landed is counted, as for a finished import
    as_json = mulu(home, "catalog", "import", str(path), "--json")
    assert as_json.returncode == 8
    assert json.loads(as_json.stdout)["status"] == "failed"
    assert json.loads(as_json.stdout)["error"].startswith("ReadError: ")

    path.write_text(whole, encoding="utf-8")  # the file downloaded whole this time
    again = mulu(home, "catalog", "import", str(path), "--json")
    assert again.returncode == 0, again.stderr
    report = json.loads(again.stdout)
    assert report["status"] == "finished"
    assert report["records"] == report["created"] + report["unchanged"] == 3_000
    assert report["unchanged"] > 2_000  # the records that landed before the break


def test_no_scratch_store_no_running_import_row(directory, workspace, tmp_path):
    path = write_csv(tmp_path / "small.csv", [GENERIC_HEADER, *generic_rows(3)])
    scratch_folder = workspace.staging_dir / ".imports"
    scratch_folder.parent.mkdir(parents=True, exist_ok=True)
    scratch_folder.write_text("not a folder")  # the scratch store cannot be made
    with pytest.raises(FileExistsError):
        import_file(directory, workspace, path)
    assert directory.store.imports.recent() == []


def test_scratch_store_finds_repeats_and_counts_keys_a_chunk_at_a_time(tmp_path):
    with ImportScratch(tmp_path / "scratch") as scratch:
        assert scratch.first_rows([(11, 1), (22, 2), (11, 3)]) == [None, None, 1]
        scratch.commit()
        assert scratch.first_rows([(22, 4), (33, 5)]) == [2, None]
        assert scratch.first_rows([(44, 6), (44, 6)]) == [None, 6]  # rows need not differ
        assert scratch.counts([7, 8, 7]) == [1, 1, 2]
        assert scratch.counts([7, 9]) == [3, 1]
        # (count, row first counted at): the row of the first stays, across chunks
        assert scratch.counted([(70, 2), (70, 5)]) == [(1, 2), (2, 2)]
        scratch.commit()
        assert scratch.counted([(70, 9), (80, 10)]) == [(3, 2), (1, 10)]
        # codes: (row, record digest) of the first record that gave each
        assert scratch.first_codes([(5, 100, 1), (6, 200, 2), (5, 300, 3)]) == [
            None,
            None,
            (1, 100),
        ]
        scratch.commit()
        assert scratch.first_codes([(5, 100, 4), (7, 400, 5)]) == [(1, 100), None]
        path = scratch.path
        assert path.exists()
    assert not path.exists()


def test_a_dead_import_s_scratch_file_is_swept(tmp_path):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    folder = tmp_path / "scratch"
    folder.mkdir()
    left = folder / f"import-{gone.pid}-abc.sqlite"
    left.write_bytes(b"")
    ImportScratch(folder, process_alive).close()
    assert not left.exists()


@pytest.mark.slow
def test_a_dead_process_import_is_marked_interrupted(directory, workspace):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    import socket

    imports = directory.store.imports
    dead = imports.start(
        "x.csv", "m", "t", "2026-01-01T00:00:00", pid=gone.pid, host=socket.gethostname()
    )
    alive = imports.start(
        "y.csv", "m", "t", "2026-01-01T00:00:00", pid=os.getpid(), host=socket.gethostname()
    )
    elsewhere = imports.start(
        "z.csv", "m", "t", "2026-01-01T00:00:00", pid=gone.pid, host="other-host"
    )
    done = mulu(workspace.root, "catalog", "imports", "--json")
    assert done.returncode == 0, done.stderr
    status = {r["id"]: r["status"] for r in json.loads(done.stdout)}
    assert status == {dead: "interrupted", alive: "running", elsewhere: "running"}


@pytest.mark.slow
def test_kill_9_then_rerun_resumes_to_the_same_catalogue(tmp_path):
    total = 50_000
    path = write_csv(tmp_path / "big.csv", [GENERIC_HEADER, *generic_rows(total)])
    killed_home = tmp_path / "killed"
    env = {**os.environ, "MULU_HOME": str(killed_home), "MULU_USER": "importer"}
    process = subprocess.Popen(
        [MULU, "catalog", "import", str(path), "--json"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    workspace = Workspace(killed_home)
    committed = 0
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if workspace.metadata_db.exists():
            directory = Directory.open(workspace, user="watcher")
            try:
                committed = directory.store.entries.count(status="active")
            finally:
                directory.close()
            if committed >= 10_000:  # at least two batches committed
                break
        time.sleep(0.05)
    assert process.poll() is None, "the import finished before it could be killed"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()

    listed = json.loads(mulu(killed_home, "catalog", "imports", "--json").stdout)
    assert [r["status"] for r in listed] == ["interrupted"]
    assert 5_000 <= listed[0]["created"] <= committed  # the counts say how far it got

    again = mulu(killed_home, "catalog", "import", str(path), "--json")
    assert again.returncode == 0, again.stderr
    resumed = json.loads(again.stdout)
    assert resumed["created"] + resumed["unchanged"] == total
    assert resumed["unchanged"] >= committed
    assert resumed["updated"] == 0

    clean_home = tmp_path / "clean"
    assert mulu(clean_home, "catalog", "import", str(path), "--json").returncode == 0
    results = []
    for home in (killed_home, clean_home):
        directory = Directory.open(Workspace(home), user="watcher")
        try:
            con = directory.store.database.connection()
            results.append(
                (
                    directory.store.entries.count(status="active"),
                    entries_checksum(con),
                    con.execute("SELECT count(*) FROM organisations").fetchone()[0],
                )
            )
        finally:
            directory.close()
    assert results[0] == results[1]
    assert results[0][0] == total
    listed = json.loads(mulu(killed_home, "catalog", "imports", "--json").stdout)
    assert [r["status"] for r in listed] == ["finished", "interrupted"]
    assert not list((killed_home / "staging" / ".imports").glob("*.sqlite"))
