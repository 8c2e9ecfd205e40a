"""数据集说明: the spec model that ties a department dataset's file, columns, load mode and
rules to the catalogue entry it serves, and checks that its parts agree with each other."""

from __future__ import annotations

import difflib
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from schemas.codes import normalise_resource_code
from schemas.cycles import parse_update_cycle
from schemas.dataset_spec.checks import Check
from schemas.dataset_spec.columns import Column
from schemas.dataset_spec.load import Load
from schemas.dataset_spec.schedule import check_cron
from schemas.dataset_spec.source import Source
from schemas.dataset_spec.text import OptionalText, check_snake
from schemas.dataset_spec.volume import Volume

# Names of the rules the quality layer generates from a spec (quality.suites), for `severity`.
COLUMN_RULES = ("type", "nullable", "unique", "allowed_values", "range", "not_future", "format")
GLOBAL_RULES = ("primary_key", "table:columns")


class DatasetSpec(BaseModel):
    """数据集说明: how one department dataset enters the warehouse."""

    model_config = ConfigDict(extra="forbid", title="Mulu dataset spec (数据集说明)")

    name: str = Field(
        title="表名",
        description="warehouse table name: lowercase ascii snake_case; "
        "also the file name of the spec",
    )
    title: str = Field(min_length=1, title="中文名称", description="e.g. 城乡低保对象名单")
    description: OptionalText = Field(None, title="说明")
    entry_code: str = Field(
        title="信息资源代码", description="the catalogue entry this dataset serves, 分类码/顺序码"
    )
    provider: OptionalText = Field(
        None, title="提供方", description="organisation name or code; default the entry's 提供方"
    )
    source: Source = Field(title="数据来源")
    columns: list[Column] = Field(
        min_length=1, title="字段", description="the warehouse columns, in table order"
    )
    primary_key: list[str] = Field(
        default_factory=list,
        title="主键",
        description="column names identifying a row; never null, unique together",
    )
    load: Load = Field(default_factory=Load, title="装载方式")
    volume: Volume = Field(
        default_factory=Volume,
        title="行数阈值",
        description="bounds on a load's row count against the published version (min_rows, "
        "max_drop, max_growth); a load outside them waits for a steward",
    )
    schedule: OptionalText = Field(
        None, title="调度", description="cron string; default derived from the entry's 更新周期"
    )
    freshness: OptionalText = Field(
        None, title="更新周期", description="overrides the entry's 更新周期 for freshness checks"
    )
    checks: list[Check] = Field(
        default_factory=list,
        title="校验规则",
        description="extra expectations, checked by the quality layer",
    )
    severity: dict[str, Literal["error", "warning"]] = Field(
        default_factory=dict,
        title="严重程度",
        description="per generated rule (<column>:<type|nullable|unique|allowed_values|range|"
        "not_future|format>, primary_key, table:columns): error blocks the load, "
        "warning publishes it with a flag; default error (upsert's primary_key: "
        "warning)",
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_snake(value, "table name")

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
            raise ValueError(
                f"primary_key: {', '.join(unknown)} not among columns ({', '.join(names)})"
            )
        for column in self.columns:
            if column.name in self.primary_key:
                if "nullable" in column.model_fields_set and column.nullable:
                    raise ValueError(
                        f"columns: {column.name} is in primary_key, so it cannot be nullable: true"
                    )
                column.nullable = False
        if self.load.mode == "upsert" and not self.primary_key:
            raise ValueError("load: mode upsert needs a primary_key")
        for check in self.checks:
            if check.column is not None and check.column not in names:
                raise ValueError(
                    f"checks: {check.expectation} names column {check.column!r}, "
                    f"not among columns ({', '.join(names)})"
                )
        for rule in self.severity:
            self._check_severity_rule(rule, names)
        return self

    @staticmethod
    def _check_severity_rule(rule: str, names: list[str]) -> None:
        column, _, kind = rule.partition(":")
        if rule in GLOBAL_RULES or (column in names and kind in COLUMN_RULES):
            return
        known = [*GLOBAL_RULES, *(f"{n}:{k}" for n in names for k in COLUMN_RULES)]
        close = difflib.get_close_matches(rule, known, n=1, cutoff=0.6)
        raise ValueError(
            f"severity: unknown rule {rule!r}"
            + (
                f" (did you mean {close[0]!r}?)"
                if close
                else f": expected <column>:<{'|'.join(COLUMN_RULES)}>, "
                f"{' or '.join(GLOBAL_RULES)}; a checks entry sets its own"
            )
        )

    def column(self, name: str) -> Column:
        """The column called ``name``; KeyError when there is none."""
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)
