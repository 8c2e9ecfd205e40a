"""Dataset spec (数据集说明): the one YAML file per department dataset that brings it into the
warehouse (``datasets/<org>/<name>.yaml`` in the workspace).

A spec says where the file comes from (``source``), which columns become which warehouse
columns with what type and rules (``columns``), how a load treats existing rows (``load``), and
which 信息资源目录条目 it serves (``entry_code``). Every model forbids unknown keys, so a typo in
YAML is an error naming the key instead of a silently ignored setting. ``docs/dataset-spec.md``
documents every key; ``spec_json_schema()`` gives editors completion and checking.
"""

from __future__ import annotations

import codecs
import datetime as dt
import difflib
import re
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from schemas.codes import normalise_resource_code
from schemas.cycles import parse_update_cycle


class SpecError(ValueError):
    """A dataset spec file that cannot be read or is invalid; the message names file and key."""


# --- names ---------------------------------------------------------------------------------
# Warehouse table and column names: lowercase ASCII snake_case, so they never need quoting in
# SQL and survive every tool (Parquet, Dagster asset keys, file names).
_SNAKE = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$")
MAX_NAME_LENGTH = 63


def _check_snake(value: str, what: str) -> str:
    if not _SNAKE.match(value) or len(value) > MAX_NAME_LENGTH:
        raise ValueError(f"bad {what} {value!r}: expected lowercase ascii snake_case "
                         f"(a-z, 0-9, single '_', starting with a letter, ≤{MAX_NAME_LENGTH} chars)")
    return value


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        return None
    return value.strip() if isinstance(value, str) else value


OptionalText = Annotated[str | None, BeforeValidator(_blank_to_none)]


# --- encodings -----------------------------------------------------------------------------
TEXT_ENCODINGS = ("utf-8", "utf-8-sig", "gbk", "gb18030")
# GB2312 files are valid GBK (a superset); cp936 is Microsoft's name for GBK.
_ENCODING_ALIASES = {"gb2312": "gbk", "cp936": "gbk"}


def normalise_encoding(name: str) -> str:
    """The canonical name of a supported text encoding (``UTF8`` → ``utf-8``, ``CP936`` → ``gbk``)."""
    try:
        canonical = codecs.lookup(str(name).strip()).name
    except LookupError:
        canonical = str(name).strip().lower()
    canonical = _ENCODING_ALIASES.get(canonical, canonical)
    if canonical not in TEXT_ENCODINGS:
        raise ValueError(f"unsupported encoding {name!r}: expected {', '.join(TEXT_ENCODINGS)}")
    return canonical


# --- source --------------------------------------------------------------------------------
FORMATS = ("csv", "xlsx", "json", "ndjson", "parquet")
TEXT_FORMATS = ("csv", "json", "ndjson")
URL_SCHEMES = ("file", "http", "https", "s3")
_SUFFIX_FORMATS = {
    ".csv": "csv", ".txt": "csv", ".tsv": "csv", ".xlsx": "xlsx", ".xlsm": "xlsx",
    ".json": "json", ".ndjson": "ndjson", ".jsonl": "ndjson", ".parquet": "parquet",
    ".pq": "parquet",
}


def infer_format(url: str) -> str | None:
    """The format a URL's suffix implies (query strings ignored), None when it says nothing."""
    path = urlsplit(url).path if "://" in url else url
    return _SUFFIX_FORMATS.get(Path(path).suffix.lower())


