"""行数阈值 (``volume``): how far a load's row count may move from the published version before
the quality gate holds it for a steward (the volume guard, ``quality.volume``).

Fractions are written as numbers (``0.5``) or percentages (``"50%"``) and kept as numbers.
``max_drop`` is a share of the published rows, so it lies between 0 and 1; ``max_growth`` may
exceed 1 (``3`` or ``"300%"``: at most four times the published rows). ``null`` turns a bound
off.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, field_validator

_PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")
_FRACTION_SCHEMA = {
    "anyOf": [
        {"type": "number", "minimum": 0},
        {"type": "string", "pattern": r"^\s*\d+(\.\d+)?\s*%\s*$"},
        {"type": "null"},
    ]
}


def _fraction(value: Any) -> Any:
    """``"50%"`` → 0.5; a number as it is; anything else for pydantic to refuse."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a fraction: write a number such as 0.5 or '50%'")
    if isinstance(value, str):
        found = _PERCENT.match(value)
        if found is None:
            raise ValueError(f"{value!r} is not a fraction: write a number such as 0.5 or '50%'")
        return float(found.group(1)) / 100
    return value


Fraction = Annotated[float | None, BeforeValidator(_fraction), WithJsonSchema(_FRACTION_SCHEMA)]


def percent(value: float) -> str:
    """0.5 → ``50%``, 0.125 → ``12.5%``."""
    return f"{value * 100:.4g}%"


class Volume(BaseModel):
    """行数阈值: bounds on a load's row count, relative to the published version."""

    model_config = ConfigDict(extra="forbid")

    min_rows: int = Field(
        default=0,
        ge=0,
        title="最少行数",
        description="the table must hold at least this many rows after the load (also the "
        "first load); default 0",
    )
    max_drop: Fraction = Field(
        default=0.5,
        title="最大降幅",
        description="replace: the largest share of the published rows a load may lose, 0-1 or "
        "a percentage ('50%', the default); more waits for a steward; null: no limit (an empty "
        "replace of a non-empty table waits for a steward whatever this says)",
    )
    max_growth: Fraction = Field(
        default=None,
        title="最大增幅",
        description="the largest growth over the published rows, e.g. 1 or '100%' (at most "
        "twice as many); more waits for a steward; default null: no limit",
    )

    @field_validator("min_rows", mode="before")
    @classmethod
    def _whole(cls, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"min_rows {value!r} is not a whole number of rows")
        return value

    @field_validator("max_drop")
    @classmethod
    def _drop(cls, value: float | None) -> float | None:
        if value is not None and not (0 <= value <= 1):
            raise ValueError(
                f"max_drop {value:g} is not between 0 and 1: write a share of the published "
                f"rows, such as 0.5 or '50%'"
            )
        return value

    @field_validator("max_growth")
    @classmethod
    def _growth(cls, value: float | None) -> float | None:
        if value is not None and (value < 0 or not math.isfinite(value)):
            raise ValueError(f"max_growth {value:g} is not a growth: write 0 or more, e.g. '100%'")
        return value
