"""Which freshness notices (数据更新提醒) are due: one per organisation per channel.

``plan_notices`` turns the sweep into **one notice per organisation per channel** (email to the
organisation's ``contact_email``, or a webhook URL), holding only the entries not yet noticed:
a notice is keyed by ``(channel, recipient, kind, entry_code, deadline)`` in the store's log of
notices sent, so the same overdue entry is never reported twice for the same deadline, while a
new deadline (the entry was updated, then became late again) or a new kind (due soon, then
overdue) is a new notice. Sending is ``notify.send_notices``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from catalog.freshness.sla import Status
from catalog.freshness.sweep import moment, statuses
from schemas.entry import catalogue_now
from schemas.errors import InvalidInput
from warehouse.store import Store

CHANNELS = ("email", "webhook")
KINDS = (Status.OVERDUE.value, Status.DUE_SOON.value)
_ADDRESS_SPLIT = re.compile(r"[;,；，\s]+")
_ADDRESS = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


@dataclass
class Notice:
    """One message to one organisation on one channel: the entries it has not been told of.

    ``entries``: dicts with code, name, kind ('overdue' | 'due_soon'), cycle, last_update,
    deadline, due_at (deadline + grace), delay_days (past the deadline) or days_left.
    """

    org_code: str
    org_name: str
    recipient: str  # email address(es), comma-separated, or the webhook URL
    channel: str  # 'email' | 'webhook'
    entries: list[dict[str, Any]]
    at: dt.datetime = field(default_factory=catalogue_now)  # the moment the sweep judged

    def count(self, kind: str) -> int:
        return sum(1 for e in self.entries if e["kind"] == kind)

    @property
    def counts(self) -> dict[str, int]:
        return {kind: self.count(kind) for kind in KINDS}

    def keys(self) -> set[tuple[str, str, str]]:
        """(kind, entry code, deadline) of each entry: what the log of notices sent holds."""
        return {(e["kind"], e["code"], deadline_key(e["deadline"])) for e in self.entries}

    def without(self, told: set[tuple[str, str, str]]) -> Notice:
        """The same notice less the entries in ``told`` ((kind, code, deadline) keys)."""
        entries = [
            e
            for e in self.entries
            if (e["kind"], e["code"], deadline_key(e["deadline"])) not in told
        ]
        return Notice(self.org_code, self.org_name, self.recipient, self.channel, entries, self.at)


@dataclass
class MissingContact:
    """An organisation with entries to notify by email but no usable ``contact_email``."""

    org_code: str
    org_name: str
    entries: int  # its entries of the requested kinds
    contact_email: str | None = None  # the unusable value, when there is one


class NoticePlan(list[Notice]):
    """The notices to send (a list of ``Notice``), plus the organisations that could not be
    emailed for want of a ``contact_email`` (``without_email``)."""

    def __init__(
        self, notices: Iterable[Notice] = (), without_email: Iterable[MissingContact] = ()
    ) -> None:
        super().__init__(notices)
        self.without_email: list[MissingContact] = list(without_email)


def deadline_key(deadline: dt.datetime | str) -> str:
    """The deadline as the log of notices sent keeps it (ISO, catalogue time)."""
    return deadline if isinstance(deadline, str) else deadline.isoformat()


def email_addresses(contact_email: str | None) -> list[str]:
    """The addresses in a contact_email field ('a@x.cn; b@y.cn' → both); [] when unusable."""
    if not contact_email:
        return []
    parts = [p.strip().strip("<>") for p in _ADDRESS_SPLIT.split(contact_email.strip())]
    parts = [p for p in parts if p]
    if not parts or not all(_ADDRESS.fullmatch(p) for p in parts):
        return []
    return parts


def _entry(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "code": row["code"],
        "name": row["name"],
        "kind": row["status"],
        "cycle": row["cycle"],
        "last_update": row["last_update"],
        "deadline": row["deadline"],
        "due_at": row["due_at"],
        "delay_days": row["delay_days"],
        "days_left": row["days_left"],
    }


def _entry_order(entry: dict[str, Any]) -> tuple[Any, ...]:
    """Overdue first, most late first; then due soon, soonest first."""
    return (
        KINDS.index(entry["kind"]),
        -(entry["delay_days"] or 0),
        entry["days_left"] or 0,
        entry["code"],
    )


def plan_notices(
    store: Store,
    *,
    channels: Iterable[str],
    webhook_url: str | None = None,
    at: dt.datetime | None = None,
    kinds: Sequence[str] = KINDS,
    org: str | None = None,
) -> NoticePlan:
    """The notices due at ``at`` (default now): one per organisation and channel, each with the
    entries of ``kinds`` not already noticed on that channel to that recipient for that
    deadline. ``org`` (code or name) limits it to one organisation. Organisations to email
    without a usable contact_email are in ``.without_email``, not silently dropped."""
    wanted = set(channels)
    if not wanted or not wanted <= set(CHANNELS):
        raise InvalidInput(f"channels must be among {', '.join(CHANNELS)}: {sorted(wanted)}")
    if "webhook" in wanted and not webhook_url:
        raise InvalidInput("the webhook channel needs a webhook_url")
    kinds = tuple(str(k) for k in kinds)
    if not kinds or not set(kinds) <= set(KINDS):
        raise InvalidInput(f"kinds must be among {', '.join(KINDS)}: {list(kinds)}")
    at = moment(at)
    by_org: dict[str, list[dict[str, Any]]] = {}
    for row in statuses(store, at=at, org=org):
        if row["status"] in kinds and row["deadline"] is not None:
            by_org.setdefault(row["provider_code"], []).append(row)
    if not by_org:
        return NoticePlan()
    organisations = {o["code"]: o for o in store.organisations.all()}
    noticed = store.freshness.noticed(sorted(wanted))
    notices, missing = [], []
    for org_code in sorted(by_org):
        rows = by_org[org_code]
        info = organisations.get(org_code) or {}
        org_name = info.get("name") or rows[0]["provider_name"]
        targets = []
        if "email" in wanted:
            addresses = email_addresses(info.get("contact_email"))
            if addresses:
                targets.append(("email", ", ".join(addresses)))
            else:
                missing.append(
                    MissingContact(org_code, org_name, len(rows), info.get("contact_email") or None)
                )
        if "webhook" in wanted and webhook_url:
            targets.append(("webhook", webhook_url))
        for channel, recipient in targets:
            entries = [
                _entry(r)
                for r in rows
                if (channel, recipient, r["status"], r["code"], deadline_key(r["deadline"]))
                not in noticed
            ]
            if entries:
                notices.append(
                    Notice(
                        org_code,
                        org_name,
                        recipient,
                        channel,
                        sorted(entries, key=_entry_order),
                        at,
                    )
                )
    return NoticePlan(notices, missing)
