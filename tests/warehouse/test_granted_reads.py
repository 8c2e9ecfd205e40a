"""Granted reads (warehouse.granted): a real DuckLake loaded by the real loader, read through a
DataAccess — the granted columns only, PII masked inside DuckDB, row filters bound as
parameters, stable pages with totals, and downloads (CSV with BOM, Excel, Parquet) that parse
back to exactly the granted view."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pyarrow.parquet as pq
import pytest
from loading_fixtures import ROSTER_HEADER, ROSTER_ROWS, write_csv, write_spec
from python_calamine import CalamineWorkbook

from schemas.access import DataAccess
from schemas.errors import Conflict, InvalidInput, NotFound
from warehouse import granted
from warehouse.granted import UTF8_BOM, read_page, stream
from warehouse.lake import connect_lake
from warehouse.load import load_dataset
from warehouse.masking import mask_value
from warehouse.workspace import Workspace

ALL = ("person_name", "id_card_no", "household_size", "monthly_allowance", "approved_on")


@pytest.fixture(scope="module")
def roster(tmp_path_factory):
    """The 低保 roster (4 rows, 姓名 and 身份证号 PII) loaded into the lake as ``dibao``; the
    tests only read it."""
    folder = tmp_path_factory.mktemp("granted")
    workspace = Workspace(folder / "ws").ensure()
    path = write_csv(folder / "exchange" / "roster.csv", ROSTER_HEADER, ROSTER_ROWS)
    load_dataset(workspace, write_spec(folder / "datasets", "dibao", path))
    return workspace


def access(**changes) -> DataAccess:
    found = {
        "dataset": "dibao",
        "table": "dibao",
        "columns": ALL,
        "masked": frozenset({"person_name", "id_card_no"}),
        "pii": frozenset({"person_name", "id_card_no"}),
    }
    found.update(changes)
    return DataAccess(**found)


def clear_rows(workspace, columns=ALL) -> list[tuple]:
    con = connect_lake(workspace, read_only=True)
    try:
        names = ", ".join(columns)
        return con.sql(f"SELECT {names} FROM lake.main.dibao ORDER BY rowid").fetchall()
    finally:
        con.close()


def masked_view(workspace, columns=ALL, masked=("person_name", "id_card_no")) -> list[list]:
    return [
        [mask_value(v) if c in masked else v for c, v in zip(columns, row, strict=True)]
        for row in clear_rows(workspace, columns)
    ]


@pytest.mark.slow
def test_a_page_has_the_granted_columns_with_pii_masked(roster):
    page = read_page(roster, access(columns=("id_card_no", "household_size")))
    assert page.columns == ["id_card_no", "household_size"]
    assert page.types == ["VARCHAR", "INTEGER"]
    assert page.total == 4
    assert page.rows == masked_view(roster, ("id_card_no", "household_size"), ("id_card_no",))
    assert page.rows[0] == ["010*************14", 3]  # 010101199003074514 masked in DuckDB
    assert not any("199003074514" in str(v) for r in page.rows for v in r)


@pytest.mark.slow
def test_the_owner_reads_clear_values_in_rowid_order(roster):
    page = read_page(roster, access(masked=frozenset(), basis="owner"))
    assert page.rows == [list(r) for r in clear_rows(roster)]
    assert page.rows[0][:2] == ["张三", "010101199003074514"]
    assert page.rows[0][3] == Decimal("1250.50")


@pytest.mark.slow
def test_pages_are_stable_and_total_is_the_whole_view(roster):
    whole = read_page(roster, access(), limit=100).rows
    pages = [read_page(roster, access(), offset=o, limit=3) for o in (0, 3, 6)]
    assert [p.total for p in pages] == [4, 4, 4]
    assert pages[0].rows + pages[1].rows == whole
    assert pages[2].rows == []
    assert read_page(roster, access(), limit=0).rows == []
    with pytest.raises(InvalidInput):
        read_page(roster, access(), offset=-1)


@pytest.mark.slow
def test_a_row_filter_keeps_matching_rows_and_values_are_parameters(roster):
    sized = read_page(roster, access(row_filter=(("household_size", ("3", "5")),)))
    assert sized.total == 2
    assert [r[2] for r in sized.rows] == [3, 5]
    both = access(row_filter=(("household_size", ("3", "5")), ("person_name", ("赵六",))))
    assert read_page(roster, both).total == 1
    # A value that would be SQL if pasted in is only a value.
    hostile = access(row_filter=(("person_name", ("x' OR '1'='1",)),))
    assert read_page(roster, hostile).total == 0
    assert read_page(roster, access(row_filter=(("person_name", ()),))).total == 0


def test_a_filter_on_a_missing_column_refuses_and_missing_columns_drop(roster):
    with pytest.raises(Conflict):
        read_page(roster, access(row_filter=(("district", ("一区",)),)))
    page = read_page(roster, access(columns=("household_size", "no_longer_there")))
    assert page.columns == ["household_size"]
    with pytest.raises(Conflict):
        read_page(roster, access(columns=("no_longer_there",)))


def test_a_dataset_without_a_table_is_not_found(roster):
    with pytest.raises(NotFound):
        read_page(roster, access(table="never_loaded"))
    with pytest.raises(NotFound):
        stream(roster, access(table="never_loaded"), "csv")


@pytest.mark.slow
def test_csv_download_has_a_bom_and_parses_back(roster):
    pieces = stream(roster, access(row_filter=(("household_size", ("1", "3", "5")),)), "csv")
    body = b"".join(pieces)
    assert pieces.finished
    assert pieces.rows == 3
    assert body.startswith(UTF8_BOM)
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))
    assert rows[0] == list(ALL)
    expected = [r for r in masked_view(roster) if r[2] in (1, 3, 5)]
    assert rows[1:] == [["" if v is None else str(v) for v in r] for r in expected]
    assert "张三" not in body.decode("utf-8-sig")
    assert "张*" not in body.decode("utf-8-sig")  # a 2-character name is ***


def test_parquet_download_is_the_granted_view(roster, tmp_path):
    pieces = stream(roster, access(), "parquet")
    path = tmp_path / "d.parquet"
    path.write_bytes(b"".join(pieces))
    table = pq.read_table(path)
    assert table.column_names == list(ALL)
    assert pieces.rows == table.num_rows == 4
    assert [list(r.values()) for r in table.to_pylist()] == masked_view(roster)


@pytest.mark.slow
def test_excel_download_is_the_granted_view(roster, tmp_path):
    pieces = stream(roster, access(columns=("person_name", "household_size")), "xlsx")
    path = tmp_path / "d.xlsx"
    path.write_bytes(b"".join(pieces))
    sheet = CalamineWorkbook.from_path(str(path)).get_sheet_by_name("数据").to_python()
    assert sheet[0] == ["person_name", "household_size"]
    got = [[r[0], None if r[1] == "" else int(r[1])] for r in sheet[1:]]
    assert got == masked_view(roster, ("person_name", "household_size"), ("person_name",))
    assert pieces.rows == 4


def test_an_empty_view_downloads_the_header_alone(roster, tmp_path):
    nothing = access(row_filter=(("person_name", ("nobody",)),))
    body = b"".join(stream(roster, nothing, "csv")).decode("utf-8-sig")
    assert body.splitlines() == [",".join(f'"{c}"' for c in ALL)]
    path = tmp_path / "e.parquet"
    path.write_bytes(b"".join(stream(roster, nothing, "parquet")))
    assert pq.read_table(path).num_rows == 0
    xlsx = tmp_path / "e.xlsx"
    xlsx.write_bytes(b"".join(stream(roster, nothing, "xlsx")))
    assert CalamineWorkbook.from_path(str(xlsx)).get_sheet_by_name("数据").to_python() == [
        list(ALL)
    ]


def test_a_stream_closed_early_closes_its_connection(roster):
    pieces = stream(roster, access(), "csv")
    assert next(pieces) == UTF8_BOM
    pieces.close()
    assert not pieces.finished


def test_an_unknown_format_is_refused(roster):
    with pytest.raises(InvalidInput):
        stream(roster, access(), "json")  # type: ignore[arg-type]


def test_an_excel_download_over_one_sheet_is_refused(roster, monkeypatch):
    monkeypatch.setattr(granted, "EXCEL_ROWS", 3)
    with pytest.raises(InvalidInput, match="CSV 或 Parquet"):
        stream(roster, access(), "xlsx")
    assert b"".join(stream(roster, access(), "csv")).count(b"\r\n") == 5  # header + 4 rows


@pytest.mark.slow
def test_reads_share_one_lake_connection_and_see_new_loads(tmp_path):
    """A later load (another snapshot, even another schema) is read at once through the
    process's cached connection."""
    workspace = Workspace(tmp_path / "ws").ensure()
    first = write_csv(tmp_path / "in" / "a.csv", ROSTER_HEADER, ROSTER_ROWS[:2])
    spec = write_spec(tmp_path / "specs", "dibao", first)
    load_dataset(workspace, spec)
    assert read_page(workspace, access()).total == 2
    write_csv(tmp_path / "in" / "a.csv", ROSTER_HEADER, ROSTER_ROWS)
    load_dataset(workspace, spec)
    assert read_page(workspace, access()).total == 4


