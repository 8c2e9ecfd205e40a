"""Streaming transcoding to UTF-8: characters split across chunks, strict errors, DuckDB reads it."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import duckdb
import pytest

from warehouse.transcode import (
    EncodingMismatch,
    TranscodeError,
    TranscodeResult,
    detect_encoding,
    gb18030_sample,
    text_for_duckdb,
    transcode_to_utf8,
)

ODD_CHUNK = 4093  # odd on purpose: characters straddle chunk boundaries all the time
SURNAMES = "张王李赵刘陈杨黄周吴"
GIVEN = [
    "伟",
    "秀英",
    "𠀀明",
    "䶮",
    "建国",
    "丽",
    "𪚥华",
    "淑珍",
    "浩然",
    "曌",
]  # incl. 4-byte GB18030
PLACES = ["城关镇幸福社区", "东城街道", "西山乡,杨柳村", '南湖街道"月亮湾"小区', "北岭镇"]
HEADER = ["序号", "姓名", "身份证号", "家庭住址", "审批日期", "月保障金额(元)"]


def roster_rows(count: int) -> list[tuple[str, ...]]:
    start = dt.date(2013, 6, 10)
    return [
        (
            str(n),
            SURNAMES[n % 10] + GIVEN[n * 7 % 10],
            f"11010119{n % 90 + 10:02d}0307{n % 10000:04d}",
            PLACES[n % 5] + f"{n % 300}号",
            (start + dt.timedelta(days=n % 4000)).isoformat(),
            f"{600 + n % 500}.{n % 100:02d}",
        )
        for n in range(1, count + 1)
    ]


def csv_text(rows: list[tuple[str, ...]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows(rows)
    return buffer.getvalue()


@pytest.mark.slow
def test_a_large_gb18030_file_transcodes_byte_exact_and_duckdb_reads_every_row(tmp_path):
    rows = roster_rows(200_000)
    text = csv_text(rows)
    assert "𠀀" in text
    assert '"' in text
    assert "西山乡,杨柳村" in text
    src, dst = tmp_path / "低保.csv", tmp_path / "低保.utf8.csv"
    src.write_bytes(text.encode("gb18030"))

    result = transcode_to_utf8(src, dst, "GB18030", chunk_size=ODD_CHUNK)

    expected = text.encode("utf-8")
    assert dst.read_bytes() == expected
    assert result == TranscodeResult(
        bytes_in=src.stat().st_size, bytes_out=len(expected), lines=200_001
    )
    read = (
        f"read_csv('{dst}', header = true, all_varchar = true, delim = ',', quote = '\"', "
        f"escape = '\"')"
    )
    con = duckdb.connect()
    assert [d[0] for d in con.sql(f"SELECT * FROM {read} LIMIT 0").description] == HEADER
    assert con.sql(f"SELECT * FROM {read}").fetchall() == rows
    typed = con.sql(
        f"SELECT count(*), min(审批日期), max(审批日期) FROM read_csv('{dst}', "
        f"header = true, types = {{'审批日期': 'DATE'}}) "
        f"WHERE 审批日期 = DATE '2013-06-10'"
    ).fetchone()
    assert typed == (
        sum(r[4] == "2013-06-10" for r in rows),
        dt.date(2013, 6, 10),
        dt.date(2013, 6, 10),
    )


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 5, 7, 11])
def test_four_byte_characters_survive_every_split(tmp_path, chunk_size):
    text = "".join(f"{n},𠀀{'中' * (n % 3)}𪚥,2013-06-10\n" for n in range(300))
    src = tmp_path / "rare.csv"
    src.write_bytes(text.encode("gb18030"))
    assert len("𠀀".encode("gb18030")) == 4
    transcode_to_utf8(src, tmp_path / "out.csv", "gb18030", chunk_size=chunk_size)
    assert (tmp_path / "out.csv").read_text(encoding="utf-8") == text


def test_gbk_files_with_gb18030_characters_are_read(tmp_path):
    # "GBK" exports carry 4-byte GB18030 characters for rare names; the gbk codec rejects them.
    text = "姓名\n王𠀀\n李䶮\n"
    src = tmp_path / "gbk.csv"
    src.write_bytes(text.encode("gb18030"))
    transcode_to_utf8(src, tmp_path / "out.csv", "GBK", chunk_size=3)
    assert (tmp_path / "out.csv").read_text(encoding="utf-8") == text


def _bad_file(
    tmp_path: Path, line: int, column: int, bad: bytes, lines: int = 5000
) -> tuple[Path, int]:
    """A GB18030 file whose ``line`` (1-based) has ``bad`` inserted after ``column`` bytes."""
    encoded = [row.encode("gb18030") for row in csv_text(roster_rows(lines - 1)).splitlines(True)]
    offset = sum(map(len, encoded[: line - 1])) + column
    encoded[line - 1] = encoded[line - 1][:column] + bad + encoded[line - 1][column:]
    src = tmp_path / "bad.csv"
    src.write_bytes(b"".join(encoded))
    return src, offset


@pytest.mark.parametrize(
    ("line", "column", "bad"),
    [
        (1, 0, b"\xff"),  # the very first byte
        (3777, 2, b"\x81\x20"),  # a lead byte followed by a space
        (2500, 5, b"\x81\x30\x81"),  # a 4-byte sequence cut short
    ],
)
def test_invalid_bytes_name_the_line_and_offset(tmp_path, line, column, bad):
    src, offset = _bad_file(tmp_path, line, column, bad)
    dst = tmp_path / "out.csv"
    with pytest.raises(TranscodeError) as caught:
        transcode_to_utf8(src, dst, "gb18030", chunk_size=ODD_CHUNK)
    error = caught.value
    assert (error.line, error.offset) == (line, offset)
    assert f"bad.csv: invalid gb18030 bytes {bad[0]:02x}" in str(error)
    assert f"at line {line}, byte offset {offset}" in str(error)
    assert not dst.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["bad.csv"]


def test_an_error_held_over_a_chunk_boundary_is_located(tmp_path):
    # The lead byte is the last byte of a chunk: the decoder keeps it and fails in the next one.
    src, _ = _bad_file(tmp_path, 1, 0, b"")
    data = src.read_bytes()
    at = ODD_CHUNK - 1
    while data[at - 1 : at] != b"\n":  # put the bad sequence at the start of a line
        at -= 1
    data = data[:at] + b"x" * (ODD_CHUNK - 1 - at) + b"\x81\x20" + data[ODD_CHUNK - 1 :]
    src.write_bytes(data)
    with pytest.raises(TranscodeError) as caught:
        transcode_to_utf8(src, tmp_path / "out.csv", "gb18030", chunk_size=ODD_CHUNK)
    assert caught.value.offset == ODD_CHUNK - 1
    assert caught.value.line == data[: ODD_CHUNK - 1].count(b"\n") + 1


def test_a_character_cut_at_the_end_of_the_file(tmp_path):
    text = "序号,姓名\n1,张三\n2,王"
    src = tmp_path / "cut.csv"
    src.write_bytes(text.encode("gb18030") + "𠀀".encode("gb18030")[:3])
    cut_at = len(text.encode("gb18030"))  # 21: where the incomplete character starts
    with pytest.raises(TranscodeError, match=f"at line 3, byte offset {cut_at}$"):
        transcode_to_utf8(src, tmp_path / "out.csv", "gb18030", chunk_size=ODD_CHUNK)


def test_invalid_utf8_is_an_error_too(tmp_path):
    src = tmp_path / "u.csv"
    src.write_bytes("a\n张三\n".encode() + b"\xe5\xbc\n")
    with pytest.raises(TranscodeError, match="invalid utf-8 bytes e5 bc at line 3, byte offset 9"):
        transcode_to_utf8(src, tmp_path / "out.csv", "utf-8", chunk_size=4)


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-8"])
@pytest.mark.parametrize("chunk_size", [1, 2, ODD_CHUNK])
def test_a_byte_order_mark_is_dropped(tmp_path, encoding, chunk_size):
    src = tmp_path / "bom.csv"
    src.write_bytes(b"\xef\xbb\xbf" + "姓名\n张三".encode())
    result = transcode_to_utf8(src, tmp_path / "out.csv", encoding, chunk_size=chunk_size)
    assert (tmp_path / "out.csv").read_bytes() == "姓名\n张三".encode()
    assert result.lines == 2
    assert result.bytes_in == src.stat().st_size


def test_a_failed_run_leaves_the_previous_output_alone(tmp_path):
    dst = tmp_path / "out.csv"
    dst.write_text("previous", encoding="utf-8")
    src = tmp_path / "bad.csv"
    src.write_bytes(b"ok\n\xff\n")
    with pytest.raises(TranscodeError):
        transcode_to_utf8(src, dst, "gbk")
    assert dst.read_text(encoding="utf-8") == "previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv", "out.csv"]


def test_empty_files_and_unsupported_encodings(tmp_path):
    src = tmp_path / "empty.csv"
    src.write_bytes(b"")
    assert transcode_to_utf8(src, tmp_path / "out.csv", "gbk") == TranscodeResult(0, 0, 0)
    assert transcode_to_utf8(src, tmp_path / "out.csv", "auto") == TranscodeResult(0, 0, 0)
    with pytest.raises(ValueError, match="unsupported encoding 'big5'"):
        transcode_to_utf8(src, tmp_path / "out.csv", "big5")


# --- declared encodings are verified; auto ---------------------------------------------------
MOJIBAKE_SOURCE = "name,id\n张伟,1\n"  # valid GB18030 too, as mojibake


@pytest.mark.parametrize("declared", ["gbk", "gb18030"])
@pytest.mark.parametrize("chunk_size", [1, 2, 3, 5, ODD_CHUNK])
def test_a_utf8_file_declared_gbk_is_refused_naming_utf8(tmp_path, declared, chunk_size):
    src = tmp_path / "城乡低保.csv"
    src.write_bytes(MOJIBAKE_SOURCE.encode("utf-8"))
    # The trap: these UTF-8 bytes are valid GB18030 too, as mojibake.
    assert MOJIBAKE_SOURCE.encode("utf-8").decode("gb18030") == "name,id\n寮犱紵,1\n"
    with pytest.raises(EncodingMismatch) as caught:
        transcode_to_utf8(src, tmp_path / "out.csv", declared, chunk_size=chunk_size)
    assert str(caught.value) == (
        f"城乡低保.csv: declared {declared} but the file is valid UTF-8 with Chinese text "
        f"(line 2: 张伟…, which {declared} would read as 寮犱紵…); set encoding: utf-8 or auto"
    )
    assert caught.value.line == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["城乡低保.csv"]


def test_a_utf8_file_that_is_not_gb18030_either_is_called_utf8(tmp_path):
    text = "序号,地址\n1,城关镇幸福社区\n2,é café\n"
    with pytest.raises(UnicodeDecodeError):
        text.encode("utf-8").decode("gb18030")
    src = tmp_path / "u.csv"
    src.write_bytes(text.encode("utf-8"))
    with pytest.raises(EncodingMismatch, match=r"valid UTF-8 with Chinese text \(line 1: 序号…"):
        transcode_to_utf8(src, tmp_path / "out.csv", "gbk", chunk_size=7)


def test_non_chinese_utf8_is_named_as_non_ascii(tmp_path):
    src = tmp_path / "u.csv"
    src.write_bytes("name\nJosé Müller\n".encode())
    with pytest.raises(EncodingMismatch, match=r"with non-ASCII text \(line 2: é…"):
        transcode_to_utf8(src, tmp_path / "out.csv", "gb18030")


def test_ascii_only_files_pass_any_declaration(tmp_path):
    src = tmp_path / "a.csv"
    src.write_bytes(b"a,b\n1,2\n")
    for encoding in ("gbk", "gb18030", "utf-8", "auto"):
        transcode_to_utf8(src, tmp_path / "out.csv", encoding)
        assert (tmp_path / "out.csv").read_bytes() == b"a,b\n1,2\n"


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 5, ODD_CHUNK])
def test_auto_transcodes_utf8_and_gb18030_byte_exact(tmp_path, chunk_size):
    text = csv_text(roster_rows(300))
    for encoding in ("utf-8", "gb18030"):
        src = tmp_path / f"{encoding}.csv"
        src.write_bytes(text.encode(encoding))
        result = transcode_to_utf8(src, tmp_path / "out.csv", "auto", chunk_size=chunk_size)
        assert (tmp_path / "out.csv").read_bytes() == text.encode("utf-8")
        assert result.encoding == encoding
        assert result.lines == 301


def test_auto_refuses_a_file_that_is_neither(tmp_path):
    src = tmp_path / "x.csv"
    src.write_bytes("姓名\n张三\n".encode("gb18030") + b"\x81\x20\n")
    with pytest.raises(TranscodeError) as caught:
        transcode_to_utf8(src, tmp_path / "out.csv", "auto")
    assert str(caught.value) == (
        "x.csv: neither UTF-8 (invalid at line 1) nor GB18030 (invalid bytes 81 20 at line 3, "
        "byte offset 10); set the file's encoding in the spec"
    )
    assert not (tmp_path / "out.csv").exists()


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 4, 5, 7, 64])
def test_detect_encoding_at_every_chunk_split(tmp_path, chunk_size):
    src = tmp_path / "d.csv"
    ascii_part = "a,b\n" * 20
    src.write_bytes((ascii_part + "张伟,1\n").encode("utf-8"))
    assert detect_encoding(src, chunk_size) == ("utf-8", None)
    src.write_bytes((ascii_part + "张伟,1\n").encode("gb18030"))
    found, where = detect_encoding(src, chunk_size)
    assert found == "gb18030"
    assert where is not None
    assert (where.line, where.offset) == (21, len(ascii_part))
    src.write_bytes(ascii_part.encode())
    assert detect_encoding(src, chunk_size) == ("utf-8", None)
    src.write_bytes(ascii_part.encode() + "张".encode()[:2])  # cut at the end: not UTF-8
    assert detect_encoding(src, chunk_size)[0] == "gb18030"


def test_text_for_duckdb_copies_only_what_is_not_utf8(tmp_path):
    utf8, gbk = tmp_path / "u.csv", tmp_path / "g.csv"
    utf8.write_bytes("姓名\n张三\n".encode())
    gbk.write_bytes("姓名\n张三\n".encode("gbk"))
    out = tmp_path / "out" / "copy.csv"
    assert text_for_duckdb(utf8, out, "auto") == utf8
    assert text_for_duckdb(utf8, out, "utf-8") == utf8
    assert not out.parent.exists()
    assert text_for_duckdb(gbk, out, "auto") == out
    assert out.read_bytes() == "姓名\n张三\n".encode()
    with pytest.raises(EncodingMismatch):
        text_for_duckdb(utf8, out, "gbk")


def test_gzipped_text_is_read_uncompressed(tmp_path):
    import gzip

    src = tmp_path / "g.csv.gz"
    src.write_bytes(gzip.compress("姓名\n张三\n".encode("gbk")))
    out = text_for_duckdb(src, tmp_path / "g.utf8.csv", "auto")
    assert out.read_text(encoding="utf-8") == "姓名\n张三\n"


def test_gb18030_sample_names_the_first_chinese_text(tmp_path):
    src = tmp_path / "g.csv"
    src.write_bytes("a,b\n1,王𠀀明\n".encode("gb18030"))
    assert gb18030_sample(src, chunk_size=3) == (2, "王𠀀明")
    src.write_bytes(b"a\n\x81\x20")
    assert gb18030_sample(src) is None
