"""Sharing benchmark (issue 13): what enforcing a grant costs, beside what DuckDB does bare.

On one loaded 社保卡申领-like dataset (10 columns, 3 of them PII), each step in a fresh process:

- **download**: ``warehouse.granted.stream`` of the whole granted view (PII masked inside
  DuckDB, streamed in record batches) as CSV and as Parquet, written to a file — against the
  floor, DuckDB's own ``COPY (SELECT * FROM <lake table>) TO …`` over the same lake, unmasked.
  Goal: memory flat as rows grow (a download never holds the table).
- **analyst session**: ``open_granted_session`` (copies the granted, masked columns into the
  session's memory) against ``open_session`` (attaches the lake; nothing copied) and the first
  ``count(*)`` through each.
- **audit**: appending ``AuditLog.access`` records (one write transaction each, the hash chain
  read and extended) and ``verify`` over all of them.

Run: ``python -m bench.sharing --rows 100000 1000000``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import tempfile
from pathlib import Path

from bench.ingest import COLUMNS, write_source
from bench.measure import measure

PII = {"person_name": "姓名", "id_card_no": "身份证号", "mobile": "手机号"}

SETUP = """
import os
from pathlib import Path
from schemas.access import DataAccess
from warehouse.workspace import Workspace
workspace = Workspace(Path({home!r}))
columns = tuple({columns!r})
access = DataAccess(dataset="bench_cards", table="bench_cards", columns=columns,
                    masked=frozenset({pii!r}), basis="grant", grant_id=1)
"""

STEPS = {
    "mulu csv": """
from warehouse.granted import stream
with open({out!r} + ".csv", "wb") as out:
    download = stream(workspace, access, "csv")
    for piece in download:
        out.write(piece)
result = download.rows
""",
    "mulu parquet": """
from warehouse.granted import stream
with open({out!r} + ".parquet", "wb") as out:
    download = stream(workspace, access, "parquet")
    for piece in download:
        out.write(piece)
result = download.rows
""",
    "duckdb csv": """
from warehouse import lake
con = lake.connect_lake(workspace, read_only=True)
con.execute("COPY (SELECT * FROM " + lake.qualified("bench_cards") + ") TO '" + {out!r}
            + ".floor.csv' (HEADER)")
result = con.execute("SELECT count(*) FROM " + lake.qualified("bench_cards")).fetchone()[0]
""",
    "duckdb parquet": """
from warehouse import lake
con = lake.connect_lake(workspace, read_only=True)
con.execute("COPY (SELECT * FROM " + lake.qualified("bench_cards") + ") TO '" + {out!r}
            + ".floor.parquet' (FORMAT parquet)")
result = con.execute("SELECT count(*) FROM " + lake.qualified("bench_cards")).fetchone()[0]
""",
    "granted session": """
from warehouse.analyst import open_granted_session
session = open_granted_session(workspace, [access])
result = session.execute("SELECT count(*) FROM bench_cards").fetchone()[0]
""",
    "full session": """
from warehouse.analyst import open_session
session = open_session(workspace, catalogue=False)
result = session.execute("SELECT count(*) FROM lake.bench_cards").fetchone()[0]
""",
}

AUDIT_SETUP = """
from pathlib import Path
from catalog.sharing.audit import AuditLog
from schemas.principal import Principal
from schemas.roles import Role
from warehouse.store import Store
from warehouse.workspace import Workspace
store = Store.open(Workspace(Path({home!r})))
log = AuditLog(store)
who = Principal(login="bench", org_code="B", roles=frozenset({{Role.ANALYST}}), via="token")
"""
AUDIT_APPEND = """
for i in range({n}):
    log.access(who, channel="rest", dataset="bench_cards", columns=["a", "b"], rows=i,
               grant_id=1, purpose="bench", remote="127.0.0.1")
