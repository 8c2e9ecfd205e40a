"""The problems ``Mapping.apply`` reports for one field of a record (kept apart from mapping.py
so that module stays about the mapping itself)."""

from __future__ import annotations

from typing import Any, NamedTuple

from catalog.apply_records import LABELS, REQUIRED_FIELDS, Severity
from catalog.importing.source_values import empty as _empty
from schemas.messages import Reason, ReasonError


class FieldProblem(NamedTuple):
    """A problem ``Mapping.apply`` found in one field of a record."""

    field: str  # the entry field (or provider_contact_*) concerned
    reason: Reason
    severity: Severity
    value: Any  # the raw value


def unreadable(field: str, raw: Any, exc: Exception) -> FieldProblem:
    """A transform failed: a warning on an optional field (left empty), a reject on a
    required one."""
    detail: Any = exc.reason if isinstance(exc, ReasonError) else str(exc)
    params = {"label": LABELS.get(field, field), "value": raw, "detail": detail}
    if field in REQUIRED_FIELDS:
        return FieldProblem(field, Reason("invalid_value", params), "reject", raw)
    return FieldProblem(field, Reason("unreadable_optional", params), "warning", raw)


def interval_as_modified(interval: str, values: dict[str, Any]) -> FieldProblem:
    """``modified: R/P1D``: the cycle, when the record states none; never a date."""
    if _empty(values.get("update_cycle")):
        values["update_cycle"] = interval
        return FieldProblem(
            "updated_at", Reason("interval_as_modified", {"value": interval}), "warning", interval
        )
    params = {
        "label": LABELS["updated_at"],
        "value": interval,
        "detail": Reason("interval_not_date", {"value": interval}),
    }
    return FieldProblem("updated_at", Reason("unreadable_optional", params), "warning", interval)
