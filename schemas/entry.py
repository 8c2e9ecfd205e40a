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
from zoneinfo import ZoneInfo

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from schemas.codes import normalise_resource_code
from schemas.cycles import parse_update_cycle

CATALOGUE_TZ = ZoneInfo("Asia/Shanghai")


def catalogue_time(value: dt.datetime) -> dt.datetime:
    """The catalogue's own clock: naive Asia/Shanghai time; aware values are converted."""
    if value.tzinfo is not None:
        return value.astimezone(CATALOGUE_TZ).replace(tzinfo=None)
    return value


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
    published_at: dt.date | None = Field(None, title="发布日期")
    updated_at: dt.datetime | None = Field(None, title="最近更新时间")
    related_codes: TextList = Field(default_factory=list, title="关联资源代码")
    theme: OptionalText = Field(None, title="领域", description="a portal's 所属领域/重点领域")
    tags: TextList = Field(default_factory=list, title="标签")
    landing_page: OptionalText = Field(None, title="资源页面")
    status: Literal["active", "retired"] = Field("active", title="状态")

    @field_validator("code", mode="before")
    @classmethod
    def _check_code(cls, value: Any) -> str:
        if value is None or not str(value).strip():
            raise ValueError("missing 信息资源代码")
        return normalise_resource_code(value)

    @field_validator("name", "provider_name", mode="before")
    @classmethod
    def _strip_required(cls, value: Any, info: Any) -> Any:
        if value is None or (isinstance(value, str) and not value.strip()):
            label = "信息资源提供方" if info.field_name == "provider_name" else "信息资源名称"
            raise ValueError(f"missing {label}")
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
            raise ValueError("missing 共享类型")
        try:
            return _SHARE_ALIASES[text.lower()]
        except KeyError:
            raise ValueError(
                f"unknown 共享类型 {text!r}: expected 无条件共享, 有条件共享 or 不予共享"
            ) from None

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
        return [normalise_resource_code(code) for code in value]

    @field_validator("formats", mode="after")
    @classmethod
    def _formats(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(f.strip().lower() for f in value if f.strip()))

    @field_validator("updated_at", mode="after")
    @classmethod
    def _local_naive(cls, value: dt.datetime | None) -> dt.datetime | None:
        # Stored as naive local time of the catalogue (Asia/Shanghai); aware values convert.
        return None if value is None else catalogue_time(value)

    @field_validator("updated_at", mode="before")
    @classmethod
    def _date_as_datetime(cls, value: Any) -> Any:
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            return dt.datetime.combine(value, dt.time())
        if isinstance(value, str) and len(value.strip()) == 10:
            return value.strip() + "T00:00:00"
        return _blank_to_none(value)

    @field_validator("published_at", mode="before")
    @classmethod
    def _date_only(cls, value: Any) -> Any:
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, str) and len(value.strip()) > 10 and value.strip()[10] in "T ":
            return value.strip()[:10]
        return _blank_to_none(value)
