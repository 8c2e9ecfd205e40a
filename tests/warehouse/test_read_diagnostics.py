"""Diagnostics in Mulu's words (issue 11): a file that cannot be read is reported in one line
naming the file, the line(s) and the reason — repeated header names, every ragged row (up to a
limit) with expected and found field counts, lines too long to read (never echoed), exact NDJSON
lines, Excel's empty header cells as ``column<N>`` — and the live table stays as it was."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from loading_fixtures import (
    ROSTER_COLUMNS,
    ROSTER_HEADER,
    ROSTER_ROWS,
    lake_rows,
    live_table,
    loads,
    write_csv,
    write_spec,
    write_xlsx,
)

from schemas.identity import make_id_card, normalise_id_card
from warehouse.load import SchemaDriftError, SourceError, load_dataset
from warehouse.read.diagnose import MAX_LISTED
from warehouse.workspace import Workspace

# DuckDB's words for options a spec cannot set: never shown.
DUCKDB_OPTIONS = ("null_padding", "strict_mode", "ignore_errors", "max_line_size", "sample_size")
GOOD = ["张三", "110101199003074514", "3", "1250.50", "2026-01-05"]


def published(workspace: Workspace, sources: Path, specs: Path, **source) -> tuple:
    """Publish the roster as ``dibao`` and return (spec, its source path, the live state)."""
    path = write_csv(sources / "低保_202610.csv", ROSTER_HEADER, ROSTER_ROWS)
    spec = write_spec(specs, "dibao", path, **source)
    assert load_dataset(workspace, spec).status == "published"
    return spec, path, live_table(workspace, "dibao")


def refused(workspace: Workspace, spec, error=SourceError):
    with pytest.raises(error) as caught:
        load_dataset(workspace, spec)
    message = str(caught.value)
    assert "\n" not in message
    assert not any(option in message for option in DUCKDB_OPTIONS), message
    assert loads(workspace, spec.name)[-1]["status"] == "failed"
    return caught.value


# --- header names --------------------------------------------------------------------------
@pytest.mark.slow
def test_a_repeated_header_name_is_reported_as_repeated(workspace, sources, specs):
    spec, path, before = published(workspace, sources, specs)
    write_csv(path, [*ROSTER_HEADER, "姓名"], [[*row, "重复"] for row in ROSTER_ROWS])
    error = refused(workspace, spec, SchemaDriftError)
    assert str(error) == (
        f"{path}: column 姓名 is repeated in the header (columns 1 and 6): which one is "
        f"person_name is unclear"
    )
    assert (error.file, error.column) == (str(path), "姓名")
    assert live_table(workspace, "dibao") == before


@pytest.mark.slow
def test_a_repeated_name_in_place_of_a_column_is_not_called_a_rename(workspace, sources, specs):
    spec, path, before = published(workspace, sources, specs)
    header = list(ROSTER_HEADER)
    header[1] = "姓名"  # 身份证号's header cell says 姓名 again
    write_csv(path, header, ROSTER_ROWS)
    message = str(refused(workspace, spec, SchemaDriftError))
    assert message == (
        f"{path}: column 姓名 is repeated in the header (columns 1 and 2): which one is "
        f"person_name is unclear; missing column 身份证号 (id_card_no)"
    )
    assert "renamed" not in message
    assert "姓名_1" not in message
    assert live_table(workspace, "dibao") == before


def test_a_repeated_name_the_spec_does_not_read_is_ignored(workspace, sources, specs):
    path = write_csv(
        sources / "r.csv", [*ROSTER_HEADER, "备注", "备注"], [[*r, "a", "b"] for r in ROSTER_ROWS]
    )
    assert load_dataset(workspace, write_spec(specs, "dibao", path)).rows == len(ROSTER_ROWS)


# --- ragged rows ---------------------------------------------------------------------------
@pytest.mark.slow
def test_every_ragged_row_is_listed_with_expected_and_found_fields(workspace, sources, specs):
    spec, path, before = published(workspace, sources, specs)
    lines = ["姓名,身份证号,家庭人口,月保障金额(元),审批日期"]
    expected = []
    for n in range(2, 60):
        if n % 2:  # every odd line is ragged: 6, 4 or 2 fields
            fields = (6, 4, 2)[n % 3]
            lines.append(",".join((GOOD * 2)[:fields]))
            expected.append((n, fields))
        else:
            lines.append(",".join(GOOD))
    lines.insert(10, "")  # an empty line (DuckDB skips it): later lines keep their numbers
    expected = [(n if n < 11 else n + 1, f) for n, f in expected]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    error = refused(workspace, spec)
    listed = ", ".join(f"line {n} has {f}" for n, f in expected[:MAX_LISTED])
    assert str(error) == (
        f"{path}: {len(expected)} rows do not have the header's 5 fields: {listed} "
        f"(first {MAX_LISTED} listed)"
    )
    assert error.row == expected[0][0] == 3
    assert live_table(workspace, "dibao") == before


@pytest.mark.slow
def test_a_quoted_value_over_lines_and_one_never_closed(workspace, sources, specs):
    spec, path, before = published(workspace, sources, specs)
    path.write_text(
        "姓名,身份证号,家庭人口,月保障金额(元),审批日期\n"
        '"张\n三",1,2,3,2026-01-01\n'  # lines 2-3: one record, 5 fields
        '"李,四",1,2\n'  # line 4: 3 fields, one comma inside quotes
        '"王五,1,2,3,2026-01-01\n'  # line 5: never closed
        "赵六,1,2,3,2026-01-01\n",
        encoding="utf-8",
    )
    error = refused(workspace, spec)
    assert str(error) == (
        f"{path}: line 5: a quoted value starts here and is never closed; 1 row does not "
        f"have the header's 5 fields: line 4 has 3"
    )
    assert error.row == 4
    assert live_table(workspace, "dibao") == before


def test_a_gbk_file_reports_its_ragged_rows_on_its_own_lines(workspace, sources, specs):
    path = write_csv(
        sources / "gbk.csv",
        ROSTER_HEADER,
        [*ROSTER_ROWS, ["孙七", "1", "2"]],
        encoding="gbk",
        above=["城乡低保对象名单"],
    )
    error = refused(workspace, write_spec(specs, "dibao", path, header_row=2))
    assert str(error) == f"{path}: 1 row does not have the header's 5 fields: line 7 has 3"


@pytest.mark.parametrize("encoding", ["utf-8", "gbk"])
def test_a_bad_value_after_empty_lines_is_on_its_own_line(workspace, sources, specs, encoding):
    # DuckDB skips empty lines and numbers records; the row named is the file's line.
    lines = ["城乡低保对象名单", "", ",".join(ROSTER_HEADER), ",".join(GOOD), "", ""]
    lines += [",".join(GOOD)] * 3 + ["", "张三,1,三口人,3,2026-01-01", ",".join(GOOD)]
    path = sources / "r.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes("\n".join(lines).encode(encoding) + b"\n")
    assert lines[11 - 1].startswith("张三,1,三口人")
    spec = write_spec(specs, "dibao", path, header_row=3)
    error = refused(workspace, spec, SchemaDriftError)
    assert "first '三口人' at row 11" in str(error)
    assert error.row == 11


@pytest.mark.slow
def test_mixed_line_ends_are_named(workspace, sources, specs):
    spec, path, before = published(workspace, sources, specs)  # write_csv ends lines in CR LF
    path.write_bytes(path.read_bytes() + ",".join(GOOD).encode() + b"\n")
    error = refused(workspace, spec)
    assert str(error) == (
        f"{path}: line 6 ends in LF but line 1 in CR LF: the lines of a file must all end "
        f"the same way"
    )
    assert error.row == 6
    assert live_table(workspace, "dibao") == before


# --- long lines ----------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize(("char", "size"), [("x", 3_000_000), ("张", 1_000_000)])
def test_a_long_line_is_too_long_on_its_line_and_never_echoed(
    workspace, sources, specs, char, size
):
    spec, path, before = published(workspace, sources, specs)
    long_line = char * size + ",1,2,3,2026-01-01"
    path.write_text(
        "\r\n".join([",".join(ROSTER_HEADER), ",".join(GOOD), ",".join(GOOD), long_line, ""]),
        encoding="utf-8",
    )
    error = refused(workspace, spec)
    size_bytes = len(long_line.encode())
    assert str(error) == (
        f"{path}: too long to read (at most 2,000,000 bytes a line): line 4 ({size_bytes:,} bytes)"
    )
    assert error.row == 4
    assert len(loads(workspace, "dibao")[-1]["error"]) < 300
    assert live_table(workspace, "dibao") == before


@pytest.mark.slow
def test_a_long_value_that_does_not_fit_is_quoted_cut(workspace, sources, specs):
    spec, path, before = published(workspace, sources, specs)
    rows = [list(r) for r in ROSTER_ROWS]
    rows[1][2] = "9" * 500_000 + "x"  # 家庭人口 (integer): half a megabyte, not a number
    write_csv(path, ROSTER_HEADER, rows)
    error = refused(workspace, spec, SchemaDriftError)
    assert f"but 1 value is not: first '{'9' * 199}…' at row 3" in str(error)
    assert len(str(error)) < 400
    assert live_table(workspace, "dibao") == before


@pytest.mark.slow
def test_a_50_mb_line_is_too_long_not_an_unterminated_quote(workspace, sources, specs):
    spec, path, before = published(workspace, sources, specs)
    with path.open("w", encoding="utf-8") as out:
        out.write(",".join(ROSTER_HEADER) + "\n" + ",".join(GOOD) + "\n")
        out.write("张" * 17_000_000 + ",1,2,3,2026-01-01\n")
        out.write(",".join(GOOD) + "\n")
    error = refused(workspace, spec)
    assert "too long to read (at most 2,000,000 bytes a line): line 3 (51,000,017 bytes)" in str(
        error
    )
    assert "quote" not in str(error)
    assert error.row == 3
    assert live_table(workspace, "dibao") == before


# --- NDJSON --------------------------------------------------------------------------------
def _ndjson(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _record(**changes) -> str:
    record = dict(zip(ROSTER_HEADER, GOOD, strict=True)) | changes
    return json.dumps(record, ensure_ascii=False)


@pytest.mark.slow
def test_ndjson_malformed_lines_are_named_exactly(workspace, sources, specs):
    path = _ndjson(sources / "r.ndjson", [_record(), _record(), _record()])
    spec = write_spec(specs, "dibao", path)
    load_dataset(workspace, spec)
    before = live_table(workspace, "dibao")
    _ndjson(path, [_record(), "", _record(), "   ", "{bad", _record(), "[1, 2]"])
    error = refused(workspace, spec)
    assert str(error) == (
        f"{path}: 2 lines are not a JSON record: line 5 (Expecting property name enclosed "
        f"in double quotes at character 2), line 7 (a JSON list, not an object)"
    )
    assert error.row == 5
    assert live_table(workspace, "dibao") == before


def test_ndjson_rows_are_lines_even_after_blank_lines(workspace, sources, specs):
    lines = [_record(), "", "", _record(), " \t", _record(**{"家庭人口": "三"}), _record()]
    path = _ndjson(sources / "r.ndjson", lines)
    error = refused(workspace, write_spec(specs, "dibao", path), SchemaDriftError)
    assert "first '三' at row 6" in str(error)
    assert error.row == 6


@pytest.mark.slow
def test_ndjson_rows_after_many_blank_runs(workspace, sources, specs):
    # More blank runs than a CASE holds: the line numbers come from a lookup table.
    lines = []
    for _ in range(700):
        lines += [_record(), ""]
    lines[1001] = _record(**{"家庭人口": "x"})  # replaces a blank: the 501st record, line 1002
    path = _ndjson(sources / "r.ndjson", lines)
    error = refused(workspace, write_spec(specs, "dibao", path), SchemaDriftError)
    assert "first 'x' at row 1002" in str(error)


# --- Excel ---------------------------------------------------------------------------------
@pytest.mark.slow
def test_excel_empty_header_cells_are_column_n(workspace, sources, specs):
    header = ["姓名", None, "身份证号", "", "家庭人口", "月保障金额(元)", "审批日期"]
    rows = [[r[0], "a", r[1], "b", *r[2:]] for r in ROSTER_ROWS]
    path = write_xlsx(sources / "r.xlsx", "名单", header, rows, title="城乡低保对象")
    columns = [*ROSTER_COLUMNS, {"name": "second", "source": "column2"}]
    spec = write_spec(specs, "dibao", path, columns=columns, sheet="名单", header_row=2)
    load_dataset(workspace, spec)
    assert [row[-1] for row in lake_rows(workspace, "dibao")] == ["a"] * len(ROSTER_ROWS)

    columns[-1] = {"name": "second", "source": "第二列"}
    spec = write_spec(specs, "dibao2", path, columns=columns, sheet="名单", header_row=2)
    message = str(refused(workspace, spec, SchemaDriftError))
    assert message == (
        f"{path}: missing column 第二列 (second); unexpected columns column2, column4 "
        f"(a renamed column shows as missing and unexpected)"
    )


def test_excel_repeated_header_names_are_reported(workspace, sources, specs):
    header = [*ROSTER_HEADER, "姓名"]
    path = write_xlsx(sources / "r.xlsx", "名单", header, [[*r, "x"] for r in ROSTER_ROWS])
    message = str(
        refused(workspace, write_spec(specs, "dibao", path, sheet="名单"), SchemaDriftError)
    )
    assert message == (
        f"{path}: column 姓名 is repeated in the header (columns 1 and 6): which one is "
        f"person_name is unclear"
    )


# --- 身份证号 ------------------------------------------------------------------------------
@pytest.mark.slow
def test_a_lowercase_x_in_an_id_card_is_stored_as_x(workspace, sources, specs):
    numbers = [make_id_card("110101", dt.date(1990, 3, 7), n) for n in range(40)]
    with_x = [n for n in numbers if n.endswith("X")][:2]
    assert len(with_x) == 2
    rows = [
        ["张三", with_x[0].lower(), "3", "1", "2026-01-05"],
        ["李四", " " + with_x[1].lower() + "\u3000", "1", "1", "2026-01-05"],
        ["王五", "abcx", "1", "1", "2026-01-05"],  # not a number: kept as written
        ["赵六", numbers[0], "1", "1", "2026-01-05"],
    ]
    path = write_csv(sources / "r.csv", ROSTER_HEADER, rows)
    load_dataset(workspace, write_spec(specs, "dibao", path))
    stored = {row[0]: row[1] for row in lake_rows(workspace, "dibao")}
    assert stored == {
        "张三": with_x[0],
        "李四": " " + with_x[1] + "\u3000",
        "王五": "abcx",
        "赵六": numbers[0],
    }
    # A column with format 身份证号 (no pii) and a JSON source are normalised too.
    columns = [{"name": "card", "source": "身份证号", "format": "身份证号"}]
    json_path = sources / "r.json"
    json_path.write_text(json.dumps([{"身份证号": with_x[0].lower()}]), encoding="utf-8")
    load_dataset(workspace, write_spec(specs, "cards", json_path, columns=columns))
    assert lake_rows(workspace, "cards") == [(with_x[0],)]
    # Other string columns keep their x.
    assert normalise_id_card(with_x[0].lower()) == with_x[0]
    assert normalise_id_card("1234x") == "1234x"


def test_loads_error_keeps_duckdbs_whole_reason_but_not_its_advice(workspace, tmp_path):
    """The one line a user reads names file and line; ``loads.error`` keeps the rest of
    DuckDB's reason after it (each line cut), without the reader options a spec cannot set."""
    import duckdb

    from warehouse.load.ledger import record_failure
    from warehouse.read.errors import source_error
    from warehouse.store import Store

    path = tmp_path / "ragged.csv"
    path.write_text("a,b\n1,2\n3,4,5\n6,7\n", encoding="utf-8")
    # A connection of its own: a failed statement on DuckDB's default connection would leave
    # it aborted for every later test in this process.
    con = duckdb.connect()
    try:
        with pytest.raises(duckdb.Error) as caught:
            con.sql(
                f"SELECT * FROM read_csv('{path}', header = true, "
                "columns = {'a': 'INTEGER', 'b': 'INTEGER'})"
            ).fetchall()
    finally:
        con.close()
    error = source_error("ragged.csv", caught.value)
    assert "\n" not in str(error)
    assert error.detail
    assert "Possible fixes" not in error.detail
    with Store.open(workspace) as store:
        store.loads.start(
            "L1",
            dataset="ragged",
            entry_code=None,
            table_name="ragged",
            location="lake/main/ragged",
            started_at="2026-12-07T12:00:00",
        )
        record_failure(store, "L1", error)
        stored = store.loads.get("L1")
    assert stored is not None
    assert stored["error"] == f"{error}\n{error.detail}"
    assert "strict_mode" not in stored["error"]  # DuckDB's option advice is left out
