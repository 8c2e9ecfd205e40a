"""The directory: create, update, retire, history, idempotent bulk apply, concurrent writers."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from catalog.directory import Directory, EntryNotFound, EntryRecord
from warehouse.store.opening import open_database

pytestmark = pytest.mark.both_stores

ENTRY = {
    "name": "城乡低保对象信息",
    "provider_name": "区民政局",
    "share_type": "有条件共享",
    "share_condition": "仅限社会救助业务使用",
    "update_cycle": "每月",
    "summary": "城乡最低生活保障对象名单",
    "data_items": [{"name": "姓名", "data_type": "C"}, {"name": "身份证号", "data_type": "C"}],
}


def test_create_update_retire_keeps_who_when_old_and_new(directory: Directory):
    code = directory.create(ENTRY)
    assert code == "300000/000001"
    directory.user = "steward-li"
    directory.update(code, {"update_cycle": "每季", "summary": "低保对象"})
    directory.retire(code, reason="并入社会救助对象库")
    history = directory.history(code)
    assert [h["action"] for h in history] == ["create", "update", "retire"]
    assert [h["version"] for h in history] == [1, 2, 3]
    assert history[0]["changed_by"] == "tester"
    assert history[1]["changed_by"] == "steward-li"
    assert history[1]["changes"] == {
        "update_cycle": ["每月", "每季度"],
        "summary": ["城乡最低生活保障对象名单", "低保对象"],
    }
    assert history[2]["changes"]["status"] == ["active", "retired"]
    assert directory.get(code)["status"] == "retired"
    assert directory.stats()["entries"] == 0
    assert directory.stats()["retired"] == 1
    first = directory.as_of_version(code, 1)
    assert (first["summary"], first["update_cycle"], first["status"]) == (
        "城乡最低生活保障对象名单",
        "每月",
        "active",
    )
    assert directory.as_of_version(code, 2)["update_cycle"] == "每季度"
    assert directory.as_of_version(code, 3) == directory.get(code)


def test_update_with_bad_value_changes_nothing(directory: Directory):
    code = directory.create(ENTRY)
    with pytest.raises(ValueError, match="无法识别的更新周期"):
        directory.update(code, {"update_cycle": "看情况"})
    assert directory.get(code)["update_cycle"] == "每月"
    assert len(directory.history(code)) == 1


def test_unknown_code_is_a_clear_error(directory: Directory):
    with pytest.raises(EntryNotFound, match="101001/999999"):
        directory.get("101001/999999")
    with pytest.raises(EntryNotFound):
        directory.get("not-a-code")


def test_bulk_apply_is_idempotent_and_reports_bad_records(directory: Directory):
    records = [
        EntryRecord({**ENTRY, "name": f"台账{i}"}, row=i + 2, source_key=f"t:{i}")
        for i in range(120)
    ]
    records.append(EntryRecord({**ENTRY, "provider_name": ""}, row=200, source_key="t:bad"))
    first = directory.apply(records, source="test", batch_size=50)
    assert (first.created, first.updated, first.unchanged) == (120, 0, 0)
    assert [(e.row, e.field) for e in first.errors] == [(200, "provider_name")]
    again = directory.apply(records, source="test", batch_size=50)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 120)
    changed = [EntryRecord({"name": "台账7", "updated_at": "2026-01-02"}, source_key="t:7")]
    third = directory.apply(changed, source="test", keep_codes=True)
    assert third.updated == 1
    entry = directory.get(third.codes[0])
    assert entry["updated_at"] == "2026-01-02T00:00:00"
    assert entry["update_cycle"] == "每月"  # a partial record keeps the other fields
    assert directory.store.history.updates(entry["code"])[-1]["updated_at"] == "2026-01-02T00:00:00"


def test_explicit_codes_and_provider_resolution(directory: Directory):
    directory.add_organisations([{"code": "11320399MB0000001X", "name": "区民政局"}])
    code = directory.create({**ENTRY, "code": "103001-000042"})
    entry = directory.get(code)
    assert code == "103001/000042"
    assert entry["provider_code"] == "11320399MB0000001X"  # matched by name
    assert entry["classification"] == "103001"
    assert entry["resource_class"] == "1"
    new = directory.create({**ENTRY, "provider_name": "区新设局"})
    assert directory.get(new)["provider_code"].startswith("L")
    assert directory.stats()["organisations"] == 2


WRITER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from catalog.directory import Directory, EntryRecord
    from warehouse.workspace import Workspace
    d = Directory.open(Workspace(Path(sys.argv[1])), user=sys.argv[2])
    for start in range(0, 1500, 100):
        records = [EntryRecord({"code": f"{sys.argv[3]}/{i:06d}", "name": f"条目{i}",
                                "provider_name": "区统计局", "share_type": "无条件共享"})
                   for i in range(start + 1, start + 101)]
        result = d.apply(records, source=sys.argv[2])
        assert not result.errors, result.errors
    print("done")
""")


