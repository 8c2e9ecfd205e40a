"""Search benchmark: Mulu's search API against Datasette serving the same catalogue.

Both are real servers on 127.0.0.1, each in its own process, queried over HTTP by one client
with a kept-alive connection (what a portal page or a script does):

- **mulu**: ``mulu serve``, ``GET /api/search?q=…&limit=20`` (20 hits, highlighted, and the
  counts of all seven facets over every match).
- **datasette**: Datasette 0.65.5 with its defaults, the catalogue in SQLite with an FTS5 table
  made the way ``sqlite-utils enable-fts`` makes it (``unicode61``, the tokenizer Datasette's
  docs use), searched with ``GET /catalogue/entries.json?_search=…&_size=20``.
- **datasette trigram**: the same with FTS5's ``trigram`` tokenizer, the setting a user who
  knows SQLite's CJK limits would pick (it needs 3+ characters a term).

Latency: ``LATENCY_QUERIES`` (45 queries: subjects, abbreviations, departments, 信息项, codes,
pinyin initials, broad words, several words) over the demo district (35,700 entries) and a ×10
copy (357,000), each query ``--runs`` times after one warm-up pass; p50/p95/max over all.
Recall@20: the labelled query set ``bench/search_queries.yaml`` over the real Anhui portal
exports (3,455 entries): per query, relevant hits in the top 20 / min(20, relevant).

Goal (issue 6): p95 under 20 ms at 35,700 and under 60 ms at 357,000; recall above Datasette's.
Needs Datasette in its own virtualenv (``make bench`` makes ``.venv-datasette``); ``--datasette``
names its ``datasette`` command. Run: ``python -m bench.search``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import http.client
import json
import os
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bench.district import build

HERE = Path(__file__).resolve().parent
REAL_PORTALS = HERE.parent.parent / "shared" / "data" / "real" / "cn-portals"
LABELS = HERE / "search_queries.yaml"

LATENCY_QUERIES = [
    "人口",
    "户籍人口",
    "常住人口花名册",
    "社保卡",
    "社保卡申领",
    "低保",
    "城乡低保对象名单",
    "医保",
    "营业执照",
    "不动产",
    "养老",
    "养老服务",
    "网格员",
    "残疾人",
    "食品安全",
    "学校",
    "医疗机构",
    "行政处罚",
    "审批结果",
    "企业登记",
    "环境监测",
    "噪声",
    "消防",
    "疫苗接种",
    "退役军人",
    "公租房",
    "民政局",
    "示范区民政局",
    "人社局",
    "身份证号",
    "统一社会信用代码",
    "统计表",
    "月报",
    "数据",
    "信息",
    "sbk",
    "dbdx",
    "hmc",
    "301001/000001",
    "301011",
    "养老 补贴",
    "企业 信用",
    "学校 名单",
    "残疾人的补贴",
    "食品 抽检 结果",
]
ENGINES = ("mulu", "datasette", "datasette trigram")


# --- the catalogue as Datasette users would publish it -------------------------------------
def datasette_databases(metadata_db: Path, folder: Path) -> dict[str, Path]:
    """The active entries in ``catalogue.db`` (FTS5 ``unicode61``) and ``trigram.db`` (FTS5
    ``trigram``), each an ``entries`` table with an external-content FTS table as
    ``sqlite-utils enable-fts entries name summary provider_name tags items`` makes it."""
    source = sqlite3.connect(metadata_db)
    rows = source.execute(
        "SELECT code, name, provider_name, category_name, share_type, update_cycle, "
        "coalesce(summary, ''), coalesce((SELECT group_concat(value, ' ') FROM json_each(tags)), "
        "''), coalesce((SELECT group_concat(json_extract(value, '$.name'), ' ') "
        "FROM json_each(data_items)), '') FROM entries WHERE status = 'active'"
    ).fetchall()
    source.close()
    paths = {}
    for db_name, tokenizer in (("catalogue", "unicode61"), ("trigram", "trigram")):
        path = folder / f"{db_name}.db"
        path.unlink(missing_ok=True)
        con = sqlite3.connect(path)
        con.execute(
            "CREATE TABLE entries (code TEXT PRIMARY KEY, name TEXT, provider_name TEXT, "
            "category_name TEXT, share_type TEXT, update_cycle TEXT, summary TEXT, "
            "tags TEXT, items TEXT)"
        )
        con.executemany("INSERT INTO entries VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        con.execute(
            f"CREATE VIRTUAL TABLE [entries_fts] USING FTS5 ([name], [summary], "
            f"[provider_name], [tags], [items], tokenize='{tokenizer}', "
            f"content=[entries])"
        )
        con.execute(
            "INSERT INTO [entries_fts] (rowid, name, summary, provider_name, tags, "
            "items) SELECT rowid, name, summary, provider_name, tags, items "
            "FROM entries"
        )
        con.commit()
        con.close()
        paths[db_name] = path
    return paths


# --- servers and the client --------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen

    def peak_mib(self) -> float:
        with open(f"/proc/{self.process.pid}/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024


@contextlib.contextmanager
def serving(
    name: str, command: list[str], port: int, ready_path: str, env: dict[str, str] | None = None
) -> Iterator[Server]:
    """Start ``command`` and wait until ``ready_path`` answers 200 on ``port``."""
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
        )
        try:
            deadline = time.monotonic() + 120
            while True:
                if process.poll() is not None:
                    log.seek(0)
                    raise RuntimeError(f"{name} exited: {log.read().decode(errors='replace')}")
                with contextlib.suppress(OSError):
                    client = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                    if get(client, ready_path)[0] == 200:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{name} did not start on port {port}")
                time.sleep(0.2)
            yield Server(name, port, process)
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()


def get(con: http.client.HTTPConnection, path: str) -> tuple[int, Any]:
    con.request("GET", path)
    response = con.getresponse()
    body = response.read()
    return response.status, json.loads(body) if body else None


def search_path(engine: str, query: str, size: int = 20) -> str:
    quoted = urllib.parse.quote(query)
    if engine == "mulu":
        return f"/api/search?q={quoted}&limit={size}"
    database = "catalogue" if engine == "datasette" else "trigram"
    return f"/{database}/entries.json?_search={quoted}&_size={size}&_shape=objects"


def codes_of(engine: str, body: dict[str, Any]) -> list[str]:
    if engine == "mulu":
        return [hit["code"] for hit in body["hits"]]
    return [row["code"] for row in body["rows"]]


def total_of(engine: str, body: dict[str, Any]) -> int:
    return body["total"] if engine == "mulu" else body.get("filtered_table_rows_count") or 0


@contextlib.contextmanager
def both_servers(home: Path, datasette: str, folder: Path) -> Iterator[dict[str, Server]]:
    """mulu serve on ``home`` and Datasette on its two databases, side by side."""
    mulu = str(Path(sys.executable).with_name("mulu"))
    databases = datasette_databases(home / "catalog.sqlite", folder)
    ours, theirs = free_port(), free_port()
    with (
        serving(
            "mulu",
            [mulu, "--home", str(home), "serve", "--port", str(ours)],
            ours,
            "/api/search?q=&limit=1",
        ) as mulu_server,
        serving(
            "datasette",
            [
                datasette,
                "serve",
                str(databases["catalogue"]),
                str(databases["trigram"]),
                "--port",
                str(theirs),
            ],
            theirs,
            "/catalogue/entries.json?_size=1",
        ) as datasette_server,
    ):
        yield {
            "mulu": mulu_server,
            "datasette": datasette_server,
            "datasette trigram": datasette_server,
        }


# --- measurements ------------------------------------------------------------------------
def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def latency(servers: dict[str, Server], queries: list[str], runs: int) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for engine in servers:
        con = http.client.HTTPConnection("127.0.0.1", servers[engine].port, timeout=120)
        times: list[float] = []
        per_query: dict[str, list[float]] = {}
        totals: dict[str, int] = {}
        for run in range(runs + 1):
            for query in queries:
                path = search_path(engine, query)
                started = time.perf_counter()
                status, body = get(con, path)
                elapsed = (time.perf_counter() - started) * 1000
                if status != 200:
                    raise RuntimeError(f"{engine} {query!r}: HTTP {status} {body}")
                if run:  # the first pass warms caches and is not counted
                    times.append(elapsed)
                    per_query.setdefault(query, []).append(elapsed)
                totals[query] = total_of(engine, body)
        con.close()
        slowest = sorted(per_query, key=lambda q: -statistics.median(per_query[q]))[:3]
        result[engine] = {
            "p50_ms": percentile(times, 0.5),
            "p95_ms": percentile(times, 0.95),
            "max_ms": max(times),
            "found": sum(1 for q in queries if totals[q]),
            "slowest": [(q, statistics.median(per_query[q]), totals[q]) for q in slowest],
        }
    seen = set()
    for engine, server in servers.items():  # one figure per server process
        if server.process.pid not in seen:
            seen.add(server.process.pid)
            result[engine]["peak_mib"] = server.peak_mib()
    return result


def labelled_queries() -> list[dict[str, Any]]:
    return yaml.safe_load(LABELS.read_text(encoding="utf-8"))["queries"]


def relevant(con: sqlite3.Connection, groups: list[list[str]]) -> set[str]:
    """Active entries whose name has, for every group, one of its strings."""
    return {
        code
        for code, name in con.execute("SELECT code, name FROM entries WHERE status = 'active'")
        if all(any(s in name for s in group) for group in groups)
    }


def recall(home: Path, servers: dict[str, Server]) -> dict[str, Any]:
    con = sqlite3.connect(home / "catalog.sqlite")
    rows, sums = [], dict.fromkeys(ENGINES, 0.0)
    clients = {
        e: http.client.HTTPConnection("127.0.0.1", servers[e].port, timeout=60) for e in ENGINES
    }
    for item in labelled_queries():
        truth = relevant(con, item["relevant"])
        if not truth:
            raise RuntimeError(f"label of {item['q']!r} matches no entry")
        row = {"query": item["q"], "relevant": len(truth)}
        for engine in ENGINES:
            status, body = get(clients[engine], search_path(engine, item["q"]))
            if status != 200:
                raise RuntimeError(f"{engine} {item['q']!r}: HTTP {status}")
            top = codes_of(engine, body)[:20]
            row[engine] = len(truth & set(top)) / min(20, len(truth))
            sums[engine] += row[engine]
        rows.append(row)
    con.close()
    return {
        "queries": rows,
        "mean": {e: sums[e] / len(rows) for e in ENGINES},
        "relevant": sum(r["relevant"] for r in rows),
    }


def build_real(home: Path) -> int:
    from catalog.directory import Directory
    from catalog.importing.importer import import_file
    from warehouse.workspace import Workspace

    workspace = Workspace(home).ensure()
    directory = Directory.open(workspace, user="bench")
    try:
        for path in sorted(REAL_PORTALS.glob("*.json")):
            import_file(directory, workspace, path)
    finally:
        directory.close()
    with contextlib.closing(sqlite3.connect(workspace.metadata_db)) as con:
        return con.execute("SELECT count(*) FROM entries").fetchone()[0]


def index(home: Path) -> dict[str, float]:
    """Build the search index before serving (timed: what ``mulu search --rebuild`` costs)."""
    from catalog.search import rebuild_index
    from warehouse.store import Store
    from warehouse.workspace import Workspace

    with Store.open(Workspace(home)) as store:
        started = time.perf_counter()
        stats = rebuild_index(store)
        seconds = time.perf_counter() - started
    with contextlib.closing(sqlite3.connect(home / "catalog.sqlite")) as con:
        size = con.execute("SELECT sum(pgsize) FROM dbstat WHERE name LIKE 'search%'").fetchone()[0]
    return {"entries": stats.indexed, "build_s": seconds, "index_mb": size / 1e6}


# --- the report --------------------------------------------------------------------------
def markdown(sizes: list[dict[str, Any]], recalled: dict[str, Any] | None) -> str:
    lines = [
        f"{dt.date.today().isoformat()}, {len(LATENCY_QUERIES)} queries, HTTP on "
        f"127.0.0.1, one kept-alive client:",
        "",
        "| entries | engine | p50 ms | p95 ms | max ms | queries with hits | "
        "server peak MiB | slowest (median ms, matches) |",
        "|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    for size in sizes:
        for engine in ENGINES:
            r = size["latency"][engine]
            slow = "; ".join(f"{q} {ms:.0f} ({n:,})" for q, ms, n in r["slowest"])
            peak = f"{r['peak_mib']:.0f}" if "peak_mib" in r else "(same)"
            lines.append(
                f"| {size['entries']:,} | {engine} | {r['p50_ms']:.1f} | "
                f"{r['p95_ms']:.1f} | {r['max_ms']:.1f} | {r['found']} | {peak} | "
                f"{slow} |"
            )
    lines += [
        "",
        "| entries | mulu index build s | index MB | p95 mulu / datasette |",
        "|---:|---:|---:|---:|",
    ]
    for size in sizes:
        ours, theirs = size["latency"]["mulu"], size["latency"]["datasette"]
        lines.append(
            f"| {size['entries']:,} | {size['index']['build_s']:.1f} | "
            f"{size['index']['index_mb']:.0f} | "
            f"{ours['p95_ms'] / theirs['p95_ms']:.2f}x |"
        )
    if recalled:
        mean = recalled["mean"]
        lines += [
            "",
            f"Recall@20 over {len(recalled['queries'])} labelled queries "
            f"({recalled['relevant']:,} relevant entries) on the real portals "
            f"({recalled['entries']:,} entries):",
            "",
            "| engine | mean recall@20 |",
            "|---|---:|",
        ]
        lines += [f"| {e} | {mean[e]:.1%} |" for e in ENGINES]
        lines += [
            "",
            "<details><summary>per query</summary>",
            "",
            "| query | relevant | " + " | ".join(ENGINES) + " |",
            "|---|---:|" + "---:|" * len(ENGINES),
        ]
        for row in recalled["queries"]:
            lines.append(
                f"| {row['query']} | {row['relevant']} | "
                + " | ".join(f"{row[e]:.0%}" for e in ENGINES)
                + " |"
            )
        lines += ["", "</details>"]
    return "\n".join(lines)


def default_datasette() -> str:
    local = HERE.parent / ".venv-datasette" / "bin" / "datasette"
    return str(local) if local.exists() else (shutil.which("datasette") or str(local))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--copies",
        type=int,
        nargs="*",
        default=[1, 10],
        help="the demo district ×N (1: 35,700 entries, 10: 357,000)",
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-recall", action="store_true")
    parser.add_argument(
        "--datasette",
        default=default_datasette(),
        help="the datasette command (default: .venv-datasette/bin/datasette)",
    )
    parser.add_argument("--json", action="store_true", help="print raw figures as JSON too")
    args = parser.parse_args()
    if not Path(args.datasette).exists():
        parser.error(
            f"no datasette at {args.datasette}: run `make bench` (it installs "
            f"Datasette in .venv-datasette) or pass --datasette"
        )
    scratch = Path(tempfile.mkdtemp(prefix="mulu-bench-search-"))
    sizes, recalled = [], None
    try:
        if not args.no_recall:
            home = scratch / "real"
            entries = build_real(home)
            index(home)
            with both_servers(home, args.datasette, scratch) as servers:
                recalled = {**recall(home, servers), "entries": entries}
        for copies in args.copies:
            home = scratch / f"x{copies}"
            build(home, copies, events=False)
            built = index(home)
            with both_servers(home, args.datasette, scratch) as servers:
                sizes.append(
                    {
                        "entries": built["entries"],
                        "index": built,
                        "latency": latency(servers, LATENCY_QUERIES, args.runs),
                    }
                )
            shutil.rmtree(home, ignore_errors=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if args.json:
        print(json.dumps({"sizes": sizes, "recall": recalled}, ensure_ascii=False, indent=1))
    print(markdown(sizes, recalled))


if __name__ == "__main__":
    main()
