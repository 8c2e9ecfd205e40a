"""A province: the demo district ×k (k = 1, 10, 100) on SQLite and on PostgreSQL, side by side.

×100 is 3,570,000 entries, 34,300 organisations and ~23.6M update events. For each scale and
store (``bench.province_build``: the district built once by ``bench.district``, multiplied by
SQL inside each database; PostgreSQL in a fresh database created and dropped by the bench;
the store is chosen as Mulu chooses it, by ``MULU_DATABASE_URL``):

- **import**: ``catalog.importing.import_file`` of Mulu's CSV export of k×35,700 entries
  (``bench.catalog.write_catalogue_csv``) into a fresh, empty store, in a fresh process: entries/s
  and peak MiB (goal at ×100: ≥ 20,000 entries/s into PostgreSQL). ``--import-entries N`` caps
  the size (a slow import at ×10 and ×100 would take most of the run).
- **search index**: ``catalog.search.rebuild_index`` over the province, fresh process.
- **sweep**: the freshness sweep of now and of a past day (from the update events), as
  ``bench.freshness`` runs them: best of ``--runs`` fresh processes (goal: < 10 s at ×100).
- **search** over HTTP against ``mulu serve``: the 45 queries of ``bench.search.LATENCY_QUERIES``
  (one kept-alive client, a warm-up pass, then ``--runs`` passes; goal: p95 < 100 ms).
- **first search**: seconds from the server answering /healthz to its first search answered
  (the search warm-up: facet columns loaded into memory).
- **entry page**: ``GET /entry/<code>`` for 100 open entries drawn across the copies, as an
  anonymous visitor (warm-up pass, then ``--runs`` passes; goal: p95 < 50 ms).

Each figure is reported per scale and how it grows ×1 → ×10 → ×100; a scale not run is
extrapolated from the growth of the two before it (marked ~). Run:
``python -m bench.province --scale 1,10 --stores sqlite,postgresql [--skip-http]
[--json FILE]``. Prints a Markdown table for BENCHMARKS.md. Data lives under a temporary
folder (``--scratch``, default under /tmp), removed at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import http.client
import json
import platform
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.parse
from pathlib import Path
from typing import Any

from bench.catalog import MULU_SETUP, MULU_STEP, write_catalogue_csv
from bench.freshness import PAST, SWEEP
from bench.measure import measure
from bench.province_build import (
    ADMIN_URL,
    database_url,
    fresh_postgres,
    postgres_province,
    sqlite_province,
    template,
    timed,
)
from bench.search import LATENCY_QUERIES, free_port, latency, percentile, serving

DISTRICT = 35_700
STORES = ("sqlite", "postgresql")
ENTRY_SAMPLE = 100

INDEX_STEP = (
    """
from pathlib import Path
from catalog.search import rebuild_index
from warehouse.store import Store
from warehouse.workspace import Workspace
store = Store.open(Workspace(Path({home!r})))
""",
    """
