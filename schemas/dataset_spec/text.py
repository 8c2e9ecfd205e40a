"""Text values in a spec: blank means missing, and warehouse names are snake_case.

Warehouse table and column names are lowercase ASCII snake_case, so they never need quoting in
SQL and survive every tool (Parquet, Dagster asset keys, file names).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator

_SNAKE = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$")
MAX_NAME_LENGTH = 63


def check_snake(value: str, what: str) -> str:
    """``value`` when it is a valid warehouse name; ValueError naming ``what`` otherwise."""
    if not _SNAKE.match(value) or len(value) > MAX_NAME_LENGTH:
        raise ValueError(
            f"bad {what} {value!r}: expected lowercase ascii snake_case "
            f"(a-z, 0-9, single '_', starting with a letter, ≤{MAX_NAME_LENGTH} chars)"
        )
    return value


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str):
        return value.strip() or None
    return value


# Optional text that is stripped, blank (YAML `key:` or `key: " "`) reading as missing.
OptionalText = Annotated[str | None, BeforeValidator(_blank_to_none)]
