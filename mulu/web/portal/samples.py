"""Sample rows on an entry page, only where the entry's 共享类型 allows.

无条件共享: the first rows of the dataset serving the entry, PII columns masked (the spec's
``pii``); 有条件共享: none until an access request is approved (the sharing issue);
不予共享: none.
"""

from __future__ import annotations

import json
from typing import Any

from warehouse.store import Store
from warehouse.workspace import Workspace

SAMPLE_ROWS = 10


def _mask(value: Any) -> Any:
    if value is None:
        return None
    text = str(value)
    return text[:3] + "*" * (len(text) - 5) + text[-2:] if len(text) > 6 else "***"


def sample_rows(
    workspace: Workspace, store: Store, entry: dict[str, Any], datasets: list[str]
) -> tuple[dict[str, Any] | None, str | None]:
    """({columns, rows} or None, the i18n key of why there are none)."""
    share = entry.get("share_type") or ""
    if share.startswith("不予"):
        return None, "no_sample_closed"
    if share.startswith("有条件"):
        return None, "no_sample_conditional"
    if not datasets:
        return None, "no_dataset"
    spec = store.quality.latest_spec(datasets)
    published = store.loads.published_datasets(datasets)
    if not published:
        return None, "no_dataset"
    pii = {c["name"] for c in json.loads(spec)["columns"] if c.get("pii")} if spec else None
    from warehouse import lake

    # The lake alone, read-only: the catalogue is not needed here (and DuckDB never opens
    # catalog.sqlite in a process that uses it through the store).
    con = lake.connect_lake(workspace, read_only=True)
    try:
        head = con.table(lake.qualified(published[0])).limit(SAMPLE_ROWS)
        columns = list(head.columns)
        rows = head.fetchall()
    finally:
        con.close()
    if pii is None:  # no spec known: mask every column rather than risk showing PII
        pii = set(columns)
    return {
        "columns": columns,
        "rows": [
            [_mask(v) if c in pii else v for c, v in zip(columns, r, strict=True)] for r in rows
        ],
    }, None
