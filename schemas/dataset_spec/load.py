"""装载方式 (``load``): what a load does with the rows already in the table."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Load(BaseModel):
    """装载方式: what a load does with rows already in the table."""

    model_config = ConfigDict(extra="forbid")

    mode: Literal["replace", "append", "upsert"] = Field(
        default="replace",
        title="装载模式",
        description="replace: the table becomes the new file; append: rows are added; upsert: "
        "rows with an existing primary key are updated, others added",
    )