@pytest.mark.slow
def test_every_format_writes_every_kind_of_value(tmp_path):
    """Types the loader seldom makes (timestamps, times, booleans, NaN, blobs, lists, structs,
    UUIDs, intervals, large integers) and a text that looks like a formula all download."""
    workspace = Workspace(tmp_path / "ws").ensure()
    con = connect_lake(workspace)
    con.execute(
        "CREATE TABLE lake.main.kinds AS SELECT TIMESTAMP '2026-01-02 03:04:05' AS ts, "
        "TIME '12:34:56' AS tm, true AS flag, 'NaN'::DOUBLE AS nan, '\\xAA'::BLOB AS bytes, "
        "[1, 2] AS list, {'a': 1} AS record, "
        "'5a2704c4-6638-4a10-a196-f88d3750528f'::UUID AS id, "
        "INTERVAL 3 DAY AS span, 12345678901234567::BIGINT AS big, '=1+1' AS text"
    )
    con.close()
    columns = ("ts", "tm", "flag", "nan", "bytes", "list", "record", "id", "span", "big", "text")
    kinds = DataAccess(dataset="kinds", table="kinds", columns=columns)
    body = b"".join(stream(workspace, kinds, "csv")).decode("utf-8-sig")
    assert body.splitlines()[1] == (
        '"2026-01-02 03:04:05","12:34:56",true,nan,"\\xAA","[1, 2]","{\'a\': 1}",'
        '"5a2704c4-6638-4a10-a196-f88d3750528f","3 days",12345678901234567,"=1+1"'
    )
    path = tmp_path / "k.xlsx"
    path.write_bytes(b"".join(stream(workspace, kinds, "xlsx")))
    row = CalamineWorkbook.from_path(str(path)).get_sheet_by_name("数据").to_python()[1]
    assert row[2:5] == [True, "nan", "\\xAA"]
    assert row[9:] == ["12345678901234567", "=1+1"]  # kept as text: no digits lost, no formula
    parquet = tmp_path / "k.parquet"
    parquet.write_bytes(b"".join(stream(workspace, kinds, "parquet")))
    [record] = pq.read_table(parquet).to_pylist()
    assert (record["list"], record["record"], record["span"]) == ([1, 2], {"a": 1}, "3 days")
