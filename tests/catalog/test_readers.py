"""Readers (issue 12): every record of a real export read, one at a time; a problem costs the
record (or field) it is in and nothing else; whole-file problems are a ReadError up front."""

from __future__ import annotations

import codecs
import datetime
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import ijson  # type: ignore[import-untyped]
import pytest
import xlsxwriter

from catalog.importing.reading import (
    MAX_FIELD_BYTES,
    ReadError,
    detect_encoding,
    read_document,
)
from catalog.importing.reading.common import note_row
from catalog.importing.reading.delimited import RAW_KEPT
from catalog.importing.reading.jsonfile import json_record
from catalog.importing.reading.jsonstream import Utf8Stream

REPO = Path(__file__).resolve().parents[2]


def records(path, records_path=None):
    found = read_document(path).records(records_path)
    assert found is not None
    return list(found)


def codes(record):
    return [(p.field, p.reason.code, p.severity) for p in record.problems]


def write(path: Path, text: str, encoding="utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


# --- bad characters never abort a file --------------------------------------------------------


def test_unpaired_surrogates_become_replacement_characters_with_a_warning(tmp_path):
    # As a real data.json had them: escapes of lone low surrogates, in a nested value too.
    text = (
        '{"dataset": [{"title": "caf\\udc92 one", "keyword": ["ok", "b\\udc92d"]},'
        ' {"title": "fine \\ud83d\\ude00"}, {"title": "x\\\\udc92 is text"}]}'
    )
    first, second, third = records(write(tmp_path / "data.json", text), "dataset")
    assert first.fields == {"title": "caf\ufffd one", "keyword": ["ok", "b\ufffdd"]}
    assert codes(first) == [
        ("title", "bad_characters", "warning"),
        ("keyword", "bad_characters", "warning"),
    ]
    assert first.problems[0].value == "caf\\udc92 one"
    # The raw record keeps what the file had, as valid UTF-8 (escapes), and parses back.
    assert "\\udc92" in first.raw
    first.raw.encode("utf-8")
    assert json.loads(first.raw)["title"] == "caf\udc92 one"
    assert second.fields == {"title": "fine 😀"}
    assert second.problems == []
    assert third.fields == {"title": "x\\udc92 is text"}
    assert third.problems == []


def test_a_file_whose_only_fault_is_lone_surrogates_has_them_cleaned(tmp_path):
    catalogue = {"dataset": [{"title": f"D{n}", "description": "ok"} for n in range(300)]}
    catalogue["dataset"][150]["description"] = "Agency\udc92s data"
    path = tmp_path / "data.json"
    path.write_text(json.dumps(catalogue), encoding="ascii")  # as found: an escape, no other
    found = records(path, "dataset")
    assert [(r.row, r.fields["description"]) for r in found if r.problems] == [
        (151, "Agency\ufffds data")
    ]
    assert all(r.fields["description"] == "ok" for r in found if not r.problems)


def test_escapes_cut_at_any_chunk_boundary_read_the_same(tmp_path):
    """The stream that rewrites surrogate escapes reads the file in pieces: an escape, a
    surrogate pair or a run of backslashes cut between two pieces must read the same."""
    values = [
        "\\udc92",
        "\\\\udc92",
        "\\\\\\udc92",
        "\\ud83d\\ude00",
        "\\ud83d\\ud83d\\ude00",
        "é\\u00e9\\\\",
    ]
    text = "[" + ", ".join(f'{{"v": "a{v}b"}}' for v in values) + "]"
    path = write(tmp_path / "cut.json", text)
    expected = [
        "a\ufffdb",
        "a\\udc92b",
        "a\\\ufffdb",
        "a😀b",
        "a\ufffd😀b",
        "aéé\\b",
    ]
    for chunk_size in range(1, 40):
        stream = Utf8Stream(path, "utf-8", False, False, chunk_size=chunk_size)
        items = ijson.items(stream, "item")
        found = [json_record(n, item, "utf-8").fields["v"] for n, item in enumerate(items)]
        assert found == expected, chunk_size


def test_control_characters_in_values_and_keys_become_replacement_characters(tmp_path):
    text = '[{"name\\u0001": "a\\u0007b", "note": "tab\\tand\\nnewline", "del": "x\x7fy"}]'
    (record,) = records(write(tmp_path / "c.json", text))
    assert record.fields == {
        "name\ufffd": "a\ufffdb",
        "note": "tab\tand\nnewline",
        "del": "x\ufffdy",
    }
    assert {(p.field, p.reason.code) for p in record.problems} == {
        ("name\ufffd", "bad_characters"),
        ("del", "bad_characters"),
    }
    assert record.problems[0].reason.params["count"] == 2  # the key's and the value's


def test_raw_control_bytes_in_a_json_string_do_not_stop_the_file(tmp_path):
    path = tmp_path / "raw.json"
    path.write_bytes(b'[{"a": "x\x01y"}, {"a": "z"}]')
    first, second = records(path)
    assert first.fields == {"a": "x\ufffdy"}
    assert codes(first) == [("a", "bad_characters", "warning")]
    assert second.fields == {"a": "z"}


def test_raw_line_ends_and_tabs_inside_json_strings_are_read(tmp_path):
    """Strict JSON forbids them; exports written by hand-made code have them."""
    text = '[\n  {"a": "one\nline\ttwo", "b": "\\"q\\"\r\n"},\n  {"a": "x\\\\"}\n]\n'
    path = write(tmp_path / "raw.json", text)
    expected = [{"a": "one\nline\ttwo", "b": '"q"\r\n'}, {"a": "x\\"}]
    assert [r.fields for r in records(path)] == expected
    assert all(r.problems == [] for r in records(path))
    # Found late in a large file: read again from the start, the records before not repeated.
    late = "[" + ",".join(f'{{"n": {n}}}' for n in range(5000)) + ',{"n": "a\nb"}]'
    found = records(write(tmp_path / "late.json", late))
    assert [r.fields["n"] for r in found] == [*range(5000), "a\nb"]
    for chunk_size in range(1, 30):
        stream = Utf8Stream(path, "utf-8", False, False, repair=True, chunk_size=chunk_size)
        assert list(ijson.items(stream, "item")) == expected, chunk_size


def test_gbk_and_utf16_json(tmp_path):
    gbk = tmp_path / "gbk.json"
    gbk.write_bytes(
        '[{"标题": "婺源县"}, {"标题": "'.encode("gb18030") + b"\xff" + '县"}]'.encode("gb18030")
    )
    first, second = records(gbk)
    assert first.fields == {"标题": "婺源县"}
    assert first.problems == []
    assert second.fields == {"标题": "\ufffd县"}
    assert [(p.field, p.reason.code, p.reason.params["count"]) for p in second.problems] == [
        ("标题", "undecodable_bytes", 1)
    ]
    assert second.raw == '{"标题": "\ufffd县"}'
    utf16 = tmp_path / "u16.json"
    utf16.write_bytes('{"dataset": [{"title": "社保卡"}]}'.encode("utf-16"))
    assert [r.fields for r in records(utf16, "dataset")] == [{"title": "社保卡"}]


def test_control_characters_in_csv_cells_are_warned_and_the_raw_line_kept(tmp_path):
    path = write(tmp_path / "c.csv", "名称,提供方\n社保\x01卡,人社局\n")
    (record,) = records(path)
    assert record.fields == {"名称": "社保\ufffd卡", "提供方": "人社局"}
    assert codes(record) == [("名称", "bad_characters", "warning")]
    assert record.raw == "社保\x01卡,人社局"


# --- field size ---------------------------------------------------------------------------------


def test_a_1_mb_field_imports(tmp_path):
    big = "描述" * 300_000  # 1.8 MB in UTF-8, far over csv's default cap of 131,072
    path = write(tmp_path / "big.csv", f"名称,描述\n甲,{big}\n乙,短\n")
    first, second = records(path)
    assert first.fields["描述"] == big
    assert first.problems == []
    assert second.fields == {"名称": "乙", "描述": "短"}


def test_a_field_over_the_limit_rejects_its_record_only(tmp_path):
    huge = "x" * (MAX_FIELD_BYTES + 10)
    wide = "宽" * (MAX_FIELD_BYTES // 3 + 10)  # under csv's character cap, over the byte limit
    text = f'名称,描述\n甲,"{huge}\n第二行"\n乙,短\n丙,{wide}\n丁,"a, b"\n'
    first, second, third, fourth = records(write(tmp_path / "huge.csv", text))
    assert (first.row, codes(first)) == (2, [("描述", "field_too_large", "reject")])
    assert first.raw.startswith('甲,"xxx')
    assert first.raw.endswith('第二行"')
    assert (second.row, second.fields, second.problems) == (4, {"名称": "乙", "描述": "短"}, [])
    assert (third.row, codes(third)) == (5, [("描述", "field_too_large", "reject")])
    assert (fourth.row, fourth.fields) == (6, {"名称": "丁", "描述": "a, b"})


@pytest.mark.slow
def test_a_stray_opening_quote_costs_its_record_and_bounded_memory(tmp_path):
    # The quote never closes: csv would gather the rest of the file into one field.
    body = "".join(f"行{i},{'x' * 1000}\n" for i in range(16_000))  # 16 MB > 3 fields' limit
    path = write(tmp_path / "stray.csv", f'名称,描述\n甲,"未闭合\n{body}')
    (only,) = records(path)
    assert (only.row, codes(only)) == (2, [("record", "field_too_large", "reject")])
    assert only.raw.startswith('甲,"未闭合')
    assert len(only.raw) <= RAW_KEPT + 100  # what is kept to show; the rest only counted


# --- header and row shape ---------------------------------------------------------------------


def test_a_row_with_more_cells_than_the_header_rejects(tmp_path):
    path = write(tmp_path / "extra.csv", "名称,提供方\n甲,局,多出来的\n乙,局,\n丙\n")
    extra, trailing, short = records(path)
    assert codes(extra) == [("record", "extra_fields", "reject")]
    assert extra.problems[0].value == ["多出来的"]
    assert extra.raw == "甲,局,多出来的"
    assert trailing.problems == []  # a trailing empty cell holds nothing to lose
    assert short.fields == {"名称": "丙"}
    assert short.problems == []


def test_a_repeated_header_name_is_an_error_naming_the_columns(tmp_path):
    path = write(tmp_path / "rep.csv", "名称,提供方,名称\n甲,局,乙\n")
    with pytest.raises(ReadError) as info:
        read_document(path)
    assert info.value.reason.code == "repeated_header"
    assert "名称（第 1、3 列）" in str(info.value)
    assert str(path) in str(info.value)
    assert "rename" in info.value.text("en")


def test_a_blank_header_cell_names_its_column_by_position(tmp_path):
    path = write(tmp_path / "blank.csv", "名称,,提供方,\n甲,值,局\n乙,,局\n")
    first, second = records(path)
    assert first.fields == {"名称": "甲", "第2列": "值", "提供方": "局"}
    assert second.fields == {"名称": "乙", "提供方": "局"}


def test_a_title_row_above_the_table_is_not_the_header(tmp_path):
    text = "某某区政务信息资源目录,,\n,,\n名称,提供方,格式\n甲,局,csv\n"
    document = read_document(write(tmp_path / "title.csv", text))
    assert document.header == ("名称", "提供方", "格式")
    (record,) = document.records(None)
    assert (record.row, record.fields) == (4, {"名称": "甲", "提供方": "局", "格式": "csv"})
    single = read_document(write(tmp_path / "single.csv", "名称\n甲\n乙\n"))
    assert [r.fields for r in single.records(None)] == [{"名称": "甲"}, {"名称": "乙"}]


@pytest.mark.parametrize("delimiter", [",", "\t", ";"])
def test_the_delimiter_is_sniffed_from_the_header(tmp_path, delimiter):
    path = write(tmp_path / "d.csv", f"名称{delimiter}提供方\n甲{delimiter}局\n")
    assert records(path)[0].fields == {"名称": "甲", "提供方": "局"}


def test_empty_files_are_errors(tmp_path):
    for name in ("empty.csv", "empty.json", "empty.xlsx"):
        with pytest.raises(ReadError) as info:
            read_document(write(tmp_path / name, ""))
        assert info.value.reason.code == "empty_file"
    with pytest.raises(ReadError) as info:
        read_document(write(tmp_path / "blank.json", "  \n"))
    assert info.value.reason.code == "blank_file"


def test_a_file_that_is_not_json_is_an_error(tmp_path):
    for text in ("名称,提供方\n", '"just a string"', '[{"a": 1}, {"a": }]'):
        with pytest.raises(ReadError) as info:
            read_document(write(tmp_path / "bad.json", text))
        assert info.value.reason.code == "not_json"


def test_a_json_syntax_error_mid_file_keeps_the_records_before_it(tmp_path):
    good = ",".join(json.dumps({"n": n, "pad": "x" * 2000}) for n in range(2000))
    path = write(tmp_path / "cut.json", f'[{good}, {{"n": 1 2}}]')
    document = read_document(path)
    seen: list[int] = []
    with pytest.raises(ReadError) as info:
        seen.extend(record.row for record in document.records(None))
    assert seen == list(range(1, 2001))
    assert info.value.reason.code == "json_syntax"
    assert info.value.reason.params["after"] == 2000
    assert "2000" in str(info.value)


# --- encodings ----------------------------------------------------------------------------------


def test_an_invalid_gbk_byte_names_its_line_and_other_rows_stay_byte_exact(tmp_path):
    rows = ["名称,提供方", "城乡低保对象,区民政局", "婺源县（赣）,区民政局", "䶮字测试,区民政局"]
    data = bytearray("\r\n".join(rows).encode("gb18030") + b"\r\n")
    bad_at = data.index("婺源县".encode("gb18030"))
    data[bad_at : bad_at + 2] = b"\xff\xff"  # an invalid GBK byte pair where 婺 was
    path = tmp_path / "gbk.csv"
    path.write_bytes(bytes(data))
    document = read_document(path)
    assert (document.encoding, document.decode_errors) == ("gb18030", 2)
    first, second, third = document.records(None)
    assert first.fields["名称"] == "城乡低保对象"
    assert first.problems == []
    assert third.fields["名称"] == "䶮字测试"
    assert third.problems == []
    assert second.row == 3
    assert second.fields["名称"] == "\ufffd\ufffd源县（赣）"
    (problem,) = second.problems
    assert (problem.row, problem.field, problem.severity) == (3, "名称", "warning")
    assert problem.reason.code == "undecodable_bytes"
    assert problem.reason.params == {"count": 2, "encoding": "GB18030"}
    assert problem.value == "\\xff\\xff源县（赣）"


def test_a_stray_byte_in_a_utf8_file_keeps_it_utf8(tmp_path):
    text = "名称,提供方\n" + "".join(f"社会保障卡{n},人力资源和社会保障局\n" for n in range(50))
    data = bytearray(text.encode())
    data[data.index("社会保障卡7,".encode())] = 0xFF  # 社's first byte
    path = tmp_path / "u.csv"
    path.write_bytes(bytes(data))
    assert detect_encoding(path) == "utf-8-sig"
    found = records(path)
    assert [r.row for r in found if r.problems] == [9]
    assert found[7].fields["名称"].startswith("\ufffd")
    assert found[8].fields["名称"] == "社会保障卡8"


def test_utf16_with_bom_tab_separated_as_excel_saves_unicode_text(tmp_path):
    path = tmp_path / "unicode.txt"
    path.write_bytes(codecs.BOM_UTF16_LE + "名称\t提供方\r\n社保卡\t人社局\r\n".encode("utf-16-le"))
    document = read_document(path)
    assert document.encoding == "utf-16"
    (record,) = document.records(None)
    assert (record.row, record.fields, record.raw) == (
        2,
        {"名称": "社保卡", "提供方": "人社局"},
        "社保卡\t人社局",
    )


def test_utf16_without_bom_is_told_by_its_zero_bytes(tmp_path):
    path = tmp_path / "nobom.csv"
    path.write_bytes("名称,提供方\r\nA,B\r\n社保卡,人社局\r\n".encode("utf-16-le"))
    assert detect_encoding(path) == "utf-16-le"
    assert [r.fields["名称"] for r in records(path)] == ["A", "社保卡"]


def test_utf8_with_bom_and_gbk_json(tmp_path):
    bom = tmp_path / "bom.csv"
    bom.write_bytes(codecs.BOM_UTF8 + "名称,提供方\n甲,局\n".encode())
    assert records(bom)[0].fields == {"名称": "甲", "提供方": "局"}
    gbk = write(tmp_path / "gbk.json", '[{"标题": "婺源县"}]', encoding="gb18030")
    assert read_document(gbk).encoding == "gb18030"
    assert records(gbk)[0].fields == {"标题": "婺源县"}


def test_a_file_that_is_no_text_is_an_error(tmp_path):
    workbook = write_xlsx(tmp_path / "book.xlsx", [["名称"], ["甲"]])
    renamed = tmp_path / "book.csv"
    renamed.write_bytes(workbook.read_bytes())
    with pytest.raises(ReadError) as info:
        read_document(renamed)
    assert info.value.reason.code == "unknown_encoding"
    with pytest.raises(ReadError):
        read_document(renamed, fmt="json")


# --- raw text and numbering ---------------------------------------------------------------------


def test_a_quoted_multi_line_csv_record_keeps_its_text_verbatim(tmp_path):
    text = '名称,格式,描述\r\n甲,"[xml,xls,csv]","第一行\r\n第二行 ""引号"""\r\n\r\n乙,csv,短\r\n'
    first, second = records(write(tmp_path / "m.csv", text))
    assert first.row == 2
    assert first.raw == '甲,"[xml,xls,csv]","第一行\r\n第二行 ""引号"""'
    assert first.fields == {
        "名称": "甲",
        "格式": "[xml,xls,csv]",
        "描述": '第一行\r\n第二行 "引号"',
    }
    assert second.row == 5  # its first line, after a blank line


def test_json_at_a_nested_path_numbers_by_position_and_writes_back_raw(tmp_path):
    data = {
        "result": {"data": {"list": [{"标题": "甲", "数据量": 12, "比例": 0.5}, "not a record"]}}
    }
    path = write(tmp_path / "n.json", json.dumps(data, ensure_ascii=False))
    document = read_document(path)
    assert document.record_paths() == ["result.data.list"]
    assert document.records(None) is None
    assert document.records("result.data") is None
    assert document.records("nothing.here") is None
    escaped_keys = write(tmp_path / "e.json", json.dumps({"目录": [{"标题": "甲"}], "x": "目录s"}))
    assert [r.fields for r in records(escaped_keys, "目录")] == [{"标题": "甲"}]
    first, second = document.records("result.data.list")
    assert (first.row, first.fields) == (1, {"标题": "甲", "数据量": 12, "比例": 0.5})
    assert type(first.fields["数据量"]) is int
    assert type(first.fields["比例"]) is float
    assert first.raw == '{"标题": "甲", "数据量": 12, "比例": 0.5}'
    assert (second.row, codes(second)) == (2, [("record", "not_an_object", "reject")])


def test_big_integers_stay_exact(tmp_path):
    path = write(tmp_path / "big.json", '[{"id": 1}, {"id": 123456789012345678901234567890}]')
    assert [r.fields["id"] for r in records(path)] == [1, 123456789012345678901234567890]


def test_records_are_re_iterable(tmp_path):
    found = read_document(write(tmp_path / "r.csv", "名称\n甲\n乙\n")).records(None)
    assert (
        [r.fields for r in found] == [r.fields for r in found] == [{"名称": "甲"}, {"名称": "乙"}]
    )


def test_json_lines_one_bad_line_rejects_one_record(tmp_path):
    path = write(tmp_path / "r.jsonl", '{"标题": "甲"}\n{"标题": \n\n{"标题": "丙\\udc92"}\n')
    first, second, third = records(path)
    assert first.fields == {"标题": "甲"}
    assert first.raw == '{"标题": "甲"}'
    assert (second.row, codes(second)) == (2, [("record", "unparseable_record", "reject")])
    assert (third.row, third.fields, third.raw) == (
        4,
        {"标题": "丙\ufffd"},
        '{"标题": "丙\\udc92"}',
    )


# --- Excel --------------------------------------------------------------------------------------


def write_xlsx(path: Path, rows: list[list]) -> Path:
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet("目录")
    for r, row in enumerate(rows):
        sheet.write_row(r, 0, row)
    workbook.close()
    return path


def test_excel_records_rows_and_raw(tmp_path):
    path = write_xlsx(
        tmp_path / "t.xlsx", [["名称", "数量", ""], ["甲", 3, ""], [], ["乙", 2.5, "多"]]
    )
    first, second = records(path)
    assert (first.row, first.fields, first.raw) == (
        2,
        {"名称": "甲", "数量": "3"},
        '{"名称": "甲", "数量": "3"}',
    )
    assert (second.row, second.fields) == (4, {"名称": "乙", "数量": 2.5})
    assert codes(second) == [("record", "extra_fields", "reject")]


def test_excel_dates_are_iso_text_and_whole_numbers_their_digits(tmp_path):
    path = tmp_path / "d.xlsx"
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet()
    sheet.write_row(0, 0, ["名称", "发布时间", "更新时间", "数据量"])
    sheet.write(1, 0, "甲")
    day = workbook.add_format({"num_format": "yyyy-mm-dd"})
    minute = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    sheet.write_datetime(1, 1, datetime.datetime(2024, 3, 1), day)
    sheet.write_datetime(1, 2, datetime.datetime(2024, 3, 1, 14, 30), minute)
    sheet.write_number(1, 3, 1200)
    workbook.close()
    (record,) = records(path)
    assert record.fields == {
        "名称": "甲",
        "发布时间": "2024-03-01",
        "更新时间": "2024-03-01T14:30:00",
        "数据量": "1200",
    }


def test_excel_title_row_and_blank_rows_before_the_table(tmp_path):
    rows = [["某某区政务信息资源目录"], [], ["名称", "提供方"], ["甲", "局"]]
    document = read_document(write_xlsx(tmp_path / "t.xlsx", rows))
    assert document.header == ("名称", "提供方")
    assert [(r.row, r.fields) for r in document.records(None)] == [
        (4, {"名称": "甲", "提供方": "局"})
    ]


def test_excel_repeated_header_is_an_error(tmp_path):
    with pytest.raises(ReadError) as info:
        read_document(write_xlsx(tmp_path / "r.xlsx", [["名称", "名称"], ["甲", "乙"]]))
    assert info.value.reason.code == "repeated_header"
    with pytest.raises(ReadError) as info:
        read_document(write(tmp_path / "text.xlsx", "名称,提供方\n甲,局\n"))
    assert info.value.reason.code == "not_a_spreadsheet"


# --- the real exports ---------------------------------------------------------------------------


def test_record_paths_of_the_dcat_us_files(real_data):
    for name, count in [("gsa.json", 339), ("dol.json", 465), ("dhs.json", 1093)]:
        document = read_document(real_data / "dcat-us" / name)
        assert document.record_paths() == ["dataset"]
        assert document.records(None) is None
        found = list(document.records("dataset"))
        assert len(found) == count
        assert all(isinstance(r.fields.get("title"), str) for r in found)


def test_every_record_of_the_chinese_portal_exports_reads_like_json_load(real_data):
    for path in sorted((real_data / "cn-portals").glob("*.json")):
        expected = json.loads(path.read_text(encoding="utf-8"))
        document = read_document(path)
        assert document.record_paths() == [""]
        found = list(document.records(None))
        assert [r.fields for r in found] == expected
        assert [r.row for r in found] == list(range(1, len(expected) + 1))
        assert all(json.loads(r.raw) == e for r, e in zip(found, expected, strict=True))


# --- memory -------------------------------------------------------------------------------------

_PEAK = textwrap.dedent("""
    import json, re, sys
    sys.path.insert(0, {repo!r})
    if sys.argv[1] == "load":
        with open({path!r}, "rb") as handle:
            count = len(json.load(handle))
    else:
        from catalog.importing.reading import read_document
        count = sum(1 for _ in read_document({path!r}).records(None))
    # VmHWM is this process's own peak; ru_maxrss would carry the parent's (the pytest
    # worker's) peak over from before the exec.
    with open("/proc/self/status") as status:
        print(count, re.search(r"VmHWM:\\s+(\\d+)", status.read()).group(1))
""")


@pytest.mark.slow
def test_200k_records_stream_in_a_fraction_of_json_load_memory(tmp_path, real_data):
    source = json.loads((real_data / "cn-portals" / "anhui_suzhou.json").read_text("utf-8"))
    path = tmp_path / "big.json"
    with path.open("w", encoding="utf-8") as out:
        out.write("[")
        for n in range(200_000):
            record = dict(source[n % len(source)], 标题=f"{source[n % len(source)]['标题']}{n}")
            out.write(("," if n else "") + json.dumps(record, ensure_ascii=False))
        out.write("]")
    peaks = {}
    for how in ("load", "stream"):
        code = _PEAK.format(repo=str(REPO), path=str(path))
        done = subprocess.run(
            [sys.executable, "-c", code, how], capture_output=True, text=True, check=True
        )
        count, peak_kib = map(int, done.stdout.split())
        assert count == 200_000
        peaks[how] = peak_kib
    assert peaks["stream"] < peaks["load"] / 4, peaks


# --- real offices' spreadsheets (issue 12) -------------------------------------------------------


def test_a_cell_merged_down_several_rows_belongs_to_each_of_them(tmp_path):
    path = tmp_path / "merged.xlsx"
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet("目录")
    sheet.merge_range("B1:E1", "某市政务信息资源目录")  # a title across the table: one cell
    sheet.write_row(1, 1, ["名称", "提供方", "格式", "更新周期"])
    for n in range(5):
        sheet.write_row(2 + n, 1, [f"资源{n}", None, "xlsx"])
    sheet.merge_range("C3:C7", "市统计局")
    sheet.merge_range("E3:E4", "每月")
    workbook.close()
    document = read_document(path)
    assert document.header == ("名称", "提供方", "格式", "更新周期")
    rows = [(r.row, r.fields) for r in document.records(None)]
    assert [fields["提供方"] for _, fields in rows] == ["市统计局"] * 5
    assert [fields["更新周期"] for _, fields in rows] == ["每月", "每月", "", "", ""]
    assert [row for row, _ in rows] == [3, 4, 5, 6, 7]
    assert all(not r.problems for r in document.records(None))


def write_sheets(path: Path, sheets: dict[str, list[list]], hidden: tuple[str, ...] = ()) -> Path:
    workbook = xlsxwriter.Workbook(str(path))
    for name, rows in sheets.items():
        sheet = workbook.add_worksheet(name)
        for r, row in enumerate(rows):
            sheet.write_row(r, 0, row)
        if name in hidden:
            sheet.hide()
    workbook.close()
    return path


CATALOGUE_ROWS = [
    ["某市目录"],
    ["名称", "提供方", "格式"],
    ["甲", "局", "xls"],
    ["乙", "委", "csv"],
]


def test_the_catalogue_sheet_is_found_after_an_instructions_sheet(tmp_path):
    instructions = [["填表说明"], ["1. 名称必填"], ["2. 提供方填全称"], ["字段", "说明"]]
    lookups = [["格式", "备注"], ["xls", ""], ["csv", ""], ["json", ""]]
    path = write_sheets(
        tmp_path / "book.xlsx",
        {"填表说明": instructions, "目录表": CATALOGUE_ROWS, "下拉": lookups + lookups},
    )
    document = read_document(path)
    assert (document.sheet, document.header) == ("目录表", ("名称", "提供方", "格式"))
    assert [(r.row, r.fields["名称"]) for r in document.records(None)] == [(3, "甲"), (4, "乙")]


def test_mulu_s_own_sheet_wins_and_a_hidden_or_dataless_sheet_is_never_chosen(tmp_path):
    wide = [["甲", "乙", "丙", "丁", "戊"], ["1", "2", "3", "4", "5"], ["1", "2", "3", "4", "5"]]
    path = write_sheets(tmp_path / "own.xlsx", {"说明": wide, "信息资源目录": CATALOGUE_ROWS})
    assert read_document(path).sheet == "信息资源目录"
    path = write_sheets(
        tmp_path / "hidden.xlsx", {"说明": [["说明"]], "目录": CATALOGUE_ROWS, "隐": wide}, ("隐",)
    )
    assert read_document(path).sheet == "目录"
    path = write_sheets(tmp_path / "none.xlsx", {"一": [["名称", "提供方"]], "二": [["说明"]]})
    assert read_document(path).sheet == "一"  # no sheet has data: the first, as before


def test_footer_notes_below_the_table_are_skipped_and_counted_not_rejected(tmp_path):
    rows = [
        ["名称", "提供方", "格式"],
        ["甲", "局", "xls"],
        ["乙", "委", "csv"],
        [],
        ["制表人：张三"],
        ["", "审核人："],
        ["填报日期：2023-05-08"],
        ["制 表 日 期:2023年5月"],
        ["注：本表按季度更新。"],
        ["说明", "不是备注", ""],  # two cells: a record as before
        ["备注事项：不是注"],  # no note word before the colon: a record as before
    ]
    document = read_document(write_xlsx(tmp_path / "footer.xlsx", rows))
    names = [r.fields["名称"] for r in document.records(None)]
    assert names == ["甲", "乙", "说明", "备注事项：不是注"]
    assert document.skipped_rows == [5, 6, 7, 8, 9]
    assert len(list(document.records(None))) == 4  # a second iteration counts afresh
    assert len(document.skipped_rows) == 5
    assert note_row(["", "注:", None])
    assert not note_row(["注：", "x"])
    assert not note_row([3])


def test_json_numbers_keep_the_file_s_digits(tmp_path):
    text = (
        '[{"标题": "甲", "比例": 1.50, "金额": 12345678901234567890.123456789, "数": 3,'
        ' "小": 0.1, "大": 1E400, "表": [2.50, {"x": 99999999999999999999.5}]}, 7.25]'
    )
    path = write(tmp_path / "numbers.json", text)
    lines = write(tmp_path / "numbers.jsonl", text[1:].split("}, 7.25]")[0] + "}\n")
    for found in (list(records(path))[0], list(records(lines))[0]):
        assert found.fields["比例"] == 1.5
        assert type(found.fields["比例"]) is float
        assert found.fields["金额"] == "12345678901234567890.123456789"  # no float holds it
        assert found.fields["数"] == 3
        assert found.fields["小"] == 0.1
        assert found.fields["大"] in ("1E+400", "1E400")
        assert found.fields["表"] == [2.5, {"x": "99999999999999999999.5"}]
        assert '"比例": 1.50' in found.raw
        assert '"金额": 12345678901234567890.123456789' in found.raw
        assert json.dumps(found.fields)  # storable as entries.source_record
    assert list(records(path))[1].raw == "7.25"


def test_exact_json_numbers_survive_cleaning(tmp_path):
    path = write(tmp_path / "bad.json", '[{"标题": "甲\\u0001", "比例": 1.50}]')
    (record,) = records(path)
    assert record.fields == {"标题": "甲\ufffd", "比例": 1.5}
    assert record.raw == '{"标题": "甲\\u0001", "比例": 1.50}'
