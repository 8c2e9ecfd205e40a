"""Catalogue entry (信息资源目录条目) and organisation (政务部门) models, after GB/T 21063.3 and
the 2017 《政务信息资源目录编制指南(试行)》.

Field names are English; each field's title is its Chinese name, so JSON Schema, exports and
error messages can show both. Value lists the standard does not fully confirm (数据类型,
开放属性) accept known spellings and keep anything else as written.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from schemas.codes import normalise_resource_code
from schemas.cycles import parse_update_cycle
from schemas.dates import CATALOGUE_TZ as CATALOGUE_TZ  # re-exported: callers import it here
from schemas.dates import (
    PRECISIONS,
    Precision,
    parse_optional_time,
    parse_precision,
)
from schemas.dates import catalogue_time as catalogue_time
from schemas.formats import normalise_format
from schemas.messages import ReasonError


def catalogue_now() -> dt.datetime:
    """Now, in catalogue time, to the second."""
    return dt.datetime.now(CATALOGUE_TZ).replace(tzinfo=None, microsecond=0)


class ShareType(StrEnum):
    """共享类型."""

    UNCONDITIONAL = "无条件共享"
    CONDITIONAL = "有条件共享"
    NOT_SHARED = "不予共享"


_SHARE_ALIASES = {
    "无条件共享": ShareType.UNCONDITIONAL,
    "无条件": ShareType.UNCONDITIONAL,
    "unconditional": ShareType.UNCONDITIONAL,
    "有条件共享": ShareType.CONDITIONAL,
    "有条件": ShareType.CONDITIONAL,
    "conditional": ShareType.CONDITIONAL,
    "不予共享": ShareType.NOT_SHARED,
    "不共享": ShareType.NOT_SHARED,
    "不予": ShareType.NOT_SHARED,
    "none": ShareType.NOT_SHARED,
    "not shared": ShareType.NOT_SHARED,
}

# 开放属性: portals differ (无条件/有条件开放, or 普遍/依申请/安全开放). Known spellings are
# normalised (including a typo seen on a real portal and DCAT-US accessLevel); others kept.
OPEN_TYPE_ALIASES = {
    "无条件开放": "无条件开放",
    "无条件开发": "无条件开放",
    "public": "无条件开放",
    "有条件开放": "有条件开放",
    "有条件开发": "有条件开放",
    "restricted public": "有条件开放",
    "不予开放": "不予开放",
    "不开放": "不予开放",
    "non-public": "不予开放",
    "普遍开放": "普遍开放",
    "依申请开放": "依申请开放",
    "安全开放": "安全开放",
}

# 数据类型 of 信息项 as listed in the 编制指南 (code letter -> name). Not confirmed in full:
# other names are kept as written.
DATA_TYPES = {
    "C": "字符型",
    "N": "数值型",
    "Y": "货币型",
    "D": "日期型",
    "T": "日期时间型",
    "L": "逻辑型",
    "M": "备注型",
    "G": "通用型",
    "B": "双精度型",
    "I": "整型",
    "F": "浮点型",
}
_DATA_TYPE_ALIASES = {
    **{code: name for code, name in DATA_TYPES.items()},
    **{name: name for name in DATA_TYPES.values()},
    "string": "字符型",
    "varchar": "字符型",
    "text": "字符型",
    "str": "字符型",
    "int": "整型",
    "integer": "整型",
    "bigint": "整型",
    "number": "数值型",
    "decimal": "数值型",
    "double": "双精度型",
    "float": "浮点型",
    "date": "日期型",
    "datetime": "日期时间型",
    "timestamp": "日期时间型",
    "bool": "逻辑型",
    "boolean": "逻辑型",
    "money": "货币型",
}


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _as_list(value: Any) -> Any:
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.replace("；", ";").split(";") if part.strip()]
    return value


OptionalText = Annotated[str | None, BeforeValidator(_blank_to_none)]
TextList = Annotated[list[str], BeforeValidator(_as_list)]


class DataItem(BaseModel):
    """信息项: one field of the resource."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, title="信息项名称")
    data_type: str = Field("字符型", title="数据类型")
    length: int | None = Field(None, title="数据长度", ge=0)
    description: OptionalText = Field(None, title="说明")

    @field_validator("data_type", mode="before")
    @classmethod
    def _normalise_type(cls, value: Any) -> str:
        text = str(value).strip()
        return _DATA_TYPE_ALIASES.get(text, _DATA_TYPE_ALIASES.get(text.lower(), text))


