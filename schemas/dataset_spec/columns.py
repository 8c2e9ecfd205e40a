"""字段 (``columns``): one warehouse column per 信息项 (data item) of the catalogue entry, the
source column that feeds it, its type and the rules the quality layer checks."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, field_validator, model_validator

from schemas.dataset_spec.column_types import (
    COLUMN_TYPES,
    TYPE_SCHEMA,
    Scalar,
    duckdb_type,
    fit_value,
    normalise_column_type,
)
from schemas.dataset_spec.text import OptionalText, check_snake


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
    "id_card": PII.ID_CARD,
    "身份证": PII.ID_CARD,
    "身份证号码": PII.ID_CARD,
    "公民身份号码": PII.ID_CARD,
    "mobile": PII.MOBILE,
    "phone": PII.MOBILE,
    "手机": PII.MOBILE,
    "手机号码": PII.MOBILE,
    "name": PII.NAME,
    "address": PII.ADDRESS,
    "住址": PII.ADDRESS,
    "家庭住址": PII.ADDRESS,
    "bank_card": PII.BANK_CARD,
    "银行卡": PII.BANK_CARD,
    "银行账号": PII.BANK_CARD,
    "uscc": PII.USCC,
    "email": PII.EMAIL,
    "邮箱": PII.EMAIL,
    "电子邮件": PII.EMAIL,
}

# Named value formats a string column can be checked against (the quality layer checks them).
NAMED_FORMATS = ("身份证号", "手机号", "统一社会信用代码", "电子邮箱")
_FORMAT_ALIASES = {
    **{f: f for f in NAMED_FORMATS},
    "id_card": "身份证号",
    "身份证号码": "身份证号",
    "公民身份号码": "身份证号",
    "mobile": "手机号",
    "手机号码": "手机号",
    "uscc": "统一社会信用代码",
    "email": "电子邮箱",
}
# strptime directives DuckDB understands (read_csv dateformat/timestampformat, strptime()).
_DATE_DIRECTIVE = re.compile(r"%-?[aAwdbBmyYHIpMSfgnzZjUWcxX%]")

# JSON Schema for editors: accept the aliases the validators accept, not just canonical values.
_PII_SCHEMA = {"anyOf": [{"enum": list(_PII_ALIASES)}, {"type": "null"}]}
_FORMAT_SCHEMA = {
    "anyOf": [
        {"type": "string", "examples": [*NAMED_FORMATS, "%Y-%m-%d", "%Y%m%d"]},
        {"type": "null"},
    ]
}


class Column(BaseModel):
    """字段: one warehouse column and the source column that feeds it."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(title="字段名", description="warehouse column: lowercase ascii snake_case")
    source: OptionalText = Field(
        None,
        title="源字段名",
        description="column name in the source file, often Chinese; defaults to name",
    )
    type: Annotated[str, WithJsonSchema(TYPE_SCHEMA)] = Field(
        "string", title="数据类型", description=COLUMN_TYPES
    )
    nullable: bool = Field(
        True, title="允许为空", description="false: a missing value fails the load"
    )
    description: OptionalText = Field(None, title="说明")
    pii: Annotated[PII | None, WithJsonSchema(_PII_SCHEMA)] = Field(
        None,
        title="个人信息类别",
        description="身份证号, 手机号, 姓名, 地址, 银行卡号, 统一社会信用代码 or 电子邮箱 (English: "
        "id_card, mobile, name, address, bank_card, uscc, email)",
    )
    unique: bool = Field(False, title="唯一", description="true: no two rows share a value")
    allowed_values: list[Scalar] | None = Field(
        None, title="取值范围", description="the only values allowed (code lists such as 性别)"
    )
    min: Scalar | None = Field(
        None, title="最小值", description="numeric, date and timestamp columns"
    )
    max: Scalar | None = Field(
        None, title="最大值", description="numeric, date and timestamp columns"
    )
    format: Annotated[OptionalText, WithJsonSchema(_FORMAT_SCHEMA)] = Field(
        None,
        title="格式",
        description="string columns: 身份证号, 手机号, 统一社会信用代码 or 电子邮箱 (English aliases "
        "id_card, mobile, uscc, email); date/timestamp columns: a strptime pattern "
        "such as %Y%m%d or %Y年%m月%d日",
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_snake(value, "column name")

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
            raise ValueError(
                f"unknown pii {text!r}: expected {', '.join(PII)} "
                f"or id_card, mobile, name, address, bank_card, uscc, email"
            )
        return found

    @model_validator(mode="after")
    def _fit_rules(self) -> Column:
        if self.source is None:
            self.source = self.name
        kind = self.type.split("(")[0]
        if self.allowed_values is not None:
            self.allowed_values = [
                fit_value(v, self.type, "allowed_values") for v in self.allowed_values
            ]
        bounds: dict[str, Any] = {}  # fitted to the one column type, so they compare
        for key in ("min", "max"):
            value = getattr(self, key)
            if value is None:
                continue
            if kind in ("string", "boolean"):
                raise ValueError(
                    f"{key} applies to numeric, date and timestamp columns, not {self.type}"
                )
            bounds[key] = fit_value(value, self.type, key)
            setattr(self, key, bounds[key])
        if len(bounds) == 2 and bounds["min"] > bounds["max"]:
            raise ValueError(f"min {self.min} is greater than max {self.max}")
        if self.format is not None:
            self.format = self._fit_format(self.format, kind)
        return self

    def _fit_format(self, text: str, kind: str) -> str:
        if kind in ("date", "timestamp"):
            directives = _DATE_DIRECTIVE.findall(text)
            if "%" in _DATE_DIRECTIVE.sub("", text) or not set(directives) - {"%%"}:
                raise ValueError(
                    f"bad format {text!r} for a {kind} column: expected a strptime "
                    f"pattern such as %Y-%m-%d or %Y年%m月%d日"
                )
            return text
        named = _FORMAT_ALIASES.get(text, _FORMAT_ALIASES.get(text.lower()))
        if kind != "string" or named is None:
            raise ValueError(
                f"bad format {text!r} for a {self.type} column: string columns take "
                f"{', '.join(NAMED_FORMATS)}; date/timestamp columns a strptime pattern"
            )
        return named

    def duckdb_type(self) -> str:
        """The DuckDB SQL type of this column (``decimal(12,2)`` → ``DECIMAL(12,2)``)."""
        return duckdb_type(self.type)
