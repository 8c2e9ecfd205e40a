"""Quality scores (质量评分) per catalogue entry and per organisation, with a monthly trend.

A run's score is 100 × (expectations passed + waived) / expectations (``quality.gate.run_score``).
An **entry's** score is the score of the latest run of any dataset serving it; an
**organisation's** is the mean of its entries' scores. The trend is the mean run score per
calendar month (catalogue time) over the last ``months`` months that had runs. Scores are
computed from the stored runs on demand: nothing to keep in step.
"""

from __future__ import annotations

import contextlib
from typing import Any

from warehouse import metadata
from warehouse.workspace import Workspace

_LATEST = """
    SELECT r.entry_code, r.score, r.started_at FROM quality_runs r
    WHERE r.run_id = (SELECT run_id FROM quality_runs x WHERE x.entry_code = r.entry_code
                      ORDER BY x.started_at DESC, x.rowid DESC LIMIT 1)
"""


def entry_scores(workspace: Workspace, *, months: int = 6) -> list[dict[str, Any]]:
    """[{code, name, organisation, score, runs, latest_run_at, trend: [{month, score, runs}]}],
    lowest score first."""
    with contextlib.closing(metadata.connect(workspace.metadata_db)) as meta:
        rows = meta.execute(f"""
            SELECT l.entry_code AS code, coalesce(e.name, '') AS name,
                   coalesce(e.provider_name, '') AS organisation, l.score, l.started_at,
                   (SELECT count(*) FROM quality_runs x WHERE x.entry_code = l.entry_code)
                       AS runs
            FROM ({_LATEST}) l LEFT JOIN entries e ON e.code = l.entry_code
            ORDER BY l.score, l.entry_code""").fetchall()
        trends = _trends(meta, "r.entry_code", "", months)
    return [{"code": r["code"], "name": r["name"], "organisation": r["organisation"],
             "score": r["score"], "runs": r["runs"], "latest_run_at": r["started_at"],
             "trend": trends.get(r["code"], [])} for r in rows]


def organisation_scores(workspace: Workspace, *, months: int = 6) -> list[dict[str, Any]]:
    """[{code, name, score, entries, runs, trend}] per 提供方 with validated entries, lowest
    score first."""
    with contextlib.closing(metadata.connect(workspace.metadata_db)) as meta:
        rows = meta.execute(f"""
            SELECT e.provider_code AS code, e.provider_name AS name,
                   round(avg(l.score), 1) AS score, count(*) AS entries,
                   (SELECT count(*) FROM quality_runs x JOIN entries y ON y.code = x.entry_code
                    WHERE y.provider_code = e.provider_code) AS runs
            FROM ({_LATEST}) l JOIN entries e ON e.code = l.entry_code
            GROUP BY e.provider_code, e.provider_name
            ORDER BY score, code""").fetchall()
        trends = _trends(meta, "e.provider_code", "JOIN entries e ON e.code = r.entry_code",
                         months)
    return [{**dict(r), "trend": trends.get(r["code"], [])} for r in rows]


def _trends(meta, key: str, join: str, months: int) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for row in meta.execute(f"""
            SELECT {key} AS k, substr(r.started_at, 1, 7) AS month,
                   round(avg(r.score), 1) AS score, count(*) AS runs
            FROM quality_runs r {join} GROUP BY 1, 2 ORDER BY 1, 2"""):
        out.setdefault(row["k"], []).append({"month": row["month"], "score": row["score"],
                                             "runs": row["runs"]})
    return {k: v[-months:] for k, v in out.items()}
