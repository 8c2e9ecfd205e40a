"""Per-organisation and per-entry overrides of the SLA (``freshness_policies``).

An override may set the cycle (e.g. an entry whose 更新周期 says 每日 but is agreed monthly),
the grace after the deadline and the due-soon window. The entry's override wins over its
organisation's, which wins over the cycle's defaults (``sla.default_grace``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import re
from typing import Any, Literal

from catalog.freshness.sla import Policy
from schemas.cycles import UpdateCycle, parse_update_cycle
from schemas.entry import catalogue_now
from warehouse import metadata
from warehouse.workspace import Workspace

Scope = Literal["entry", "organisation"]
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(h|d|w|小时|天|日|周)\s*$")
_HOURS = {"h": 1, "小时": 1, "d": 24, "天": 24, "日": 24, "w": 168, "周": 168}


def parse_duration(text: str) -> dt.timedelta:
    """'36h', '5d', '2w', '3天' → a timedelta; ValueError naming what is accepted."""
    match = _DURATION.match(str(text))
    if not match:
        raise ValueError(f"bad duration {text!r}: expected a number with h, d or w (5d, 36h)")
    return dt.timedelta(hours=float(match.group(1)) * _HOURS[match.group(2)])


def set_policy(workspace: Workspace, scope: Scope, code: str, *, user: str,
               cycle: str | None = None, grace: dt.timedelta | None = None,
               soon: dt.timedelta | None = None) -> dict[str, Any]:
    """Create or replace the override of ``code`` (an entry's or an organisation's)."""
    if scope not in ("entry", "organisation"):
        raise ValueError(f"bad scope {scope!r}: entry or organisation")
    label = parse_update_cycle(cycle).label if cycle else None
    with contextlib.closing(metadata.connect(workspace.metadata_db)) as meta:
        table = "entries" if scope == "entry" else "organisations"
        if meta.execute(f"SELECT 1 FROM {table} WHERE code = ?", (code,)).fetchone() is None:
            raise KeyError(f"no {scope} {code}")
        row = (scope, code, label, grace.total_seconds() / 3600 if grace else None,
               soon.total_seconds() / 3600 if soon else None, user,
               catalogue_now().isoformat())
        with metadata.write_transaction(meta):
            meta.execute("INSERT OR REPLACE INTO freshness_policies (scope, code, cycle, "
                         "grace_hours, soon_hours, set_by, set_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                         row)
    return dict(zip(("scope", "code", "cycle", "grace_hours", "soon_hours", "set_by", "set_at"),
                    row, strict=True))


def remove_policy(workspace: Workspace, scope: Scope, code: str) -> bool:
    with contextlib.closing(metadata.connect(workspace.metadata_db)) as meta, \
            metadata.write_transaction(meta):
        return meta.execute("DELETE FROM freshness_policies WHERE scope = ? AND code = ?",
                            (scope, code)).rowcount > 0


def list_policies(workspace: Workspace) -> list[dict[str, Any]]:
    with contextlib.closing(metadata.connect(workspace.metadata_db)) as meta:
        return [dict(r) for r in meta.execute(
            "SELECT * FROM freshness_policies ORDER BY scope, code")]


# An override as stored: (cycle label, grace hours, due-soon hours), None where not set.
Override = tuple[str | None, float | None, float | None]


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
    return Policy(_cycle(label) if label else None,
                  grace=dt.timedelta(hours=grace) if grace is not None else None,
                  soon=dt.timedelta(hours=soon) if soon is not None else None)


def policy_for(con: Any, entry: dict[str, Any]) -> Policy:
    """The SLA of one entry (its cycle, grace and window after overrides), for a page or an
    API answer about a single entry; the sweep computes the same for all entries at once."""
    rows = {r["scope"]: (r["cycle"], r["grace_hours"], r["soon_hours"]) for r in con.execute(
        "SELECT * FROM freshness_policies WHERE (scope = 'entry' AND code = ?) OR "
        "(scope = 'organisation' AND code = ?)", (entry["code"], entry["provider_code"]))}
    return resolve_policy(entry.get("update_cycle"), rows.get("entry"),
                          rows.get("organisation"))


def entry_status(con: Any, entry: dict[str, Any], at: dt.datetime | None = None
                 ) -> dict[str, Any]:
    """{status, deadline, delay_days} of one entry now (or at ``at``)."""
    at = at or catalogue_now()
    policy = policy_for(con, entry)
    last = dt.datetime.fromisoformat(entry["updated_at"]) if entry.get("updated_at") else None
    status = policy.status(last, at)
    deadline = policy.deadline(last) if policy.tracked and last else None
    delay = round((at - deadline).total_seconds() / 86400, 2) if deadline and at > deadline \
        else None
    return {"status": status.value, "deadline": deadline, "delay_days": delay}
