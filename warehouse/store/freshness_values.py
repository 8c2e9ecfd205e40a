"""The values the freshness repository takes and returns, the same in every store
implementation: SLA overrides (``freshness_policies``) and notices sent (``freshness_notices``)."""

from __future__ import annotations

from dataclasses import dataclass

POLICY_FIELDS = ("scope", "code", "cycle", "grace_hours", "soon_hours", "set_by", "set_at")

# An override as stored: (cycle label, grace hours, due-soon hours), None where not set.
Override = tuple[str | None, float | None, float | None]
# What identifies a notice: (channel, recipient, kind, entry code, deadline).
NoticeKey = tuple[str, str, str, str, str]


@dataclass(frozen=True)
class SentNotice:
    """One entry told to one recipient on one channel, for one deadline."""

    org_code: str
    channel: str
    recipient: str
    kind: str  # overdue | due_soon
    entry_code: str
    deadline: str  # ISO, catalogue time: a new deadline is a new notice
    sent_at: str
