"""Encodings verified (issue 11): a declared GBK/GB18030 file that is really UTF-8 is refused
instead of published as mojibake, ``auto`` (the default) reads UTF-8 and GB18030 files alike, and
every refusal leaves the live table as it was (row count and checksum)."""

from __future__ import annotations

from pathlib import Path

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

from schemas.dataset_spec import Source
from schemas.errors import InvalidInput
from warehouse.load import SourceError, load_dataset

NAMES = [{"name": "person_name", "source": "name"}, {"name": "district", "source": "district"}]
NAME_ROWS = [("张伟", "城关镇"), ("李秀英", "东城街道"), ("王建国", "西山乡")]
RARE = ("王𠀀明", "西山乡")  # a 4-byte GB18030 character, as rare names carry


def names_csv(path: Path, rows=NAME_ROWS, *, encoding: str = "utf-8") -> Path:
    """An ASCII header and Chinese values: the shape that published as mojibake."""
    return write_csv(path, ["name", "district"], rows, encoding=encoding)


@pytest.mark.slow
def test_a_utf8_file_declared_gbk_is_refused_and_the_live_table_stays(workspace, sources, specs):
    good = names_csv(sources / "城乡低保.csv", encoding="gbk")
    spec = write_spec(specs, "dibao", good, columns=NAMES, encoding="gbk")
    assert load_dataset(workspace, spec).status == "published"
    before = live_table(workspace, "dibao")
    assert lake_rows(workspace, "dibao") == sorted(NAME_ROWS)

    # The department switched to UTF-8 and nobody told the spec.
    names_csv(good, [("张伟", "城关镇"), ("赵六", "北岭镇")], encoding="utf-8")
    with pytest.raises(SourceError) as caught:
        load_dataset(workspace, spec)

    message = str(caught.value)
    assert message == (
        f"{good}: declared gbk but the file is valid UTF-8 with Chinese text (line 2: 张伟…, "
        f"which gbk would read as 寮犱紵…); set encoding: utf-8 or auto"
    )
    assert isinstance(caught.value, InvalidInput)
    assert (caught.value.file, caught.value.row) == (str(good), 2)
    assert live_table(workspace, "dibao") == before
    assert "寮犱紵" not in str(lake_rows(workspace, "dibao"))
    assert loads(workspace, "dibao")[-1]["status"] == "failed"
    assert "declared gbk" in loads(workspace, "dibao")[-1]["error"]
    assert not any(workspace.staging_dir.rglob("*.utf8.*"))


@pytest.mark.parametrize("declared", ["gb18030", "GB2312", "cp936"])
def test_every_gb_declaration_is_verified(workspace, sources, specs, declared):
    path = names_csv(sources / "names.csv")
    with pytest.raises(SourceError, match="valid UTF-8 with Chinese text"):
        load_dataset(workspace, write_spec(specs, "names", path, columns=NAMES, encoding=declared))


@pytest.mark.slow
def test_auto_is_the_default_and_reads_utf8_and_gbk_alike(workspace, sources, specs):
    assert Source(url="x.csv").encoding == "auto"
    for encoding in ("utf-8", "gbk", "gb18030", "utf-8-sig"):
        path = names_csv(sources / f"names_{encoding}.csv", encoding=encoding)
        table = f"names_{encoding.replace('-', '_')}"
        spec = write_spec(specs, table, path, columns=NAMES)
        assert spec.source.encoding == "auto"
        assert load_dataset(workspace, spec).status == "published"
        assert lake_rows(workspace, table) == sorted(NAME_ROWS), encoding
    path = names_csv(sources / "rare.csv", [*NAME_ROWS, RARE], encoding="gb18030")
    load_dataset(workspace, write_spec(specs, "rare", path, columns=NAMES))
    assert lake_rows(workspace, "rare") == sorted([*NAME_ROWS, RARE])


@pytest.mark.slow
def test_auto_finds_gbk_text_after_megabytes_of_ascii(workspace, sources, specs):
    ascii_rows = [(f"resident{n}", f"district{n % 7}") for n in range(150_000)]  # ~3.5 MiB
    path = names_csv(sources / "late.csv", ascii_rows + NAME_ROWS, encoding="gbk")
    assert path.read_bytes()[: 3 << 20].isascii()  # the first 3 chunks
    load_dataset(workspace, write_spec(specs, "late", path, columns=NAMES))
    assert set(NAME_ROWS) <= set(lake_rows(workspace, "late"))


