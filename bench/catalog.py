"""Catalogue benchmark: bulk import of 35,700 and 357,000 entries from a CSV export.

Side by side for each size:
- ``mulu import``: ``catalog.importing.import_file`` on Mulu's own CSV export (read, detect
  the mapping, validate every field, allocate nothing, write entries + history).
- ``floor``: the same CSV read with ``csv.reader`` and inserted with one ``executemany`` into a
  bare SQLite table of the same columns: no validation, no history. What any import costs.
- ``baseline`` (with ``--baseline REV``): the same import by Mulu as of git revision REV, checked
  out in a temporary worktree and run in the same way, its runs alternating with today's so that
  both see the same machine.

``--database-url postgresql://user@host:port/any`` runs the imports on PostgreSQL: each run
gets a database of its own on that server (created, then dropped); the floor stays SQLite.

Run: ``make bench`` (or ``python -m bench.catalog --sizes 35700 357000``). Prints a Markdown
table for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime as dt
import platform
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from bench.measure import measure
from bench.province_build import fresh_postgres


def write_catalogue_csv(path: Path, size: int) -> None:
    """A CSV in Mulu's export format with ``size`` entries: the demo district, repeated with
    fresh 顺序码 when more entries than the district has are asked for."""
    from catalog.demo import generate_district
    from catalog.exporting.tabular import header, to_row

    district = generate_district(2024, today=dt.date(2026, 11, 1))
    entries = district.entries
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header())
        for n in range(size):
            entry = dict(entries[n % len(entries)])
            copy = n // len(entries)
            if copy:
                classification, sequence = entry["code"].split("/")
                entry["code"] = f"{classification}/{int(sequence) + copy * 100_000:07d}"
            entry.setdefault("status", "active")
            writer.writerow(to_row(entry))


MULU_SETUP = """
import os, sys
if {code!r}:
    sys.path.insert(0, {code!r})  # the baseline's packages before the installed ones
if {database!r}:
    os.environ["MULU_DATABASE_URL"] = {database!r}
from pathlib import Path
from catalog.directory import Directory
from catalog.importing.importer import import_file
from warehouse.workspace import Workspace
ws = Workspace(Path({home!r})).ensure()
directory = Directory.open(ws, user="bench")
"""
MULU_STEP = """
report = import_file(directory, ws, Path({csv!r}))
assert report.rejected == 0, report.errors[:3]
result = report.created
"""
FLOOR_SETUP = """
import csv, sqlite3
con = sqlite3.connect({db!r}, isolation_level=None)
con.execute("PRAGMA journal_mode = WAL")
con.execute("PRAGMA synchronous = NORMAL")
"""
FLOOR_STEP = """
with open({csv!r}, encoding="utf-8-sig", newline="") as handle:
    rows = csv.reader(handle)
    header = next(rows)
    con.execute("CREATE TABLE entries (" + ", ".join(f'"{{h}}"' for h in header) + ")")
    con.execute("BEGIN")
    con.executemany("INSERT INTO entries VALUES (" + ",".join("?" * len(header)) + ")", rows)
    con.execute("COMMIT")
result = con.execute("SELECT count(*) FROM entries").fetchone()[0]
"""


def run(
    sizes: list[int],
    runs: int,
    baseline: str | None = None,
    database_url: str | None = None,
) -> list[dict]:
    rows = []
    scratch = Path(tempfile.mkdtemp(prefix="mulu-bench-"))
    repo = Path(__file__).resolve().parents[1]
    code = ""
    try:
        if baseline:
            code = str(scratch / "baseline")
            subprocess.run(
                ["git", "-C", str(repo), "worktree", "add", "--detach", "-q", code, baseline],
                check=True,
            )
        for size in sizes:
            source = scratch / f"catalogue-{size}.csv"
            write_catalogue_csv(source, size)
            contenders = {
                "mulu": (MULU_SETUP, MULU_STEP, ""),
                "floor": (FLOOR_SETUP, FLOOR_STEP, ""),
            }
            if baseline:
                contenders["baseline"] = (MULU_SETUP, MULU_STEP, code)
            measured: dict[str, list[dict]] = {name: [] for name in contenders}
            for _ in range(runs):  # alternate contenders so that both see the same machine
                for name, (setup, step, path) in contenders.items():
                    url = database_url if setup is MULU_SETUP else None
                    measured[name].append(_fresh(scratch, setup, step, source, path, url))
            row: dict[str, Any] = {"size": size, "file_mib": source.stat().st_size / 2**20}
            for name, results in measured.items():
                best = min(results, key=lambda r: r["seconds"])
                row[name] = {**best, "runs": [round(r["seconds"], 2) for r in results]}
                assert best["result"] == size, (name, best)
            rows.append(row)
    finally:
        if baseline:
            subprocess.run(
                ["git", "-C", str(repo), "worktree", "remove", "--force", code], check=False
            )
        shutil.rmtree(scratch, ignore_errors=True)
    return rows


def _fresh(
    scratch: Path,
    setup: str,
    step: str,
    source: Path,
    code: str,
    database_url: str | None = None,
) -> dict:
    """One run into a new, empty target: every run measures a first import."""
    target = tempfile.mkdtemp(dir=scratch)
    with contextlib.ExitStack() as stack:
        database = (
            stack.enter_context(fresh_postgres("import", server=database_url))
            if database_url
            else ""
        )
        return measure(
            setup.format(home=target, db=f"{target}/floor.sqlite", code=code, database=database),
            step.format(csv=str(source)),
        )


def markdown(rows: list[dict]) -> str:
    lines = [
        f"Machine: {platform.machine()}, Python {platform.python_version()}, "
        f"{dt.date.today().isoformat()}.",
        "",
        "| entries | CSV MiB | mulu import s | baseline s | mulu / baseline | floor s | "
        "mulu / floor | mulu entries/s | mulu peak MiB | baseline peak MiB | floor peak MiB |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        mulu, floor, base = row["mulu"], row["floor"], row.get("baseline")
        base_s = f"{base['seconds']:.2f}" if base else "–"
        base_ratio = f"{mulu['seconds'] / base['seconds']:.2f}x" if base else "–"
        base_peak = f"{base['peak_mib']:.0f}" if base else "–"
        lines.append(
            f"| {row['size']:,} | {row['file_mib']:.1f} | {mulu['seconds']:.2f} | {base_s} | "
            f"{base_ratio} | {floor['seconds']:.2f} | {mulu['seconds'] / floor['seconds']:.1f}x | "
            f"{row['size'] / mulu['seconds']:,.0f} | {mulu['peak_mib']:.0f} | {base_peak} | "
            f"{floor['peak_mib']:.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[35_700, 357_000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--baseline", metavar="REV", help="also run Mulu as of this git revision, side by side"
    )
    parser.add_argument(
        "--database-url",
        metavar="URL",
        help="import into PostgreSQL: a database of its own per run on this server "
        "(postgresql://user@host:port/any)",
    )
    args = parser.parse_args()
    rows = run(args.sizes, args.runs, args.baseline, args.database_url)
    print(markdown(rows))


if __name__ == "__main__":
    main()