class Source(BaseModel):
    """数据来源: where the file comes from and how to read it."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(
        min_length=1, title="来源地址",
        description="local path, file://, http(s):// or s3:// URL; local, file:// and s3:// may "
                    "be globs (*.csv, **/*.xlsx) whose every match is loaded")
    format: Literal["csv", "xlsx", "json", "ndjson", "parquet"] | None = Field(
        None, title="文件格式", description="inferred from the url's suffix when omitted")
    encoding: Annotated[str, WithJsonSchema({"type": "string", "examples": list(TEXT_ENCODINGS)})] = Field(
        "utf-8", title="字符编码",
        description="text formats only: utf-8, utf-8-sig, gbk or gb18030 (gb2312 and cp936 "
                    "read as gbk); text is transcoded to UTF-8 before loading")
    sheet: str | int | None = Field(
        None, title="工作表", description="xlsx only: sheet name or 0-based index; default the first")
    delimiter: str | None = Field(
        None, min_length=1, max_length=1, title="分隔符",
        description="csv only: one character; default ',' (tab for .tsv)")
    header_row: int = Field(
        1, ge=1, title="表头行", description="csv/xlsx: 1-based row holding the column names; "
                                           "rows above it (titles, notes) are skipped")
    skip_rows: int = Field(
        0, ge=0, title="跳过行数",
        description="csv/xlsx: rows right below the header to skip (units, English names, 填报说明)")
    storage_options: dict[str, Any] = Field(
        default_factory=dict, title="存储选项",
        description="passed to fsspec, e.g. {endpoint_url: http://127.0.0.1:9000} or "
                    "{anon: true} for s3; {headers: {...}} for http(s)")

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        value = value.strip()
        if "://" in value:
            scheme = value.split("://", 1)[0].lower()
            if scheme not in URL_SCHEMES:
                raise ValueError(f"unsupported url scheme {scheme!r}: expected a local path or "
                                 f"{', '.join(s + '://' for s in URL_SCHEMES)}")
        return value

    @field_validator("encoding", mode="before")
    @classmethod
    def _encoding(cls, value: Any) -> str:
        return normalise_encoding(value)

    @model_validator(mode="after")
    def _fit_format(self) -> Source:
        if self.format is None:
            self.format = infer_format(self.url)
            if self.format is None:
                raise ValueError(
                    f"cannot tell the format from url {self.url!r} (known suffixes: "
                    f"{', '.join(_SUFFIX_FORMATS)}); set source.format")
            if self.url.lower().endswith(".tsv") and self.delimiter is None:
                self.delimiter = "\t"
        given = self.model_fields_set
        only = {"sheet": ("xlsx",), "delimiter": ("csv",), "header_row": ("csv", "xlsx"),
                "skip_rows": ("csv", "xlsx")}
        for key, formats in only.items():
            if key in given and getattr(self, key) is not None and self.format not in formats:
                raise ValueError(f"{key} applies to {'/'.join(formats)} only, not {self.format}")
        if "encoding" in given and self.encoding != "utf-8" and self.format not in TEXT_FORMATS:
            raise ValueError(f"encoding applies to {'/'.join(TEXT_FORMATS)} only, not "
                             f"{self.format} (binary formats carry their own encoding)")
        return self


# --- columns -------------------------------------------------------------------------------
class PII(StrEnum):
    """个人信息类别: personal data that is masked outside the warehouse."""

    ID_CARD = "身份证号"
    MOBILE = "手机号"
    NAME = "姓名"
    ADDRESS = "地址"
    BANK_CARD = "银行卡号"
    USCC = "统一社会信用代码"
    EMAIL = "电子邮箱"


_PII_ALIASES = {
    **{p.value: p for p in PII},
    "id_card": PII.ID_CARD, "身份证": PII.ID_CARD, "身份证号码": PII.ID_CARD,
    "公民身份号码": PII.ID_CARD,
    "mobile": PII.MOBILE, "phone": PII.MOBILE, "手机": PII.MOBILE, "手机号码": PII.MOBILE,
    "name": PII.NAME,
    "address": PII.ADDRESS, "住址": PII.ADDRESS, "家庭住址": PII.ADDRESS,
    "bank_card": PII.BANK_CARD, "银行卡": PII.BANK_CARD, "银行账号": PII.BANK_CARD,
    "uscc": PII.USCC,
    "email": PII.EMAIL, "邮箱": PII.EMAIL, "电子邮件": PII.EMAIL,
}

# Named value formats a string column can be checked against (the quality layer checks them).
NAMED_FORMATS = ("身份证号", "手机号", "统一社会信用代码", "电子邮箱")
_FORMAT_ALIASES = {
    **{f: f for f in NAMED_FORMATS},
    "id_card": "身份证号", "身份证号码": "身份证号", "公民身份号码": "身份证号",
    "mobile": "手机号", "手机号码": "手机号", "uscc": "统一社会信用代码", "email": "电子邮箱",
}
# strptime directives DuckDB understands (read_csv dateformat/timestampformat, strptime()).
_DATE_DIRECTIVE = re.compile(r"%-?[aAwdbBmyYHIpMSfgnzZjUWcxX%]")

_TYPE_ALIASES = {
    "string": "string", "str": "string", "varchar": "string", "text": "string",
    "integer": "integer", "int": "integer", "int32": "integer",
    "bigint": "bigint", "int64": "bigint", "long": "bigint",
    "double": "double", "float": "double", "float64": "double",
    "boolean": "boolean", "bool": "boolean",
    "date": "date", "timestamp": "timestamp", "datetime": "timestamp",
}
_DECIMAL = re.compile(r"^(?:decimal|numeric)\s*\(\s*(\d+)\s*,\s*(\d+)\s*\)$")
COLUMN_TYPES = "string, integer, bigint, double, decimal(p,s), boolean, date, timestamp"
_DUCKDB_TYPES = {"string": "VARCHAR", "integer": "INTEGER", "bigint": "BIGINT",
                 "double": "DOUBLE", "boolean": "BOOLEAN", "date": "DATE",
                 "timestamp": "TIMESTAMP"}


def normalise_column_type(raw: str) -> str:
    """Canonical column type: ``Int`` → ``integer``, ``DECIMAL(12, 2)`` → ``decimal(12,2)``."""
    text = str(raw).strip().lower()
    if text in _TYPE_ALIASES:
        return _TYPE_ALIASES[text]
    if match := _DECIMAL.match(text):
        precision, scale = int(match.group(1)), int(match.group(2))
        if not 1 <= precision <= 38 or scale > precision:
            raise ValueError(f"bad type {raw!r}: decimal(p,s) needs 1 ≤ p ≤ 38 and 0 ≤ s ≤ p")
        return f"decimal({precision},{scale})"
    raise ValueError(f"unknown type {raw!r}: expected {COLUMN_TYPES}")


# JSON Schema for editors: accept the aliases the validators accept, not just canonical values.
_TYPE_SCHEMA = {"anyOf": [{"enum": sorted(_TYPE_ALIASES)},
                          {"type": "string", "pattern": _DECIMAL.pattern}]}
_PII_SCHEMA = {"anyOf": [{"enum": list(_PII_ALIASES)}, {"type": "null"}]}
_FORMAT_SCHEMA = {"anyOf": [{"type": "string", "examples": [*NAMED_FORMATS, "%Y-%m-%d", "%Y%m%d"]},
                            {"type": "null"}]}


# A value in allowed_values/min/max, before it is fitted to the column's type.
Scalar = StrictBool | int | float | Decimal | dt.datetime | dt.date | str


def _fit_value(value: Any, column_type: str, key: str) -> Any:
    """``value`` as the column's type; raise ValueError naming the key when it does not fit."""
    kind = column_type.split("(")[0]
    problem = f"{key}: {value!r} ({type(value).__name__}) does not fit a {column_type} column"
    if kind == "string":
        if not isinstance(value, str):
            # YAML turns 01 into 1, no into False and 2013-06-10 into a date: quote such values.
            raise ValueError(f"{problem}; quote it in YAML so it stays text")
        return value
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        raise ValueError(problem)
    if isinstance(value, bool):
        raise ValueError(problem)
    try:
        if kind in ("integer", "bigint") and isinstance(value, int):
            return value
        if kind == "double" and isinstance(value, int | float):
            return float(value)
        if kind == "decimal" and isinstance(value, int | float | Decimal | str):
            return Decimal(str(value))
        if kind == "date" and not isinstance(value, dt.datetime):
            return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
        if kind == "timestamp":
            if isinstance(value, dt.datetime):
                return value
            if isinstance(value, dt.date):
                return dt.datetime.combine(value, dt.time())
            return dt.datetime.fromisoformat(str(value))
    except (ValueError, InvalidOperation):
        pass
    raise ValueError(problem)