@pytest.mark.slow
def test_a_gbk_file_declared_utf8_names_the_likely_encoding(workspace, sources, specs):
    good = write_csv(sources / "roster.csv", ROSTER_HEADER, ROSTER_ROWS)
    spec = write_spec(specs, "dibao", good, encoding="utf-8")
    load_dataset(workspace, spec)
    before = live_table(workspace, "dibao")
    write_csv(good, ROSTER_HEADER, ROSTER_ROWS, encoding="gbk")  # the header is Chinese too
    with pytest.raises(SourceError) as caught:
        load_dataset(workspace, spec)
    message = str(caught.value)
    assert message.startswith(f"{good}: not UTF-8 (invalid UTF-8 bytes ")
    assert message.endswith("it reads as GB18030 (line 1: 姓名…): set encoding: gbk or auto")
    assert caught.value.row == 1
    assert live_table(workspace, "dibao") == before


@pytest.mark.slow
def test_a_utf8_file_with_gbk_rows_further_on_is_refused(workspace, sources, specs):
    # Valid UTF-8 Chinese first, then a GBK row: a mix is neither encoding; auto picks UTF-8
    # from the first Chinese text and DuckDB's strict reading stops at the GBK bytes.
    path = names_csv(sources / "mixed.csv", [("张伟", "城关镇")] * 150_000)  # 2.6 MiB
    assert path.stat().st_size > 2 << 20  # beyond the first chunk, which decides
    path.write_bytes(path.read_bytes() + "李四,东城街道\r\n".encode("gbk"))
    with pytest.raises(SourceError) as caught:
        load_dataset(workspace, write_spec(specs, "mixed", path, columns=NAMES))
    assert "invalid UTF-8 bytes" in str(caught.value)
    assert "at line 150002" in str(caught.value)
    assert "is the file a mix of encodings?" in str(caught.value)
    assert caught.value.row == 150_002


def test_a_small_mix_of_utf8_and_gbk_is_neither(workspace, sources, specs):
    path = names_csv(sources / "mixed.csv", [("张伟", "城关镇")] * 10)
    path.write_bytes(path.read_bytes() + "李四,东城街道\r\n".encode("gbk"))
    with pytest.raises(SourceError, match=r"neither UTF-8 \(invalid at line 12\) nor GB18030"):
        load_dataset(workspace, write_spec(specs, "mixed", path, columns=NAMES))


def test_a_file_neither_utf8_nor_gb18030_is_refused(workspace, sources, specs):
    path = names_csv(sources / "broken.csv", encoding="gbk")
    path.write_bytes(path.read_bytes() + b"\x81\x20,x\r\n")
    with pytest.raises(SourceError) as caught:
        load_dataset(workspace, write_spec(specs, "broken", path, columns=NAMES))
    assert "neither UTF-8 (invalid at line 2) nor GB18030 (invalid bytes 81 20 at line 5" in str(
        caught.value
    )
    assert caught.value.row == 5


@pytest.mark.parametrize("fmt", ["json", "ndjson"])
@pytest.mark.slow
def test_gbk_json_is_read_by_auto_and_verified_when_declared(workspace, sources, specs, fmt):
    import json

    records = [{"name": n, "district": d} for n, d in NAME_ROWS]
    text = (
        json.dumps(records, ensure_ascii=False)
        if fmt == "json"
        else "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    )
    path = sources / f"names.{fmt}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("gb18030"))
    load_dataset(workspace, write_spec(specs, "names", path, columns=NAMES))
    assert lake_rows(workspace, "names") == sorted(NAME_ROWS)

    path.write_bytes(text.encode("utf-8"))
    with pytest.raises(SourceError, match="declared gbk but the file is valid UTF-8"):
        load_dataset(workspace, write_spec(specs, "names", path, columns=NAMES, encoding="gbk"))
    assert lake_rows(workspace, "names") == sorted(NAME_ROWS)


def test_auto_is_allowed_on_binary_formats_but_gbk_is_not():
    assert Source(url="a.xlsx", encoding="auto").encoding == "auto"
    assert Source(url="a.parquet", encoding="AUTO").encoding == "auto"
    with pytest.raises(ValueError, match="encoding applies to csv/json/ndjson only"):
        Source(url="a.xlsx", encoding="gbk")
