"""Dataset spec (数据集说明): the one YAML file per department dataset that brings it into the
warehouse (``datasets/<org>/<name>.yaml`` in the workspace).

A spec says where the file comes from (``source``), which columns become which warehouse
columns with what type and rules (``columns``), how a load treats existing rows (``load``), and
which 信息资源目录条目 it serves (``entry_code``). Every model forbids unknown keys, so a typo in
YAML is an error naming the key instead of a silently ignored setting. ``docs/dataset-spec.md``
documents every key; ``spec_json_schema()`` gives editors completion and checking.

    text.py          blank text as missing; snake_case warehouse names
    encodings.py     字符编码 a text source may use
    source.py        数据来源: url, format, how to read the file
    column_types.py  数据类型: type names, DuckDB types, fitting YAML values to a type
    columns.py       字段 (信息项): a warehouse column, its PII class and rules
    load.py          装载方式: replace, append, upsert
    checks.py        校验规则: extra expectations
    schedule.py      调度: cron strings
    volume.py        行数阈值: bounds on a load's row count (the volume guard)
    spec.py          DatasetSpec: the whole spec and the rules between its parts
    reading.py       load_spec: strict YAML and errors naming file, place and key (SpecError)
    json_schema.py   spec_json_schema for editors
"""

from schemas.dataset_spec.checks import Check
from schemas.dataset_spec.column_types import COLUMN_TYPES, normalise_column_type
from schemas.dataset_spec.columns import NAMED_FORMATS, PII, Column
from schemas.dataset_spec.encodings import TEXT_ENCODINGS, normalise_encoding
from schemas.dataset_spec.json_schema import spec_json_schema
from schemas.dataset_spec.load import Load
from schemas.dataset_spec.reading import SpecError, load_spec
from schemas.dataset_spec.schedule import check_cron
from schemas.dataset_spec.source import FORMATS, TEXT_FORMATS, Source, infer_format
from schemas.dataset_spec.spec import COLUMN_RULES, GLOBAL_RULES, DatasetSpec
from schemas.dataset_spec.volume import Volume

__all__ = [
    "COLUMN_RULES",
    "COLUMN_TYPES",
    "FORMATS",
    "GLOBAL_RULES",
    "NAMED_FORMATS",
    "PII",
    "TEXT_ENCODINGS",
    "TEXT_FORMATS",
    "Check",
    "Column",
    "DatasetSpec",
    "Load",
    "Source",
    "SpecError",
    "Volume",
    "check_cron",
    "infer_format",
    "load_spec",
    "normalise_column_type",
    "normalise_encoding",
    "spec_json_schema",
]