class Organisation(BaseModel):
    """政务部门 / 提供方: a body that provides catalogue entries."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(
        min_length=1, title="提供方代码", description="统一社会信用代码 or a local code"
    )
    name: str = Field(min_length=1, title="提供方名称")
    parent_code: OptionalText = Field(None, title="上级部门代码")
    kind: OptionalText = Field(None, title="机构类别", description="e.g. 区级部门, 街道/乡镇, 村居")
    contact_name: OptionalText = Field(None, title="联系人")
    contact_phone: OptionalText = Field(None, title="联系电话")
    contact_email: OptionalText = Field(None, title="联系邮箱")


class CatalogueEntry(BaseModel):
    """信息资源目录条目: one entry of the catalogue, GB/T 21063.3 core metadata plus tracking."""

    model_config = ConfigDict(extra="forbid", validate_assignment=False)

    code: str = Field(title="信息资源代码", description="分类码/顺序码")
    name: str = Field(min_length=1, max_length=300, title="信息资源名称")
    category_name: OptionalText = Field(
        None, title="信息资源分类名称", description="e.g. 人口, 社会保障"
    )
    provider_name: str = Field(min_length=1, title="信息资源提供方")
    provider_code: OptionalText = Field(None, title="信息资源提供方代码")
    summary: str = Field("", title="信息资源摘要")
    format_category: OptionalText = Field(
        None, title="信息资源格式分类", description="电子文件, 数据库, 接口 …"
    )
    formats: TextList = Field(
        default_factory=list, title="信息资源格式类型", description="xls, csv, api …"
    )
    data_items: Annotated[list[DataItem], BeforeValidator(lambda v: [] if v is None else v)] = (
        Field(default_factory=list, title="信息项信息")
    )
    share_type: ShareType = Field(title="共享类型")
    share_condition: OptionalText = Field(None, title="共享条件")
    share_method: OptionalText = Field(None, title="共享方式")
    open_type: OptionalText = Field(None, title="开放属性")
    update_cycle: OptionalText = Field(
        None, title="更新周期", description="canonical label, e.g. 每月, 每2日"
    )
    published_at: dt.date | None = Field(
        None, title="发布日期", description="the first day of the period the source stated"
    )
    updated_at: dt.datetime | None = Field(
        None,
        title="最近更新时间",
        description="catalogue time (Asia/Shanghai); the start of the period the source stated",
    )
    published_precision: Literal["year", "month", "day"] | None = Field(
        None,
        title="发布日期精度",
        description="year or month when only that was stated; None: a day",
    )
    updated_precision: Literal["year", "month", "day", "minute", "second"] | None = Field(
        None,
        title="最近更新时间精度",
        description="how much of 最近更新时间 the source stated; None: to the second",
    )
    related_codes: TextList = Field(default_factory=list, title="关联资源代码")
    theme: OptionalText = Field(None, title="领域", description="a portal's 所属领域/重点领域")
    tags: TextList = Field(default_factory=list, title="标签")
    landing_page: OptionalText = Field(None, title="资源页面")
    status: Literal["active", "retired"] = Field("active", title="状态")

    @model_validator(mode="before")
    @classmethod
    def _date_precisions(cls, data: Any) -> Any:
        """Each date given with its precision: the one stated beside it (Mulu's own exports
        carry it), else what its text states ("2023" is a year). Full precision is stored as
        None, so entries whose dates are whole days and seconds look as they always did."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for name, precision_name, finest in _DATE_FIELDS:
            if name not in data:
                continue
            try:
                parsed = parse_optional_time(data[name])
                stated = parse_precision(data.get(precision_name), _LABELS[precision_name])
            except ReasonError:
                continue  # the field's own validator reports it, at that field
            if parsed is None:
                data[name], data[precision_name] = None, None
                continue
            precision = _coarser(stated or parsed.precision, finest)
            start = parsed.at(precision).value
            data[name] = start if finest == "second" else start.date()
            data[precision_name] = None if precision == finest else precision
        return data

    @model_validator(mode="after")
    def _no_precision_without_date(self) -> CatalogueEntry:
        if self.published_at is None and self.published_precision is not None:
            self.published_precision = None
        if self.updated_at is None and self.updated_precision is not None:
            self.updated_precision = None
        return self

    @field_validator("code", mode="before")
    @classmethod
    def _check_code(cls, value: Any) -> str:
        if value is None or not str(value).strip():
            raise ReasonError("missing_field", label=_LABELS["code"])
        return _resource_code(value)

    @field_validator("name", "provider_name", mode="before")
    @classmethod
    def _strip_required(cls, value: Any, info: Any) -> Any:
        if value is None or (isinstance(value, str) and not value.strip()):
            raise ReasonError("missing_field", label=_LABELS[info.field_name])
        return value.strip() if isinstance(value, str) else value

    @field_validator("summary", mode="before")
    @classmethod
    def _summary(cls, value: Any) -> str:
        return "" if value is None else str(value).strip()

    @field_validator("share_type", mode="before")
    @classmethod
    def _share_type(cls, value: Any) -> ShareType:
        text = "" if value is None else str(value).strip()
        if not text:
            raise ReasonError("missing_field", label=_LABELS["share_type"])
        try:
            return _SHARE_ALIASES[text.lower()]
        except KeyError:
            raise ReasonError("unknown_share_type", value=text) from None

    @field_validator("open_type", mode="after")
    @classmethod
    def _open_type(cls, value: str | None) -> str | None:
        return (
            None if value is None else OPEN_TYPE_ALIASES.get(value.strip().lower(), value.strip())
        )

    @field_validator("update_cycle", mode="after")
    @classmethod
    def _update_cycle(cls, value: str | None) -> str | None:
        return None if value is None else parse_update_cycle(value).label

    @field_validator("related_codes", mode="after")
    @classmethod
    def _related(cls, value: list[str]) -> list[str]:
        return [_resource_code(code) for code in value]

    @field_validator("formats", mode="after")
    @classmethod
    def _formats(cls, value: list[str]) -> list[str]:
        # One vocabulary: CSV, csv and text/csv are one format (schemas/formats.py).
        return [f for f in dict.fromkeys(normalise_format(f) for f in value) if f]

    # Every spelling goes through schemas.dates.parse_time: pydantic's own parsing would read
    # "2023" as 2023 seconds after 1970 and cut "…T16:33Z" to its UTC date.
    @field_validator("updated_at", mode="before")
    @classmethod
    def _updated_at(cls, value: Any) -> dt.datetime | None:
        if type(value) is dt.datetime and value.tzinfo is None and not value.microsecond:
            return value  # already read by _date_precisions
        parsed = parse_optional_time(value)
        return None if parsed is None else parsed.value

    @field_validator("published_at", mode="before")
    @classmethod
    def _published_at(cls, value: Any) -> dt.date | None:
        if type(value) is dt.date:
            return value  # already read by _date_precisions
        parsed = parse_optional_time(value)
        return None if parsed is None else parsed.value.date()

    @field_validator("published_precision", "updated_precision", mode="before")
    @classmethod
    def _precision(cls, value: Any, info: Any) -> Precision | None:
        return parse_precision(value, _LABELS[info.field_name])


# The label users know each field by: its Chinese title (for messages: ``reason_of``).
ENTRY_LABELS: dict[str, str] = {
    name: field.title or name for name, field in CatalogueEntry.model_fields.items()
}
_LABELS = ENTRY_LABELS
# (date field, its precision field, the finest precision it holds)
_DATE_FIELDS: tuple[tuple[str, str, Precision], ...] = (
    ("published_at", "published_precision", "day"),
    ("updated_at", "updated_precision", "second"),
)


def _coarser(precision: Precision, limit: Precision) -> Precision:
    return precision if PRECISIONS.index(precision) <= PRECISIONS.index(limit) else limit


def _resource_code(value: Any) -> str:
    try:
        return normalise_resource_code(value)
    except ValueError:
        raise ReasonError(
            "bad_code", value=value, detail="101001/000001（分类码/顺序码）"
        ) from None
