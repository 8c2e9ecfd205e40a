"""Sample rows on an entry page, only where the entry's 共享类型 allows.

无条件共享: the first rows of the dataset serving the entry, PII columns masked (the spec's
``pii``); 有条件共享: none until an access request is approved (the sharing issue);
不予共享: none.
"""

from __future__ import annotations

import json
from typing import Any

from warehouse import metadata
from warehouse.workspace import Workspace

SAMPLE_ROWS = 10


def _mask(value: Any) -> Any:
    if value is None:
        return None
    text = str(value)
    return text[:3] + "*" * (len(text) - 5) + text[-2:] if len(text) > 6 else "***"


def sample_rows(workspace: Workspace, entry: dict[str, Any], datasets: list[str]
                ) -> tuple[dict[str, Any] | None, str | None]:
    """({columns, rows} or None, the i18n key of why there are none)."""
    share = entry.get("share_type") or ""
    if share.startswith("不予"):
        return None, "no_sample_closed"
    if share.startswith("有条件"):
        return None, "no_sample_conditional"
    if not datasets:
        return None, "no_dataset"
    con = metadata.connect(workspace.metadata_db)
    try:
        marks = ",".join("?" * len(datasets))
        row = con.execute(f"SELECT spec FROM quality_runs WHERE dataset IN ({marks}) "
                          f"ORDER BY started_at DESC LIMIT 1", datasets).fetchone()
        published = [d for d in datasets if con.execute(
            "SELECT 1 FROM loads WHERE dataset = ? AND status = 'published'", (d,)).fetchone()]
    finally:
        con.close()
    if not published:
        return None, "no_dataset"
    pii = {c["name"] for c in json.loads(row["spec"])["columns"] if c.get("pii")} if row else None
    from warehouse.analyst import open_session

    session = open_session(workspace)
    try:
        result = session.execute(f'SELECT * FROM "{published[0]}" LIMIT {SAMPLE_ROWS}')
        columns = [d[0] for d in result.description]
        rows = result.fetchall()
    finally:
        session.close()
    if pii is None:  # no spec known: mask every column rather than risk showing PII
        pii = set(columns)
    return {"columns": columns,
            "rows": [[_mask(v) if c in pii else v for c, v in zip(columns, r, strict=True)]
                     for r in rows]}, None