result = {n}
"""
AUDIT_VERIFY = """
check = log.verify()
assert check.ok, check.problems
result = check.checked
"""


def load(home: Path, scratch: Path, rows: int) -> None:
    """The dataset, loaded once through Mulu's loader (not timed)."""
    import os

    import yaml

    source = scratch / f"cards-{rows}.csv"
    write_source(source, rows)
    spec_path = scratch / "bench_cards.yaml"
    spec = {
        "name": "bench_cards",
        "title": "社保卡申领(基准)",
        "entry_code": "301001/000001",
        "source": {"url": str(source), "settle": 0},
        "load": {"mode": "replace"},
        "columns": [
            {"name": n, "source": s, "type": t, **({"pii": PII[n]} if n in PII else {})}
            for n, s, t in COLUMNS
        ],
    }
    spec_path.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    os.environ["MULU_SOURCE_ROOTS"] = str(scratch)
    from schemas.dataset_spec import load_spec
    from warehouse.load import load_dataset
    from warehouse.workspace import Workspace

    outcome = load_dataset(Workspace(home).ensure(), load_spec(spec_path))
    assert outcome.status == "published", outcome
    source.unlink()


def run(sizes: list[int], runs: int, audit: int) -> tuple[list[dict], dict]:
    scratch = Path(tempfile.mkdtemp(prefix="mulu-sharing-"))
    table = []
    try:
        for rows in sizes:
            home = scratch / f"ws-{rows}"
            load(home, scratch, rows)
            values = {
                "home": str(home),
                "columns": [n for n, _, _ in COLUMNS],
                "pii": sorted(PII),
                "out": str(scratch / "out"),
            }
            row: dict = {"rows": rows}
            for label, step in STEPS.items():
                best = min(
                    (measure(SETUP.format(**values), step.format(**values)) for _ in range(runs)),
                    key=lambda r: r["seconds"],
                )
                assert best["result"] == rows, (label, best)
                row[label] = best
            for leftover in scratch.glob("out*"):
                leftover.unlink()
            table.append(row)
            shutil.rmtree(home, ignore_errors=True)
        home = scratch / "ws-audit"
        from warehouse.workspace import Workspace

        Workspace(home).ensure()
        setup = AUDIT_SETUP.format(home=str(home))
        audit_row = {
            "n": audit,
            "append": measure(setup, AUDIT_APPEND.format(n=audit)),
            "verify": measure(setup, AUDIT_VERIFY),
        }
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return table, audit_row


def markdown(table: list[dict], audit: dict) -> str:
    lines = [
        f"{dt.date.today().isoformat()}, best of the runs (s, peak MiB):",
        "",
        "| rows | mulu csv | duckdb COPY csv | ratio | mulu parquet | duckdb COPY parquet | ratio "
        "| granted session open + count | full session open + count |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]

    def cell(r: dict) -> str:
        return f"{r['seconds']:.2f} s, {r['peak_mib']:.0f} MiB"

    for r in table:
        lines.append(
            f"| {r['rows']:,} | {cell(r['mulu csv'])} | {cell(r['duckdb csv'])} | "
            f"{r['mulu csv']['seconds'] / r['duckdb csv']['seconds']:.2f}x | "
            f"{cell(r['mulu parquet'])} | {cell(r['duckdb parquet'])} | "
            f"{r['mulu parquet']['seconds'] / r['duckdb parquet']['seconds']:.2f}x | "
            f"{cell(r['granted session'])} | {cell(r['full session'])} |"
        )
    n = audit["n"]
    lines += [
        "",
        f"Audit log: {n:,} `access` appends in {audit['append']['seconds']:.2f} s "
        f"({n / audit['append']['seconds']:,.0f}/s, one transaction each); `verify` of "
        f"{n:,} entries in {audit['verify']['seconds']:.2f} s "
        f"({audit['verify']['seconds'] / n * 1e6:.0f} µs an entry).",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--audit", type=int, default=5_000)
    args = parser.parse_args()
    print(markdown(*run(args.rows, args.runs, args.audit)))


if __name__ == "__main__":
    main()