class Column(BaseModel):
    """字段: one warehouse column and the source column that feeds it."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(title="字段名", description="warehouse column: lowercase ascii snake_case")
    source: OptionalText = Field(
        None, title="源字段名", description="column name in the source file, often Chinese; "
                                         "defaults to name")
    type: Annotated[str, WithJsonSchema(_TYPE_SCHEMA)] = Field(
        "string", title="数据类型", description=COLUMN_TYPES)
    nullable: bool = Field(True, title="允许为空", description="false: a missing value fails the load")
    description: OptionalText = Field(None, title="说明")
    pii: Annotated[PII | None, WithJsonSchema(_PII_SCHEMA)] = Field(
        None, title="个人信息类别",
        description="身份证号, 手机号, 姓名, 地址, 银行卡号, 统一社会信用代码 or 电子邮箱 (English: "
                    "id_card, mobile, name, address, bank_card, uscc, email)")
    unique: bool = Field(False, title="唯一", description="true: no two rows share a value")
    allowed_values: list[Scalar] | None = Field(
        None, title="取值范围", description="the only values allowed (code lists such as 性别)")
    min: Scalar | None = Field(None, title="最小值", description="numeric, date and timestamp columns")
    max: Scalar | None = Field(None, title="最大值", description="numeric, date and timestamp columns")
    format: Annotated[OptionalText, WithJsonSchema(_FORMAT_SCHEMA)] = Field(
        None, title="格式",
        description="string columns: 身份证号, 手机号, 统一社会信用代码 or 电子邮箱 (English aliases "
                    "id_card, mobile, uscc, email); date/timestamp columns: a strptime pattern "
                    "such as %Y%m%d or %Y年%m月%d日")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _check_snake(value, "column name")

    @field_validator("type", mode="before")
    @classmethod
    def _type(cls, value: Any) -> str:
        return normalise_column_type(value)

    @field_validator("pii", mode="before")
    @classmethod
    def _pii(cls, value: Any) -> Any:
        if value is None or isinstance(value, PII):
            return value
        text = str(value).strip()
        if not text:
            return None
        found = _PII_ALIASES.get(text, _PII_ALIASES.get(text.lower()))
        if found is None:
            raise ValueError(f"unknown pii {text!r}: expected {', '.join(PII)} "
                             f"or id_card, mobile, name, address, bank_card, uscc, email")
        return found

    @model_validator(mode="after")
    def _fit_rules(self) -> Column:
        if self.source is None:
            self.source = self.name
        kind = self.type.split("(")[0]
        if self.allowed_values is not None:
            self.allowed_values = [_fit_value(v, self.type, "allowed_values")
                                   for v in self.allowed_values]
        for key in ("min", "max"):
            value = getattr(self, key)
            if value is None:
                continue
            if kind in ("string", "boolean"):
                raise ValueError(f"{key} applies to numeric, date and timestamp columns, "
                                 f"not {self.type}")
            setattr(self, key, _fit_value(value, self.type, key))
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is greater than max {self.max}")
        if self.format is not None:
            self.format = self._fit_format(self.format, kind)
        return self

    def _fit_format(self, text: str, kind: str) -> str:
        if kind in ("date", "timestamp"):
            directives = _DATE_DIRECTIVE.findall(text)
            if "%" in _DATE_DIRECTIVE.sub("", text) or not set(directives) - {"%%"}:
                raise ValueError(f"bad format {text!r} for a {kind} column: expected a strptime "
                                 f"pattern such as %Y-%m-%d or %Y年%m月%d日")
            return text
        named = _FORMAT_ALIASES.get(text, _FORMAT_ALIASES.get(text.lower()))
        if kind != "string" or named is None:
            raise ValueError(f"bad format {text!r} for a {self.type} column: string columns take "
                             f"{', '.join(NAMED_FORMATS)}; date/timestamp columns a strptime pattern")
        return named

    def duckdb_type(self) -> str:
        """The DuckDB SQL type of this column (``decimal(12,2)`` → ``DECIMAL(12,2)``)."""
        if self.type.startswith("decimal"):
            return self.type.upper()
        return _DUCKDB_TYPES[self.type]


# --- load, checks, cron --------------------------------------------------------------------
class Load(BaseModel):
    """装载方式: what a load does with rows already in the table."""

    model_config = ConfigDict(extra="forbid")

    mode: Literal["replace", "append", "upsert"] = Field(
        "replace", title="装载模式",
        description="replace: the table becomes the new file; append: rows are added; upsert: "
                    "rows with an existing primary key are updated, others added")


class Check(BaseModel):
    """校验规则: one extra expectation, stored as written for the quality layer."""

    # Free keyword arguments of the expectation (regex, min_value …) are kept as extras.
    model_config = ConfigDict(extra="allow")

    expectation: str = Field(
        title="校验规则", description="expectation name in snake_case, e.g. "
                                   "expect_column_values_to_match_regex")
    column: OptionalText = Field(None, title="字段名", description="the column it checks, if any")
    severity: Literal["error", "warning"] = Field(
        "error", title="严重程度", description="error fails the load; warning is only reported")

    @field_validator("expectation")
    @classmethod
    def _expectation(cls, value: str) -> str:
        if not re.match(r"^expect_[a-z0-9_]+$", value.strip()):
            raise ValueError(f"bad expectation {value!r}: expected a snake_case name starting "
                             f"with expect_")
        return value.strip()

    @model_validator(mode="after")
    def _no_near_miss(self) -> Check:
        # Extras are free arguments, so a misspelt severity would pass silently; catch near misses.
        for key in self.model_extra or {}:
            close = difflib.get_close_matches(key, ["severity", "expectation"], n=1, cutoff=0.75)
            if close:
                raise ValueError(f"unknown key {key!r} (did you mean {close[0]!r}?)")
        return self

    @property
    def kwargs(self) -> dict[str, Any]:
        """The expectation's other arguments, as written."""
        return dict(self.model_extra or {})


