"""Dataset specs: the shipped example, every key documented, and errors that name file and key."""

from __future__ import annotations

import copy
import datetime as dt
import json
import types
import typing
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

from schemas.dataset_spec import (
    PII,
    DatasetSpec,
    SpecError,
    load_spec,
    normalise_column_type,
    normalise_encoding,
    spec_json_schema,
)
from schemas.errors import InvalidInput

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "docs" / "examples" / "dataset-spec.yaml"
DOCS = REPO / "docs" / "dataset-spec.md"

MINIMAL = {
    "name": "dibao_recipients",
    "title": "城乡低保对象名单",
    "entry_code": "301005/000012",
    "source": {"url": "/data/低保.csv", "encoding": "GBK"},
    "columns": [
        {"name": "id_card_no", "source": "身份证号", "pii": "id_card", "format": "身份证号"},
        {"name": "person_name", "source": "姓名", "pii": "name"},
        {"name": "approved_on", "source": "审批日期", "type": "date"},
    ],
    "primary_key": ["id_card_no"],
    "load": {"mode": "upsert"},
}


def write(tmp_path: Path, data: dict | str, name: str = "spec.yaml") -> Path:
    path = tmp_path / name
    text = data if isinstance(data, str) else yaml.safe_dump(data, allow_unicode=True)
    path.write_text(text, encoding="utf-8")
    return path


def spec_with(**changes) -> dict:
    data = copy.deepcopy(MINIMAL)
    data.update(changes)
    return data


def model_classes(model: type[BaseModel]) -> list[type[BaseModel]]:
    """``model`` and every model nested in its fields (lists and optionals included)."""
    found, pending = [], [model]
    while pending:
        current = pending.pop()
        if current in found:
            continue
        found.append(current)
        for field in current.model_fields.values():
            stack = [field.annotation]
            while stack:
                annotation = stack.pop()
                if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                    pending.append(annotation)
                elif isinstance(annotation, types.UnionType) or typing.get_origin(annotation):
                    stack.extend(typing.get_args(annotation))
    return found


# --- the example and the docs --------------------------------------------------------------
def test_example_loads_with_values_normalised():
    spec = load_spec(EXAMPLE)
    assert spec.name == "dibao_recipients"
    assert spec.entry_code == "301005/000012"
    assert spec.source.format == "csv"
    assert spec.source.encoding == "gbk"
    assert spec.load.mode == "upsert"
    assert spec.primary_key == ["id_card_no"]
    id_card = spec.column("id_card_no")
    assert id_card.pii is PII.ID_CARD
    assert id_card.format == "身份证号"
    assert id_card.nullable is False  # primary key columns are never null
    assert spec.column("mobile").pii is PII.MOBILE
    assert spec.column("mobile").format == "手机号"
    assert spec.column("monthly_allowance").min == Decimal("0")
    assert spec.column("approved_on").min == dt.date(2000, 1, 1)
    assert spec.column("community").source == "村(社区)"
    assert spec.freshness == "每月"
    assert spec.schedule == "0 6 3 * *"
    assert spec.checks[0].kwargs == {"min_value": 100}
    assert spec.checks[0].severity == "warning"
    assert spec.checks[1].column == "township"
    assert spec.checks[1].severity == "error"


def test_every_key_is_documented():
    docs = DOCS.read_text(encoding="utf-8")
    keys = {name for model in model_classes(DatasetSpec) for name in model.model_fields}
    assert {"url", "storage_options", "pii", "mode", "severity"} <= keys  # the walk recursed
    assert sorted(k for k in keys if f"| `{k}` |" not in docs) == []


def test_json_schema_has_titles_and_descriptions():
    schema = spec_json_schema()
    json.dumps(schema, ensure_ascii=False)  # serialisable
    models = [schema, *schema["$defs"].values()]
    untitled = [
        (m["title"], key)
        for m in models
        for key, prop in m["properties"].items()
        if "title" not in prop
        or ("description" not in prop and key not in {"description", "source", "load"})
    ]
    assert untitled == []
    assert schema["properties"]["entry_code"]["title"] == "信息资源代码"
    assert schema["additionalProperties"] is False


