"""A department's report that an entry's data was updated (数据更新), as a signed-in user.

``report_update(store, who, code, at=, note=)``: the officer of the entry's 提供方 (or a
steward, or an admin) reports; the update is recorded with ``who.actor`` as ``reported_by``
(what the caller sends about itself is not asked for). A time in the future, beyond
``MAX_CLOCK_SKEW`` of the server's clock, is refused: a report dated 2030 would make the entry
look fresh for years.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from catalog.directory import Directory
from catalog.policies import require_org
from schemas.entry import catalogue_now, catalogue_time
from schemas.errors import InvalidInput
from schemas.principal import Principal
from warehouse.store import Store

MAX_CLOCK_SKEW = dt.timedelta(minutes=5)


def not_in_future(
    at: dt.datetime | None,
    *,
    what: str,
    clock: Callable[[], dt.datetime] = catalogue_now,
) -> None:
    """InvalidInput if ``at`` (catalogue time, or aware) lies beyond now + MAX_CLOCK_SKEW."""
    if at is None:
        return
    when = catalogue_time(at)
    now = clock()
    if when > now + MAX_CLOCK_SKEW:
        raise InvalidInput(
            f"{what}不能晚于当前时间：{when.isoformat(sep=' ')} 晚于 {now.isoformat(sep=' ')} "
            f"(a time in the future is refused)"
        )


def report_update(
    store: Store,
    who: Principal,
    code: str,
    *,
    at: dt.datetime | None = None,
    note: str | None = None,
    clock: Callable[[], dt.datetime] = catalogue_now,
) -> dict[str, Any]:
    """Record the update for ``who``'s own organisation's entry; the entry as it is now.
    NotFound (no such entry), Forbidden (another organisation's), InvalidInput (future)."""
    directory = Directory(store, user=who.actor)
    entry = directory.get(code)
    require_org(who, entry.get("provider_code"), what="目录的更新报告")
    not_in_future(at, what="更新时间", clock=clock)
    return directory.report_update(entry["code"], at=at, source="report", note=note)