_CRON_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31),
                ("month", 1, 12), ("day of week", 0, 7))
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_WEEKDAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_CRON_NAMES = {3: {m: i for i, m in enumerate(_MONTHS, 1)}, 4: {d: i for i, d in enumerate(_WEEKDAYS)}}
CRON_MACROS = ("@hourly", "@daily", "@weekly", "@monthly", "@yearly", "@annually")


def check_cron(text: str) -> str:
    """A standard 5-field cron string (or @daily …); raise ValueError naming the bad field."""
    text = " ".join(str(text).split())
    if text.lower() in CRON_MACROS:
        return text.lower()
    parts = text.split(" ")
    if len(parts) != 5:
        raise ValueError(f"bad schedule {text!r}: expected 5 cron fields (minute hour "
                         f"day-of-month month day-of-week) or one of {', '.join(CRON_MACROS)}")
    for index, (part, (label, low, high)) in enumerate(zip(parts, _CRON_FIELDS, strict=True)):
        names = _CRON_NAMES.get(index, {})
        for item in part.split(","):
            span, _, step = item.partition("/")
            if step and not (step.isdigit() and int(step) > 0):
                raise ValueError(f"bad schedule {text!r}: bad step {step!r} in the {label} field")
            bounds = [] if span == "*" else span.split("-")
            if len(bounds) > 2:
                raise ValueError(f"bad schedule {text!r}: bad range {span!r} in the {label} field")
            for bound in bounds:
                value = names.get(bound.upper(), int(bound) if bound.isdigit() else None)
                if value is None or not low <= value <= high:
                    raise ValueError(f"bad schedule {text!r}: {bound!r} is out of range for "
                                     f"the {label} field ({low}-{high})")
    return text