def test_example_validates_against_the_json_schema():
    import jsonschema  # installed with great-expectations and dagster

    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    jsonschema.validate(json.loads(json.dumps(data, default=str)), spec_json_schema())


def test_dump_and_reload_is_stable():
    spec = load_spec(EXAMPLE)
    again = DatasetSpec.model_validate(json.loads(spec.model_dump_json()))
    assert again == spec


# --- values --------------------------------------------------------------------------------
def test_aliases_normalise(tmp_path):
    spec = load_spec(write(tmp_path, MINIMAL))
    assert [c.pii for c in spec.columns] == [PII.ID_CARD, PII.NAME, None]
    assert spec.column("person_name").source == "姓名"
    assert spec.column("approved_on").duckdb_type() == "DATE"
    assert normalise_encoding("UTF8") == "utf-8"
    assert normalise_encoding("cp936") == normalise_encoding("GB2312") == "gbk"
    assert normalise_encoding("GB18030") == "gb18030"
    assert normalise_encoding("UTF-8-SIG") == "utf-8-sig"


@pytest.mark.parametrize(
    ("raw", "canonical", "duckdb"),
    [
        ("String", "string", "VARCHAR"),
        ("int", "integer", "INTEGER"),
        ("int64", "bigint", "BIGINT"),
        ("float", "double", "DOUBLE"),
        ("DECIMAL(12, 2)", "decimal(12,2)", "DECIMAL(12,2)"),
        ("numeric(38,0)", "decimal(38,0)", "DECIMAL(38,0)"),
        ("bool", "boolean", "BOOLEAN"),
        ("datetime", "timestamp", "TIMESTAMP"),
    ],
)
def test_column_types_map_to_duckdb(raw, canonical, duckdb):
    assert normalise_column_type(raw) == canonical
    column = spec_with(columns=[{"name": "c", "type": raw}])
    column["primary_key"], column["load"] = [], {"mode": "replace"}
    assert DatasetSpec.model_validate(column).columns[0].duckdb_type() == duckdb


@pytest.mark.parametrize(
    ("url", "fmt"),
    [
        ("/x/a.CSV", "csv"),
        ("s3://b/k/*.xlsx", "xlsx"),
        ("https://h/a.jsonl?token=1", "ndjson"),
        ("file:///x/a.parquet", "parquet"),
        ("a.json", "json"),
    ],
)
def test_format_is_inferred_from_the_url(url, fmt):
    data = spec_with(source={"url": url})
    assert DatasetSpec.model_validate(data).source.format == fmt


def test_tsv_gets_a_tab_delimiter():
    spec = DatasetSpec.model_validate(spec_with(source={"url": "/x/a.tsv"}))
    assert spec.source.delimiter == "\t"


def test_bounds_and_values_fit_the_column_type():
    columns = [
        {"name": "id_card_no"},
        {"name": "amount", "type": "decimal(10,2)", "min": 0, "max": "999.50"},
        {"name": "reported_at", "type": "timestamp", "min": dt.date(2020, 1, 1)},
        {"name": "size", "type": "integer", "allowed_values": [1, 2, 3]},
        {"name": "active", "type": "boolean", "allowed_values": [True]},
    ]
    spec = DatasetSpec.model_validate(spec_with(columns=columns))
    assert spec.column("amount").max == Decimal("999.50")
    assert spec.column("reported_at").min == dt.datetime(2020, 1, 1)
    assert spec.column("size").allowed_values == [1, 2, 3]


