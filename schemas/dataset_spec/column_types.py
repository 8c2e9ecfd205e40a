"""数据类型: the column types a spec may name, their DuckDB types, and fitting YAML values
(``allowed_values``, ``min``, ``max``) to them."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import StrictBool

_TYPE_ALIASES = {
    "string": "string",
    "str": "string",
    "varchar": "string",
    "text": "string",
    "integer": "integer",
    "int": "integer",
    "int32": "integer",
    "bigint": "bigint",
    "int64": "bigint",
    "long": "bigint",
    "double": "double",
    "float": "double",
    "float64": "double",
    "boolean": "boolean",
    "bool": "boolean",
    "date": "date",
    "timestamp": "timestamp",
    "datetime": "timestamp",
}
_DECIMAL = re.compile(r"^(?:decimal|numeric)\s*\(\s*(\d+)\s*,\s*(\d+)\s*\)$")
COLUMN_TYPES = "string, integer, bigint, double, decimal(p,s), boolean, date, timestamp"
_DUCKDB_TYPES = {
    "string": "VARCHAR",
    "integer": "INTEGER",
    "bigint": "BIGINT",
    "double": "DOUBLE",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
}
# JSON Schema for editors: accept the aliases the validator accepts, not just canonical names.
TYPE_SCHEMA = {
    "anyOf": [{"enum": sorted(_TYPE_ALIASES)}, {"type": "string", "pattern": _DECIMAL.pattern}]
}

# A value in allowed_values/min/max, before it is fitted to the column's type.
Scalar = StrictBool | int | float | Decimal | dt.datetime | dt.date | str


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


def duckdb_type(column_type: str) -> str:
    """The DuckDB SQL type of a canonical column type (``decimal(12,2)`` → ``DECIMAL(12,2)``)."""
    if column_type.startswith("decimal"):
        return column_type.upper()
    return _DUCKDB_TYPES[column_type]


def fit_value(value: Any, column_type: str, key: str) -> Any:
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
