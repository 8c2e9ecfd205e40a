"""Per-organisation and per-entry overrides of the SLA (``freshness_policies``).

An override may set the cycle (e.g. an entry whose 更新周期 says 每日 but is agreed monthly),
the grace after the deadline and the due-soon window. The entry's override wins over its
organisation's, which wins over the cycle's defaults (``sla.default_grace``).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from typing import Any, Literal

from catalog.freshness.sla import Policy
from schemas.cycles import UpdateCycle, parse_update_cycle
from schemas.entry import catalogue_now, catalogue_time
from schemas.errors import InvalidInput, NotFound
from warehouse.store import Store
from warehouse.store.freshness_values import POLICY_FIELDS, Override

Scope = Literal["entry", "organisation"]
SCOPES = ("entry", "organisation")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(h|d|w|小时|天|日|周)\s*$")
_HOURS = {"h": 1, "小时": 1, "d": 24, "天": 24, "日": 24, "w": 168, "周": 168}


def parse_duration(text: str) -> dt.timedelta:
    """'36h', '5d', '2w', '3天' → a timedelta; InvalidInput naming what is accepted."""
    match = _DURATION.match(str(text))
    if not match:
        raise InvalidInput(f"bad duration {text!r}: expected a number with h, d or w (5d, 36h)")
    return dt.timedelta(hours=float(match.group(1)) * _HOURS[match.group(2)])


def _hours(duration: dt.timedelta | None) -> float | None:
    return duration.total_seconds() / 3600 if duration is not None else None


def set_policy(
    store: Store,
    scope: Scope,
    code: str,
    *,
    user: str,
    cycle: str | None = None,
    grace: dt.timedelta | None = None,
    soon: dt.timedelta | None = None,
) -> dict[str, Any]:
    """Create or replace the override of ``code`` (an entry's or an organisation's)."""
    if scope not in SCOPES:
        raise InvalidInput(f"bad scope {scope!r}: entry or organisation")
    try:
        label = parse_update_cycle(cycle).label if cycle else None
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    known = store.entries.get(code) if scope == "entry" else store.organisations.get(code)
    if known is None:
        raise NotFound(f"no {scope} {code}")
    policy = dict(
        zip(
            POLICY_FIELDS,
            (scope, code, label, _hours(grace), _hours(soon), user, catalogue_now().isoformat()),
            strict=True,
        )
    )
    store.freshness.set_policy(policy)
    return policy


def remove_policy(store: Store, scope: Scope, code: str) -> bool:
    return store.freshness.remove_policy(scope, code)


def list_policies(store: Store) -> list[dict[str, Any]]:
    return store.freshness.policies()


@functools.lru_cache(maxsize=256)
def _cycle(label: str) -> UpdateCycle | None:
    try:
        return parse_update_cycle(label)
    except ValueError:
        return None  # as the sweep: an unknown label is not tracked


def resolve_policy(update_cycle: str | None, *overrides: Override | None) -> Policy:
    """The SLA of an entry from its 更新周期 and its overrides, most specific first (the
    entry's, then its organisation's): each field from the first override that sets it."""

    def pick(field: int) -> Any:
        return next((o[field] for o in overrides if o and o[field] is not None), None)

    label = pick(0) or update_cycle
    grace, soon = pick(1), pick(2)
    return Policy(
        _cycle(label) if label else None,
        grace=dt.timedelta(hours=grace) if grace is not None else None,
        soon=dt.timedelta(hours=soon) if soon is not None else None,
    )


def policy_for(store: Store, entry: dict[str, Any]) -> Policy:
    """The SLA of one entry (its cycle, grace and window after overrides), for a page or an
    API answer about a single entry; the sweep computes the same for all entries at once."""
    mine, organisation = store.freshness.overrides_of(entry["code"], entry.get("provider_code"))
    return resolve_policy(entry.get("update_cycle"), mine, organisation)


def entry_status(
    store: Store, entry: dict[str, Any], at: dt.datetime | None = None
) -> dict[str, Any]:
    """{status, deadline, delay_days} of one entry now (or at ``at``)."""
    at = catalogue_now() if at is None else catalogue_time(at)
    policy = policy_for(store, entry)
    last = dt.datetime.fromisoformat(entry["updated_at"]) if entry.get("updated_at") else None
    status = policy.status(last, at)
    deadline = policy.deadline(last) if policy.tracked and last else None
    delay = (
        round((at - deadline).total_seconds() / 86400, 2) if deadline and at > deadline else None
    )
    return {"status": status.value, "deadline": deadline, "delay_days": delay}