# --- errors name the file and the key ------------------------------------------------------
def _error(tmp_path: Path, data: dict | str) -> str:
    path = write(tmp_path, data)
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    message = str(caught.value)
    assert str(path) in message
    return message


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"primary_keys": ["id_card_no"]},
            "primary_keys: unknown key 'primary_keys' (did you mean 'primary_key'?)",
        ),
        ({"source": {"url": "/a.csv", "encodng": "gbk"}}, "source.encodng: unknown key 'encodng'"),
        (
            {"columns": [{"name": "id_card_no", "nulable": False}]},
            "columns[0] (id_card_no).nulable: unknown key 'nulable' (did you mean 'nullable'?)",
        ),
        ({"load": {"mode": "upsert", "key": ["x"]}}, "load.key: unknown key 'key'"),
        (
            {"checks": [{"expectation": "expect_x", "severty": "warning"}]},
            "checks[0]: unknown key 'severty' (did you mean 'severity'?)",
        ),
    ],
)
def test_unknown_keys_are_named(tmp_path, change, expected):
    assert expected in _error(tmp_path, spec_with(**change))


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"name": "低保"}, "name: bad table name '低保'"),
        ({"name": "dibao__2024"}, "bad table name"),
        ({"entry_code": "X-1"}, "entry_code: bad 信息资源代码 'X-1'"),
        ({"title": " "}, "title: missing 中文名称"),
        ({"freshness": "看心情"}, "freshness: 无法识别的更新周期 '看心情'"),
        ({"schedule": "0 25 * * *"}, "out of range for the hour field"),
        ({"schedule": "daily"}, "expected 5 cron fields"),
        ({"source": {"url": "ftp://h/a.csv"}}, "source.url: unsupported url scheme 'ftp'"),
        ({"source": {"url": "/x/data"}}, "cannot tell the format from url '/x/data'"),
        ({"source": {"url": "/x/a.csv", "encoding": "big5"}}, "unsupported encoding 'big5'"),
        (
            {"source": {"url": "/x/a.parquet", "encoding": "gbk"}},
            "encoding applies to csv/json/ndjson",
        ),
        ({"source": {"url": "/x/a.csv", "sheet": "Sheet1"}}, "sheet applies to xlsx only"),
        ({"source": {"url": "/x/a.csv", "header_row": 0}}, "source.header_row"),
        ({"columns": [{"name": "身份证号"}]}, "columns[0] (身份证号).name: bad column name"),
        ({"columns": [{"name": "a", "type": "varchar2"}]}, "unknown type 'varchar2'"),
        ({"columns": [{"name": "a", "pii": "电话"}]}, "columns[0] (a).pii: unknown pii '电话'"),
        ({"columns": [{"name": "a", "min": 1}]}, "min applies to numeric, date and timestamp"),
        (
            {"columns": [{"name": "a", "type": "int", "min": 5, "max": 1}]},
            "min 5 is greater than max 1",
        ),
        ({"columns": [{"name": "a", "type": "date", "min": "2020-13-01"}]}, "does not fit a date"),
        ({"columns": [{"name": "a", "format": "邮编"}]}, "bad format '邮编'"),
        ({"columns": [{"name": "a", "type": "date", "format": "YYYY-MM-DD"}]}, "strptime pattern"),
        ({"columns": [{"name": "a"}, {"name": "a"}]}, "repeated column names a"),
    ],
)
def test_bad_values_are_named(tmp_path, change, expected):
    data = spec_with(**change)
    if "columns" in change:
        data["primary_key"], data["load"] = [], {"mode": "replace"}
    assert expected in _error(tmp_path, data)


def test_yaml_numbers_for_a_string_column_must_be_quoted(tmp_path):
    text = yaml.safe_dump(spec_with(), allow_unicode=True, sort_keys=False)
    text = text.replace("- name: person_name", "- name: person_name\n  allowed_values: [01, 02]")
    message = _error(tmp_path, text)
    assert (
        "columns[1] (person_name): allowed_values: 1 (int) does not fit a string column" in message
    )
    assert "quote it" in message