result = rebuild_index(store).indexed
""",
)


# --- steps -------------------------------------------------------------------------------
def import_rate(csv: Path, size: int, store: str, scratch: Path) -> dict[str, Any]:
    """Import ``csv`` into a fresh, empty store: seconds, entries/s, peak MiB."""
    home = Path(tempfile.mkdtemp(dir=scratch, prefix="import-"))
    try:
        with contextlib.ExitStack() as stack:
            url = stack.enter_context(fresh_postgres("import")) if store == "postgresql" else None
            stack.enter_context(database_url(url))
            done = measure(
                MULU_SETUP.format(home=str(home), code=""), MULU_STEP.format(csv=str(csv))
            )
        if done["result"] != size:
            raise RuntimeError(f"imported {done['result']} of {size}")
        return {**done, "entries": size, "entries_per_s": size / done["seconds"]}
    finally:
        shutil.rmtree(home, ignore_errors=True)


def sweeps(home: Path, entries: int, runs: int) -> dict[str, Any]:
    steps = {
        "sweep": (SWEEP[0], SWEEP[1].replace("{args}", "")),
        "sweep_past": (
            SWEEP[0],
            SWEEP[1].replace("{args}", f", dt.datetime.fromisoformat({PAST!r}), from_events=True"),
        ),
    }
    found = {}
    for label, (setup, step) in steps.items():
        results = [measure(setup.format(home=str(home)), step) for _ in range(runs)]
        best = min(results, key=lambda r: r["seconds"])
        if best["result"] != entries:
            raise RuntimeError(f"{label} swept {best['result']} of {entries}")
        found[label] = {**best, "runs": [round(r["seconds"], 3) for r in results]}
    return found


def open_sample(district: Path, copies: int, size: int = ENTRY_SAMPLE) -> list[str]:
    """``size`` entries an anonymous visitor may see, drawn across the ``copies`` copies of the
    district (their codes as ``bench.province_build`` gives them: the same in both stores)."""
    from bench.province_build import copy_code
    from catalog.policies import OPEN_METADATA

    marks = ",".join("?" * len(OPEN_METADATA))
    with contextlib.closing(sqlite3.connect(district / "catalog.sqlite")) as con:
        codes = [
            c
            for (c,) in con.execute(
                f"SELECT code FROM entries WHERE status = 'active' AND open_type IN ({marks}) "
                f"ORDER BY code",
                sorted(OPEN_METADATA),
            )
        ]
    rng = random.Random(14)
    return [copy_code(code, rng.randrange(copies)) for code in rng.sample(codes, size)]


def entry_pages(port: int, codes: list[str], runs: int) -> dict[str, Any]:
    con = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    times: list[float] = []
    for run in range(runs + 1):
        for code in codes:
            started = time.perf_counter()
            con.request("GET", "/entry/" + urllib.parse.quote(code))
            response = con.getresponse()
            body = response.read()
            elapsed = (time.perf_counter() - started) * 1000
            if response.status != 200 or code.encode() not in body:
                raise RuntimeError(f"/entry/{code}: HTTP {response.status} {body[:300]!r}")
            if run:
                times.append(elapsed)
    con.close()
    return {
        "p50_ms": percentile(times, 0.5),
        "p95_ms": percentile(times, 0.95),
        "max_ms": max(times),
        "requests": len(times),
    }


def http_figures(home: Path, codes: list[str], runs: int) -> dict[str, Any]:
    """``mulu serve`` on the province (the store from MULU_DATABASE_URL, already set)."""
    mulu = str(Path(sys.executable).with_name("mulu"))
    port = free_port()
    with serving(
        "mulu", [mulu, "--home", str(home), "serve", "--port", str(port)], port, "/healthz"
    ) as server:
        # The server warms its search up after it answers /healthz (the facet columns loaded
        # into memory): the first search waits for that. Timed here, not in the p95.
        started = time.perf_counter()
        warm = http.client.HTTPConnection("127.0.0.1", port, timeout=3600)
        warm.request("GET", "/api/search?q=&limit=1")
        status = warm.getresponse()
        status.read()
        warm.close()
        found: dict[str, Any] = {"first_search_s": time.perf_counter() - started}
        if status.status != 200:
            raise RuntimeError(f"first search: HTTP {status.status}")
        for name, measured in (
            ("search", lambda: latency({"mulu": server}, LATENCY_QUERIES, runs)["mulu"]),
            ("entry", lambda: entry_pages(port, codes, runs)),
        ):
            try:  # one failing does not lose the other's figures
                found[name] = measured()
            except Exception as error:
                traceback.print_exc(file=sys.stderr)
                found[name] = {"error": str(error).strip().splitlines()[-1][:300]}
        return {**found, "server_peak_mib": server.peak_mib()}


# --- one scale on one store ----------------------------------------------------------------
def run_one(
    k: int,
    store: str,
    district: Path,
    scratch: Path,
    args: argparse.Namespace,
    figures: dict[str, Any],
    save: Any,
) -> None:
    home = scratch / f"x{k}-{store}"
    started = time.perf_counter()

    def step(name: str, fn: Any, *a: Any) -> Any:
        print(f"[x{k} {store}] {name} …", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        try:
            value = fn(*a)
        except Exception as error:  # a store not ready yet: record it, go on
            traceback.print_exc(file=sys.stderr)
            reason = str(error).strip().splitlines()
            figures[name] = {"error": reason[-1][:300] if reason else type(error).__name__}
            value = None
        else:
            figures[name] = value
        print(
            f"[x{k} {store}] {name}: {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True
        )
        save()
        return value

    with contextlib.ExitStack() as stack:
        url = None
        if store == "postgresql":
            url = stack.enter_context(fresh_postgres(f"x{k}"))
            home.mkdir(parents=True, exist_ok=True)
            shutil.copytree(district, home, dirs_exist_ok=True, ignore=_no_catalogue)

        def build() -> dict[str, Any]:
            if store == "sqlite":
                built, seconds = timed(sqlite_province, district, home, k)
            else:
                built, seconds = timed(postgres_province, district, url, k)
            return {**built, "seconds": seconds}

        wanted = set(args.steps.split(","))
        built = step("build", build) if wanted & {"index", "sweeps", "http"} else None
        stack.enter_context(database_url(url))
        if built:
            step("index", lambda: measure(*(s.format(home=str(home)) for s in INDEX_STEP)))
            if "sweeps" in wanted:
                step("sweeps", sweeps, home, built["entries"], args.runs)
            if "http" in wanted and not args.skip_http:
                step("http", http_figures, home, open_sample(district, k), args.http_runs)
    if "import" in wanted and not args.skip_import:
        size = min(k * DISTRICT, args.import_entries or k * DISTRICT)
        csv = scratch / f"catalogue-{size}.csv"
        if not csv.exists():
            write_catalogue_csv(csv, size)
        step("import", import_rate, csv, size, store, scratch)
    figures["wall_s"] = time.perf_counter() - started
    save()


def _no_catalogue(folder: str, names: list[str]) -> list[str]:
    return [n for n in names if n.startswith("catalog.sqlite")]


# --- the report ----------------------------------------------------------------------------
def _get(figures: dict[str, Any], *path: str) -> float | None:
    value: Any = figures
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return float(value) if isinstance(value, int | float) else None


ROWS = [
    # (label, path, format, goal at ×100, extrapolated by copies made (k - 1) rather than by
    # the growth of the two scales before)
    ("province build s", ("build", "seconds"), "{:.1f}", "", True),
    ("import entries/s", ("import", "entries_per_s"), "{:,.0f}", "≥ 20,000 (PostgreSQL)", False),
    ("import peak MiB", ("import", "peak_mib"), "{:.0f}", "", False),
    ("search index build s", ("index", "seconds"), "{:.1f}", "", False),
    ("freshness sweep s", ("sweeps", "sweep", "seconds"), "{:.2f}", "< 10", False),
    ("sweep of a past day s", ("sweeps", "sweep_past", "seconds"), "{:.2f}", "", False),
    ("sweep peak MiB", ("sweeps", "sweep", "peak_mib"), "{:.0f}", "", False),
    ("search p50 ms", ("http", "search", "p50_ms"), "{:.1f}", "", False),
    ("search p95 ms", ("http", "search", "p95_ms"), "{:.1f}", "< 100", False),
    ("entry page p50 ms", ("http", "entry", "p50_ms"), "{:.1f}", "", False),
    ("entry page p95 ms", ("http", "entry", "p95_ms"), "{:.1f}", "< 50", False),
    ("first search after start s", ("http", "first_search_s"), "{:.1f}", "", False),
    ("server peak MiB", ("http", "server_peak_mib"), "{:.0f}", "", False),
    ("bench wall time s", ("wall_s",), "{:.0f}", "", False),
]


def _error(figures: dict[str, Any], path: tuple[str, ...]) -> str | None:
    node: Any = figures
    for key in path[:-1]:
        node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict) and "error" in node:
            return str(node["error"])
    return None


def markdown(results: dict[str, Any], scales: list[int], stores: list[str]) -> str:
    shown = sorted(set(scales) | {1, 10, 100})
    lines = [
        "| figure | store | "
        + " | ".join(f"×{k}" for k in shown)
        + " | "
        + " | ".join(f"×{a}→×{b}" for a, b in zip(shown, shown[1:], strict=False))
        + " | goal at ×100 |",
        "|---|---|" + "---:|" * (2 * len(shown) - 1) + "---|",
    ]
    errors: list[str] = []
    for label, path, fmt, goal, by_copies in ROWS:
        for store in stores:
            values: dict[int, float | None] = {
                k: _get(results.get(str(k), {}).get(store, {}), *path) for k in shown
            }
            cells, estimated = [], dict(values)
            for i, k in enumerate(shown):
                value = values[k]
                if value is None and i >= 2:  # extrapolate from the growth of the two before
                    a, b = estimated[shown[i - 2]], estimated[shown[i - 1]]
                    if a and b:
                        before = shown[i - 1]
                        estimated[k] = (
                            b * (k - 1) / (before - 1) if by_copies and before > 1 else b * (b / a)
                        )
                        cells.append("~" + fmt.format(estimated[k]))
                        continue
                if value is None:
                    fail = _error(results.get(str(k), {}).get(store, {}), path)
                    if fail and k in scales:
                        errors.append(f"×{k} {store} {'/'.join(path[:-1])}: {fail}")
                        cells.append("failed")
                    else:
                        cells.append("–")
                    continue
                cells.append(fmt.format(value))
            growth = []
            for a, b in zip(shown, shown[1:], strict=False):
                x, y = estimated[a], estimated[b]
                growth.append(f"{y / x:.1f}x" if x and y else "–")
            lines.append(
                f"| {label} | {store} | {' | '.join(cells)} | {' | '.join(growth)} | {goal} |"
            )
    out = "\n".join(lines)
    if errors:
        out += "\n\nFailed steps:\n" + "\n".join(f"- {e}" for e in sorted(set(errors)))
    return out


def machine() -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    mem = next(
        int(line.split()[1]) // 2**20
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    found: dict[str, Any] = {
        "cpu": cpu,
        "cores": len(
            [x for x in Path("/proc/cpuinfo").read_text().splitlines() if x.startswith("processor")]
        ),
        "memory_gib": mem,
        "python": platform.python_version(),
        "date": dt.date.today().isoformat(),
    }
    with contextlib.suppress(Exception):
        import psycopg

        with psycopg.connect(ADMIN_URL) as con:
            found["postgresql"] = con.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
            found["shared_buffers"] = con.execute("SHOW shared_buffers").fetchone()[0]  # type: ignore[index]
    with contextlib.suppress(Exception):
        found["commit"] = subprocess.run(
            ["git", "-C", str(Path(__file__).parent), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="1,10", help="district copies, e.g. 1,10,100")
    parser.add_argument("--stores", default="sqlite,postgresql")
    parser.add_argument("--skip-http", action="store_true", help="no mulu serve figures")
    parser.add_argument("--skip-import", action="store_true", help="no import figures")
    parser.add_argument(
        "--steps",
        default="index,sweeps,http,import",
        help="which figures (the province is built, and indexed, when any but import is asked)",
    )
    parser.add_argument(
        "--import-entries",
        type=int,
        help="import at most this many entries (default: the whole k×35,700)",
    )
    parser.add_argument("--runs", type=int, default=3, help="sweep runs (best is kept)")
    parser.add_argument("--http-runs", type=int, default=5, help="passes over queries/pages")
    parser.add_argument("--json", type=Path, help="write every figure to this file too")
    parser.add_argument("--scratch", type=Path, help="keep data here (default: a /tmp folder)")
    args = parser.parse_args()
    scales = [int(s) for s in args.scale.split(",") if s]
    stores = [s for s in args.stores.split(",") if s]
    unknown = set(stores) - set(STORES)
    if unknown:
        parser.error(f"unknown store(s): {', '.join(sorted(unknown))}")
    scratch = args.scratch or Path(tempfile.mkdtemp(prefix="mulu-province-"))
    scratch.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"machine": machine()}

    def save() -> None:
        if args.json:
            args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1))

    try:
        district = template(scratch / "district")
        for k in scales:
            for store in stores:
                figures = results.setdefault(str(k), {}).setdefault(store, {})
                run_one(k, store, district, scratch, args, figures, save)
            for leftover in scratch.glob(f"x{k}-*"):
                shutil.rmtree(leftover, ignore_errors=True)
            for leftover in scratch.glob("catalogue-*.csv"):
                leftover.unlink()
    finally:
        if not args.scratch:
            shutil.rmtree(scratch, ignore_errors=True)
        save()
    m = results["machine"]
    print(
        f"{m['date']}, {m['cpu']} ({m['cores']} cores, {m['memory_gib']} GiB), Python "
        f"{m['python']}, PostgreSQL {m.get('postgresql', '?')} (shared_buffers "
        f"{m.get('shared_buffers', '?')}), commit {m.get('commit', '?')}; ~ extrapolated:\n"
    )
    print(markdown(results, scales, stores))


if __name__ == "__main__":
    main()
