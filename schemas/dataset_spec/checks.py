"""校验规则 (``checks``): extra expectations a spec adds to the ones its columns imply."""

from __future__ import annotations

import difflib
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from schemas.dataset_spec.text import OptionalText


class Check(BaseModel):
    """校验规则: one extra expectation, stored as written for the quality layer."""

    # Free keyword arguments of the expectation (regex, min_value …) are kept as extras.
    model_config = ConfigDict(extra="allow")

    expectation: str = Field(
        title="校验规则",
        description="expectation name in snake_case, e.g. expect_column_values_to_match_regex",
    )
    column: OptionalText = Field(None, title="字段名", description="the column it checks, if any")
    severity: Literal["error", "warning"] = Field(
        "error", title="严重程度", description="error fails the load; warning is only reported"
    )

    @field_validator("expectation")
    @classmethod
    def _expectation(cls, value: str) -> str:
        if not re.match(r"^expect_[a-z0-9_]+$", value.strip()):
            raise ValueError(
                f"bad expectation {value!r}: expected a snake_case name starting with expect_"
            )
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