def test_key_rules(tmp_path):
    assert "load: mode upsert needs a primary_key" in _error(tmp_path, spec_with(primary_key=[]))
    assert "primary_key: id not among columns" in _error(tmp_path, spec_with(primary_key=["id"]))
    columns = copy.deepcopy(MINIMAL["columns"])
    columns[0]["nullable"] = True
    assert "id_card_no is in primary_key, so it cannot be nullable" in _error(
        tmp_path, spec_with(columns=columns)
    )
    checks = [{"expectation": "expect_column_values_to_be_unique", "column": "idcard"}]
    assert "names column 'idcard', not among columns" in _error(tmp_path, spec_with(checks=checks))


def test_a_key_given_twice_is_an_error(tmp_path):
    text = yaml.safe_dump(MINIMAL, allow_unicode=True) + "name: other_table\n"
    assert "key 'name' given twice" in _error(tmp_path, text)


def test_unreadable_files(tmp_path):
    assert "not list" in _error(tmp_path, "- a\n- b\n")
    assert "cannot read dataset spec" in _error(tmp_path, "name: [unclosed\n")
    with pytest.raises(SpecError, match="missing.yaml: cannot read"):
        load_spec(tmp_path / "missing.yaml")


def test_spec_errors_are_invalid_input_with_exit_code_2(tmp_path):
    """A bad spec is bad input: the CLI exits 2 and the API answers 400, as for any ValueError
    callers already catch."""
    with pytest.raises(InvalidInput) as caught:
        load_spec(write(tmp_path, spec_with(name="Bad-Name")))
    assert isinstance(caught.value, SpecError)
    assert isinstance(caught.value, ValueError)
    assert (caught.value.exit_code, caught.value.http_status) == (2, 400)
    assert "bad table name 'Bad-Name'" in caught.value.message


# --- volume (行数阈值) -----------------------------------------------------------------------
def test_volume_defaults_and_percentages(tmp_path):
    spec = load_spec(write(tmp_path, MINIMAL))
    assert (spec.volume.min_rows, spec.volume.max_drop, spec.volume.max_growth) == (0, 0.5, None)
    spec = load_spec(
        write(tmp_path, spec_with(volume={"min_rows": 10, "max_drop": "30%", "max_growth": 2}))
    )
    assert (spec.volume.min_rows, spec.volume.max_drop, spec.volume.max_growth) == (10, 0.3, 2.0)
    spec = load_spec(write(tmp_path, spec_with(volume={"max_drop": None, "max_growth": "250%"})))
    assert (spec.volume.max_drop, spec.volume.max_growth) == (None, 2.5)
    # Stored runs keep the spec as JSON; it reads back the same.
    assert DatasetSpec.model_validate(json.loads(spec.model_dump_json())) == spec


@pytest.mark.parametrize(
    ("volume", "expected"),
    [
        ({"max_dorp": 0.5}, "volume.max_dorp: unknown key 'max_dorp' (did you mean 'max_drop'?)"),
        ({"max_drop": 50}, "volume.max_drop: max_drop 50 is not between 0 and 1"),
        ({"max_drop": "half"}, "volume.max_drop: 'half' is not a fraction"),
        ({"max_drop": True}, "volume.max_drop: True is not a fraction"),
        ({"max_growth": -1}, "volume.max_growth: max_growth -1 is not a growth"),
        ({"min_rows": -1}, "volume.min_rows: Input should be greater than or equal to 0"),
        ({"min_rows": "10"}, "volume.min_rows: min_rows '10' is not a whole number of rows"),
        ({"min_rows": 1.5}, "volume.min_rows: min_rows 1.5 is not a whole number of rows"),
    ],
)
def test_bad_volumes_are_named(tmp_path, volume, expected):
    assert expected in _error(tmp_path, spec_with(volume=volume))


def test_volume_keys_are_in_the_json_schema():
    schema = spec_json_schema()
    volume = schema["$defs"]["Volume"]
    assert set(volume["properties"]) == {"min_rows", "max_drop", "max_growth"}
    assert volume["additionalProperties"] is False
    import jsonschema

    data = json.loads(json.dumps(spec_with(volume={"max_drop": "50%", "max_growth": 1})))
    jsonschema.validate(data, schema)