# --- the spec ------------------------------------------------------------------------------
# Names of the rules the quality layer generates from a spec (quality.suites), for `severity`.
COLUMN_RULES = ("type", "nullable", "unique", "allowed_values", "range", "not_future", "format")
GLOBAL_RULES = ("primary_key", "table:columns")


class DatasetSpec(BaseModel):
    """数据集说明: how one department dataset enters the warehouse."""

    model_config = ConfigDict(extra="forbid", title="Mulu dataset spec (数据集说明)")

    name: str = Field(title="表名", description="warehouse table name: lowercase ascii snake_case; "
                                               "also the file name of the spec")
    title: str = Field(min_length=1, title="中文名称", description="e.g. 城乡低保对象名单")
    description: OptionalText = Field(None, title="说明")
    entry_code: str = Field(title="信息资源代码", description="the catalogue entry this dataset "
                                                         "serves, 分类码/顺序码")
    provider: OptionalText = Field(None, title="提供方", description="organisation name or code; "
                                                               "default the entry's 提供方")
    source: Source = Field(title="数据来源")
    columns: list[Column] = Field(min_length=1, title="字段", description="the warehouse columns, "
                                                                       "in table order")
    primary_key: list[str] = Field(
        default_factory=list, title="主键",
        description="column names identifying a row; never null, unique together")
    load: Load = Field(default_factory=Load, title="装载方式")
    schedule: OptionalText = Field(
        None, title="调度", description="cron string; default derived from the entry's 更新周期")
    freshness: OptionalText = Field(
        None, title="更新周期", description="overrides the entry's 更新周期 for freshness checks")
    checks: list[Check] = Field(default_factory=list, title="校验规则",
                                description="extra expectations, checked by the quality layer")
    severity: dict[str, Literal["error", "warning"]] = Field(
        default_factory=dict, title="严重程度",
        description="per generated rule (<column>:<type|nullable|unique|allowed_values|range|"
                    "not_future|format>, primary_key, table:columns): error blocks the load, "
                    "warning publishes it with a flag; default error (upsert's primary_key: "
                    "warning)")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _check_snake(value, "table name")

    @field_validator("title")
    @classmethod
    def _title(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("missing 中文名称 (title)")
        return value.strip()

    @field_validator("entry_code", mode="before")
    @classmethod
    def _entry_code(cls, value: Any) -> str:
        if value is None or not str(value).strip():
            raise ValueError("missing 信息资源代码 (entry_code)")
        return normalise_resource_code(value)

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str | None) -> str | None:
        return None if value is None else check_cron(value)

    @field_validator("freshness")
    @classmethod
    def _freshness(cls, value: str | None) -> str | None:
        return None if value is None else parse_update_cycle(value).label

    @model_validator(mode="after")
    def _consistent(self) -> DatasetSpec:
        names = [c.name for c in self.columns]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"columns: repeated column names {', '.join(repeated)}")
        if len(set(self.primary_key)) != len(self.primary_key):
            raise ValueError("primary_key: a column is named twice")
        unknown = [k for k in self.primary_key if k not in names]
        if unknown:
            raise ValueError(f"primary_key: {', '.join(unknown)} not among columns "
                             f"({', '.join(names)})")
        for column in self.columns:
            if column.name in self.primary_key:
                if "nullable" in column.model_fields_set and column.nullable:
                    raise ValueError(f"columns: {column.name} is in primary_key, so it cannot be "
                                     f"nullable: true")
                column.nullable = False
        if self.load.mode == "upsert" and not self.primary_key:
            raise ValueError("load: mode upsert needs a primary_key")
        for check in self.checks:
            if check.column is not None and check.column not in names:
                raise ValueError(f"checks: {check.expectation} names column {check.column!r}, "
                                 f"not among columns ({', '.join(names)})")
        for rule in self.severity:
            column, _, kind = rule.partition(":")
            if rule in GLOBAL_RULES or (column in names and kind in COLUMN_RULES):
                continue
            known = [*GLOBAL_RULES, *(f"{n}:{k}" for n in names for k in COLUMN_RULES)]
            close = difflib.get_close_matches(rule, known, n=1, cutoff=0.6)
            raise ValueError(f"severity: unknown rule {rule!r}"
                             + (f" (did you mean {close[0]!r}?)" if close else
                                f": expected <column>:<{'|'.join(COLUMN_RULES)}>, "
                                f"{' or '.join(GLOBAL_RULES)}; a checks entry sets its own"))
        return self

    def column(self, name: str) -> Column:
        """The column called ``name``; KeyError when there is none."""
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)


