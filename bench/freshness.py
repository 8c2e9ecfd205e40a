"""Freshness benchmark: the sweep over every entry, for 35,700 and 357,000 entries.

Side by side, each in a fresh process (opening the catalogue is setup, not timed):
- ``sweep``: ``catalog.freshness.sweep.swept`` now (from each entry's 最近更新时间): the store
  reads the columns the sweep needs (one read transaction, Arrow) and one DuckDB query
  evaluates them; what ``mulu freshness`` and the daily asset run.
- ``sweep past day``: the same at a past day, from the update events (``entry_updates``: the
  store reads their code and time).
- ``python loop`` (the baseline a user would write): read every entry from SQLite and call
  ``sla.Policy.status`` per entry.
- ``cold``: the whole ``statuses()`` call as ``mulu freshness --json`` makes it, connection,
  extension load and result rows included.

Workspaces: the demo district (35,700 entries, 237k update events); ×10 by copying entries and
events with new codes (357,000 / 2.4M). Goal (issue 5): under 0.5 s at 35,700 and 3 s at
357,000. Run: ``python -m bench.freshness``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import tempfile
from pathlib import Path

from bench.district import build
from bench.measure import measure

PAST = "2026-09-30T23:59:59"


SETUP = """
import datetime as dt
from pathlib import Path
from warehouse.workspace import Workspace
workspace = Workspace(Path({home!r}))
"""
SWEEP = (
    SETUP
    + """
from catalog.freshness.sweep import swept
from warehouse.store import Store
store = Store.open(workspace)
with swept(store) as sweep:  # warm: the store's connection open, DuckDB loaded
    sweep.summary()
""",
    """
with swept(store{args}) as sweep:
    result = sum(sweep.summary().values())
""",
)
LOOP = (
    SETUP
    + """
import contextlib
import sqlite3
from catalog.freshness.sla import Policy
from schemas.cycles import parse_update_cycle
""",
    """
now = dt.datetime(2026, 11, 25)
policies, result = dict(), 0
with contextlib.closing(sqlite3.connect(workspace.metadata_db)) as meta:
    for cycle, updated in meta.execute(
            "SELECT update_cycle, updated_at FROM entries WHERE status = 'active'"):
        if cycle not in policies:
            policies[cycle] = Policy(parse_update_cycle(cycle) if cycle else None)
        last = dt.datetime.fromisoformat(updated) if updated else None
        policies[cycle].status(last, now)
        result += 1
""",
)
COLD = (
    SETUP,
    """
from catalog.freshness.sweep import statuses
from warehouse.store import Store
with Store.open(workspace) as store:
    result = len(statuses(store))
""",
)


def run(copies: list[int], runs: int) -> list[dict]:
    table = []
    scratch = Path(tempfile.mkdtemp(prefix="mulu-freshness-"))
    try:
        for n in copies:
            home = scratch / f"x{n}"
            entries = build(home, n)
            row = {"entries": entries}
            steps = {
                "sweep": (SWEEP[0], SWEEP[1].replace("{args}", "")),
                "past": (
                    SWEEP[0],
                    SWEEP[1].replace(
                        "{args}", f", dt.datetime.fromisoformat({PAST!r}), from_events=True"
                    ),
                ),
                "loop": LOOP,
                "cold": COLD,
            }
            for label, (setup, step) in steps.items():
                results = [measure(setup.format(home=str(home)), step) for _ in range(runs)]
                best = min(results, key=lambda r: r["seconds"])
                assert best["result"] == entries, (label, best["result"], entries)
                row[label] = best
            table.append(row)
            shutil.rmtree(home, ignore_errors=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return table


def markdown(table: list[dict]) -> str:
    lines = [
        f"{dt.date.today().isoformat()}, best of the runs:",
        "",
        "| entries | sweep s | sweep past day s | python loop s | loop / sweep "
        "| `statuses()` cold s | sweep peak MiB | loop peak MiB |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in table:
        s, p, loop, cold = r["sweep"], r["past"], r["loop"], r["cold"]
        lines.append(
            f"| {r['entries']:,} | {s['seconds']:.3f} | {p['seconds']:.3f} | "
            f"{loop['seconds']:.3f} | {loop['seconds'] / s['seconds']:.1f}x | "
            f"{cold['seconds']:.2f} | {s['peak_mib']:.0f} | {loop['peak_mib']:.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--copies",
        type=int,
        nargs="+",
        default=[1, 10],
        help="the demo district ×N (1: 35,700 entries, 10: 357,000)",
    )
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(markdown(run(args.copies, args.runs)))


if __name__ == "__main__":
    main()