@pytest.mark.slow
def test_two_processes_write_while_a_third_reads(workspace):
    open_database(workspace).close()  # create and migrate before the writers start
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(workspace.root), name, prefix],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, prefix in (("a", "101001"), ("b", "201001"))
    ]
    reader = open_database(workspace).connection()
    seen = []
    while any(w.poll() is None for w in writers):
        seen.append(reader.execute("SELECT count(*) FROM entries").fetchone()[0])
    for writer in writers:
        out, err = writer.communicate()
        assert writer.returncode == 0, err
        assert out.strip() == "done"
    assert reader.execute("SELECT count(*) FROM entries").fetchone()[0] == 3000
    assert seen == sorted(seen)  # readers see whole batches, never a torn write


def test_report_update_logs_one_event_and_moves_updated_at(directory: Directory):
    import datetime as dt

    code = directory.create(ENTRY)
    directory.report_update(code, at=dt.datetime(2026, 3, 1, 9, 30), note="三月数据已更新")
    events = directory.store.history.updates(code)
    assert [(e["source"], e["updated_at"]) for e in events] == [("report", "2026-03-01T09:30:00")]
    assert directory.get(code)["updated_at"] == "2026-03-01T09:30:00"
    directory.report_update(code, at=dt.datetime(2026, 2, 1))  # an older report: logged only
    assert directory.get(code)["updated_at"] == "2026-03-01T09:30:00"
    assert len(directory.store.history.updates(code)) == 2


def test_a_source_record_cannot_take_a_second_code(directory: Directory):
    first = directory.apply(
        [EntryRecord({**ENTRY, "code": "101001/000001"}, row=2, source_key="s:1")], source="t"
    )
    assert first.created == 1
    clash = directory.apply(
        [
            EntryRecord({**ENTRY, "code": "101001/000002"}, row=2, source_key="s:1"),
            EntryRecord({**ENTRY, "name": "另一条"}, row=3, source_key="s:2"),
        ],
        source="t",
    )
    assert [(e.row, e.field) for e in clash.errors] == [(2, "code")]
    assert "101001/000001" in clash.errors[0].message()
    assert clash.created == 1  # the good record in the same batch still lands


def test_retiring_through_an_import_is_recorded_as_retire(directory: Directory):
    code = directory.create(ENTRY)
    directory.apply([EntryRecord({"code": code, "status": "retired"})], source="t")
    assert directory.history(code)[-1]["action"] == "retire"


ALLOCATOR = textwrap.dedent("""
    import sys
    from pathlib import Path
    from catalog.directory import Directory, EntryRecord
    from warehouse.workspace import Workspace
    d = Directory.open(Workspace(Path(sys.argv[1])), user=sys.argv[2])
    for batch in range(20):
        records = [EntryRecord({"name": f"{sys.argv[2]}-{batch}-{i}", "provider_name": "区统计局",
                                "share_type": "无条件共享"}, source_key=f"{sys.argv[2]}:{batch}:{i}")
                   for i in range(50)]
        result = d.apply(records, source=sys.argv[2])
        assert not result.errors and result.created == 50, result.errors
    print("done")
""")


@pytest.mark.slow
def test_processes_allocating_codes_at_once_never_collide(workspace):
    open_database(workspace).close()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", ALLOCATOR, str(workspace.root), name],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("x", "y", "z")
    ]
    for proc in procs:
        out, err = proc.communicate()
        assert proc.returncode == 0, err
    con = open_database(workspace).connection()
    codes = [r[0] for r in con.execute("SELECT code FROM entries")]
    assert len(codes) == len(set(codes)) == 3000
    assert max(codes) == "300000/003000"


def test_store_closes_the_connections_of_ended_threads(workspace):
    """A server's worker threads come and go; their connections must not pile up."""
    import threading

    from warehouse.store import Store

    store = Store.open(workspace)
    try:
        for _ in range(5):
            worker = threading.Thread(target=lambda: store.entries.count())
            worker.start()
            worker.join()
        store.entries.count()  # a new thread's first use closes the ended threads' connections
        assert store.database.open_connections() <= 2  # this thread's and the last worker's
    finally:
        store.close()


@pytest.mark.sqlite_only
def test_registrations_made_before_load_ids_are_found_by_load_id(workspace):
    """Migration 007 reads the load id out of the note that registrations carried before, so a
    load registered by the old code is not registered a second time."""
    import sqlite3

    from warehouse.store import Store
    from warehouse.store.schema import migrations, split_sql

    con = sqlite3.connect(workspace.metadata_db, isolation_level=None)
    for version, sql in migrations("sqlite"):
        if version <= 6:
            for statement in split_sql(sql):
                con.execute(statement)
    con.execute("PRAGMA user_version = 6")
    con.execute(
        "INSERT INTO entry_updates (code, updated_at, source, note, recorded_at) VALUES "
        "('301005/000012', '2026-11-01T02:00:00', 'pipeline', "
        "'di_bao load 20261101T020000-ab12cd: 120 rows', '2026-11-01T02:00:05'), "
        "('301005/000012', '2026-10-01T02:00:00', 'report', 'di_bao load by hand: 3 rows', "
        "'2026-10-01T02:00:05')"
    )
    con.close()
    with Store.open(workspace) as store:
        assert store.history.has_load("20261101T020000-ab12cd")
        assert not store.history.has_load("by hand")
        assert [u["load_id"] for u in store.history.updates("301005/000012")] == [
            None,
            "20261101T020000-ab12cd",
        ]