def spec_json_schema() -> dict[str, Any]:
    """JSON Schema of a dataset spec, for editors (yaml-language-server) and other tools."""
    schema = DatasetSpec.model_json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


# --- loading -------------------------------------------------------------------------------
class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that rejects a key given twice (PyYAML would keep the last one silently)."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} given twice", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=True)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_spec(path: Path | str) -> DatasetSpec:
    """Read and validate a dataset spec; raise SpecError naming the file and every bad key."""
    path = Path(path)
    try:
        with path.open(encoding="utf-8") as handle:  # a handle, so YAML errors name the file
            data = yaml.load(handle, Loader=_StrictLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise SpecError(f"{path}: cannot read dataset spec: {exc}") from exc
    if not isinstance(data, dict):
        raise SpecError(f"{path}: a dataset spec is a YAML mapping of keys (name, title, "
                        f"entry_code, source, columns …), not {type(data).__name__}")
    try:
        return DatasetSpec.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(_describe(error, data) for error in exc.errors())
        raise SpecError(f"{path}: invalid dataset spec: {problems}") from exc


def _describe(error: Any, data: dict[str, Any]) -> str:
    """One validation error as ``columns[2] (id_card).pii: unknown pii 'x' …``."""
    where, node = [], data
    for part in error["loc"]:
        if isinstance(part, int):
            label = f"[{part}]"
            node = node[part] if isinstance(node, list) and part < len(node) else None
            if isinstance(node, dict) and isinstance(node.get("name"), str):
                label += f" ({node['name']})"
            where.append(label)
        else:
            where.append(("." if where else "") + str(part))
            node = node.get(part) if isinstance(node, dict) else None
    location = "".join(where)
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        key = str(error["loc"][-1])
        message = f"unknown key {key!r}"
        model = _model_at(error["loc"][:-1])
        if model is not None:
            close = difflib.get_close_matches(key, list(model.model_fields), n=1)
            message += f" (did you mean {close[0]!r}?)" if close else (
                f"; expected one of {', '.join(model.model_fields)}")
    return f"{location}: {message}" if location else message


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model class at a location of the spec, to suggest keys it does have."""
    model: type[BaseModel] = DatasetSpec
    for part in loc:
        if isinstance(part, int):
            continue
        nested = {"source": Source, "columns": Column, "load": Load}.get(str(part))
        if nested is None:
            return None
        model = nested
    return model
