"""Quality scores (质量评分) of runs, catalogue entries and organisations, with a monthly trend.

A run's score is 100 × (expectations passed + waived) / expectations (``run_score``). An
**entry's** score is the score of the latest run of any dataset serving it; an
**organisation's** is the mean of its entries' scores. The trend is the mean run score per
calendar month (catalogue time) over the last ``months`` months that had runs. Scores are
computed from the stored runs on demand: nothing to keep in step.
"""

from __future__ import annotations

from typing import Any

from warehouse.store import Store


def run_score(passed: int, waived: int, expectations: int) -> float:
    """100 × the share of expectations passed or waived."""
    return round(100.0 * (passed + waived) / expectations, 1) if expectations else 100.0


def entry_scores(store: Store, *, months: int = 6) -> list[dict[str, Any]]:
    """[{code, name, organisation, score, runs, latest_run_at, trend: [{month, score, runs}]}],
    lowest score first."""
    with store.snapshot():
        rows = store.quality.latest_entry_scores()
        trends = store.quality.monthly_scores("entry")
    return [
        {
            "code": r["code"],
            "name": r["name"],
            "organisation": r["organisation"],
            "score": r["score"],
            "runs": r["runs"],
            "latest_run_at": r["started_at"],
            "trend": trends.get(r["code"], [])[-months:],
        }
        for r in rows
    ]


def organisation_scores(store: Store, *, months: int = 6) -> list[dict[str, Any]]:
    """[{code, name, score, entries, runs, trend}] per 提供方 with validated entries, lowest
    score first."""
    with store.snapshot():
        rows = store.quality.latest_organisation_scores()
        trends = store.quality.monthly_scores("organisation")
    return [{**r, "trend": trends.get(r["code"], [])[-months:]} for r in rows]
