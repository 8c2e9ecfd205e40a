"""Soak: a real ``mulu serve`` under HTTP readers and writers beside CLI processes.

    python -m bench.soak                     # 120 s on a copy of the Lu'an portal's catalogue
    python -m bench.soak --seconds 600 --home /tmp/soak --json

Phases: first readers only (the idle latency), then readers beside HTTP writers (update
reports through ``POST /api/entries/{code}/updates``), ``mulu freshness report`` processes one
after another, ``mulu run`` loads of a department dataset (each version a new file; every second
one carries a wrong 身份证号 check digit, so the quality gate blocks it and a steward accepts it
with ``mulu quality review``), and one ``mulu catalog import`` of a small real export in the
middle. Every
request and every process is counted: a 5xx, a refused connection or a failed process is an
error. Afterwards every acknowledged write (201 from the API, exit 0 from the CLI) must be in
the catalogue, every acknowledged publish (exit 0 from ``mulu run`` or from an accepting review)
must be a published load registered with its entry, the live table must hold exactly the last
acknowledged version, the import's entries must be found by the server's search (indexed by its
refresher thread, not by a request), and ``PRAGMA integrity_check`` must say ok.

All traffic goes to 127.0.0.1, to the server this script starts; loops are bounded in time.
``tests/mulu/test_soak.py`` runs it for ~20 s; BENCHMARKS.md has a longer run's figures.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real" / "cn-portals"
BASE_EXPORT = REAL / "anhui_luan.json"  # 548 entries: the catalogue served
IMPORTED_EXPORT = REAL / "anhui_huainan.json"  # imported by the CLI during the writes
READS = (
    "/api/search?q=" + urllib.parse.quote("社保"),
    "/api/search?q=" + urllib.parse.quote("企业 信息") + "&facet=" + urllib.parse.quote("格式=xls"),
    "/api/entries?limit=20",
    "/api/3/action/package_search?q=" + urllib.parse.quote("医疗") + "&rows=10",
    "/?q=" + urllib.parse.quote("公交"),
    "/api/freshness?limit=10",
    "/api/stats",
)


@dataclass
class Figures:
    seconds: float
    requests: int = 0
    reads: int = 0
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    api_writes_acknowledged: int = 0
    cli_writes_acknowledged: int = 0
    writes_present: int = 0
    writes_missing: int = 0
    loads_published: int = 0  # acknowledged: `mulu run` exit 0 or an accepting review
    loads_blocked: int = 0
    loads_registered: int = 0  # of the published ones: registered with the entry by load id
    live_table_matches: bool = False
    import_exit: int | None = None
    imported_found_by_search: bool = False
    integrity: str = ""
    p50_idle_ms: float = 0.0
    p95_idle_ms: float = 0.0
    p50_under_writes_ms: float = 0.0
    p95_under_writes_ms: float = 0.0
    server_peak_mib: float = 0.0

    @property
    def ok(self) -> bool:
        return (
            self.errors == 0
            and self.writes_missing == 0
            and self.import_exit == 0
            and self.loads_registered == self.loads_published > 0
            and self.live_table_matches
            and self.imported_found_by_search
            and self.integrity == "ok"
        )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _mulu() -> str:
    return str(Path(sys.executable).with_name("mulu"))


@contextmanager
def serving(
    home: Path,
    *,
    workers: int = 1,
    threads: int | None = None,
    log: Path | None = None,
    env: dict[str, str] | None = None,
) -> Iterator[tuple[str, int]]:
    """``mulu serve`` on 127.0.0.1 for ``home``: (base URL, server pid). ``workers`` server
    processes (the pid is their supervisor's), ``threads`` each; ``log``: its JSON log lines
    go to this file (else stderr is dropped)."""
    port = free_port()
    env = {**(env or os.environ), "MULU_HOME": str(home)}
    command = [_mulu(), "serve", "--port", str(port)]
    if workers > 1:
        command += ["--workers", str(workers)]
    if threads:
        command += ["--threads", str(threads)]
    if log is not None:
        command += ["--log-format", "json"]
    stderr = log.open("ab") if log is not None else subprocess.DEVNULL
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(base + "/api/openapi.json", timeout=2).read()
                break
            except (urllib.error.URLError, ConnectionError):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("mulu serve did not start") from None
                time.sleep(0.1)
        yield base, process.pid
    finally:
        stop_process(process)
        if log is not None:
            stderr.close()  # type: ignore[union-attr]


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after 30 s, a process this script started."""
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def peak_mib(pid: int) -> float:
    """VmHWM: the process's own peak resident memory."""
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024


def request(
    url: str, body: dict[str, str] | None = None, token: str | None = None
) -> tuple[int, float]:
    """(status, seconds); status 0: no answer."""
    status, took, _ = call(url, body, token)
    return status, took


def call(
    url: str, body: object | None = None, token: str | None = None
) -> tuple[int, float, bytes]:
    """(status, seconds, the answer's body); a POST of ``body`` as JSON when given; status 0:
    no answer."""
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"} if data else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=data, headers=headers)
    started = time.perf_counter()
    answer = b""
    try:
        with urllib.request.urlopen(req, timeout=60) as response:
            answer = response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        answer = exc.read()
        status = exc.code
    except (urllib.error.URLError, TimeoutError, ConnectionError):
        status = 0
    return status, time.perf_counter() - started, answer


def percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def prepare(home: Path) -> list[str]:
    """A workspace with the base export imported; the codes the writers report on."""
    subprocess.run(
        [_mulu(), "--home", str(home), "catalog", "import", str(BASE_EXPORT)],
        check=True,
        capture_output=True,
    )
    from catalog.directory import Directory
    from warehouse.workspace import Workspace

    directory = Directory.open(Workspace(home), user="soak")
    try:
        codes = [e["code"] for e in directory.store.entries.page(limit=40).entries]
    finally:
        directory.close()
    write_spec(home, DATASET, codes[0])
    # Issue 13: writes need an identity. One admin acts for the HTTP writers (Bearer) and the
    # CLI processes (MULU_TOKEN); its token is kept beside the workspace for later runs.
    from catalog.sharing.users import UserAccounts

    directory = Directory.open(Workspace(home), user="soak")
    try:
        org = directory.get(codes[0])["provider_code"]
        accounts = UserAccounts(directory.store)
        accounts.add("soak", org=org, name="浸泡测试", actor="soak", roles=["admin"])
        token = accounts.issue_token("soak", name="soak", actor="soak").secret
    finally:
        directory.close()
    (home / "soak-token").write_text(token, encoding="utf-8")
    return codes


DATASET = "soak_roster"


def write_spec(home: Path, name: str, code: str) -> None:
    """The spec of roster dataset ``name``, registered with entry ``code``."""
    spec = home / "datasets" / "soak" / f"{name}.yaml"
    spec.parent.mkdir(parents=True, exist_ok=True)
    spec.write_text(SPEC.format(name=name, code=code), encoding="utf-8")


SPEC = """name: {name}
title: 浸泡测试名册
entry_code: "{code}"
source:
  url: sources/{name}.csv
columns:
  - {{name: person_name, source: 姓名}}
  - {{name: amount, source: 金额, type: integer}}
  - {{name: id_card_no, source: 身份证号, format: 身份证号}}
primary_key: [person_name]
"""


def roster_version(version: int, *, blocked: bool) -> list[tuple[str, int, str]]:
    """Rows of one delivered version: 50 people; a blocked one has a wrong check digit."""
    import datetime as dt

    from schemas.identity import make_id_card

    rows = []
    for i in range(50):
        card = make_id_card("320303", dt.date(1980, 1, 1) + dt.timedelta(days=i), i % 10)
        if blocked and i == 7:
            card = card[:17] + ("0" if card[17] != "0" else "1")
        rows.append((f"v{version}-{i:02d}", 500 + version, card))
    return rows


def write_roster(home: Path, rows: list[tuple[str, int, str]], dataset: str = DATASET) -> None:
    """Deliver a version the way a department would: written aside, then moved in at once."""
    target = home / "sources" / f"{dataset}.csv"
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_suffix(".part")
    part.write_text(
        "姓名,金额,身份证号\n" + "".join(f"{n},{a},{c}\n" for n, a, c in rows), encoding="utf-8"
    )
    part.replace(target)


def soak(home: Path, seconds: float, *, readers: int = 3, writers: int = 2) -> Figures:
    """Run the soak on an prepared workspace ``home`` (``prepare``) for about ``seconds``."""
    codes = prepare(home) if not (home / "catalog.sqlite").exists() else _codes(home)
    figures = Figures(seconds=seconds)
    lock = threading.Lock()
    idle: list[float] = []
    loaded: list[float] = []
    acknowledged: set[str] = set()
    writing = threading.Event()
    stop = threading.Event()
    # Sources written here are complete when moved in: no settle time needed.
    token = (home / "soak-token").read_text(encoding="utf-8").strip()
    env = {**os.environ, "MULU_HOME": str(home), "MULU_TOKEN": token, "MULU_SOURCE_SETTLE": "0"}
    last_acknowledged: list[list[tuple[str, int, str]]] = []

    def count(status: int, what: str) -> None:
        with lock:
            figures.requests += 1
            if status == 0 or status >= 500:
                figures.errors += 1
                if len(figures.error_samples) < 10:
                    figures.error_samples.append(f"{status} {what}")

    with serving(home) as (base, pid):
        # Wait for the first build of the index (a search waits for it).
        request(base + READS[0])

        def reader(n: int) -> None:
            i = n
            while not stop.is_set():
                path = READS[i % len(READS)]
                status, took = request(base + path)
                count(status, path)
                if status != 200 and status < 500 and status != 0:
                    with lock:
                        figures.errors += 1
                        figures.error_samples.append(f"{status} {path}")
                with lock:
                    figures.reads += 1
                    (loaded if writing.is_set() else idle).append(took)
                i += 1

        def api_writer(n: int) -> None:
            i = 0
            writing.wait()
            while not stop.is_set():
                note = f"soak-api-{n}-{i}"
                code = codes[(n * 7 + i) % len(codes)]
                path = f"/api/entries/{urllib.parse.quote(code, safe='')}/updates"
                status, _ = request(base + path, {"note": note}, token)
                count(status, "POST " + path)
                if status == 201:
                    with lock:
                        acknowledged.add(note)
                        figures.api_writes_acknowledged += 1
                i += 1

        def cli_reports() -> None:
            i = 0
            writing.wait()
            while not stop.is_set():
                note = f"soak-cli-{i}"
                done = subprocess.run(
                    [_mulu(), "freshness", "report", codes[i % len(codes)], "--note", note],
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=120,
                )
                if done.returncode == 0:
                    with lock:
                        acknowledged.add(note)
                        figures.cli_writes_acknowledged += 1
                else:
                    with lock:
                        figures.errors += 1
                        figures.error_samples.append(f"cli report: {done.stdout[-200:]}")
                i += 1

        def cli_import() -> None:
            writing.wait()
            stop.wait(seconds * 0.2)
            done = subprocess.run(
                [_mulu(), "catalog", "import", str(IMPORTED_EXPORT)],
                env=env,
                capture_output=True,
                text=True,
                timeout=600,
            )
            figures.import_exit = done.returncode
            if done.returncode:
                with lock:
                    figures.error_samples.append(f"cli import: {done.stdout[-300:]}")

        def cli_loads() -> None:
            version = 0
            writing.wait()
            while not stop.is_set():
                version += 1
                blocked = version % 2 == 0
                rows = roster_version(version, blocked=blocked)
                write_roster(home, rows)
                done = subprocess.run(
                    [_mulu(), "run", "--select", DATASET],
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=600,
                )
                if done.returncode == 0:
                    with lock:
                        figures.loads_published += 1
                        last_acknowledged[:] = [rows]
                    continue
                if done.returncode != 7:  # 7: blocked and held for a steward
                    with lock:
                        figures.errors += 1
                        figures.error_samples.append(f"cli run: {done.stdout[-300:]}")
                    continue
                with lock:
                    figures.loads_blocked += 1
                if _accept_pending(env) == 0:
                    with lock:
                        figures.loads_published += 1
                        last_acknowledged[:] = [rows]
                else:
                    with lock:
                        figures.errors += 1
                        figures.error_samples.append("cli review: accept failed")

        threads = [threading.Thread(target=reader, args=(n,)) for n in range(readers)]
        threads += [threading.Thread(target=api_writer, args=(n,)) for n in range(writers)]
        threads += [
            threading.Thread(target=cli_reports),
            threading.Thread(target=cli_import),
            threading.Thread(target=cli_loads),
        ]
        for thread in threads:
            thread.start()
        try:
            time.sleep(seconds * 0.3)  # readers alone: the idle latency
            writing.set()
            time.sleep(seconds * 0.7)
        finally:
            stop.set()
            writing.set()
            for thread in threads:
                thread.join()
        figures.imported_found_by_search = _imported_found(base)
        figures.server_peak_mib = round(peak_mib(pid), 1)

    present = _present_notes(home)
    figures.writes_present = len(acknowledged & present)
    figures.writes_missing = len(acknowledged - present)
    figures.integrity = sqlite_integrity(home)
    _published, registered = registered_loads(home, DATASET)
    figures.loads_registered = len(registered)
    figures.live_table_matches = bool(last_acknowledged) and _live_rows(home) == sorted(
        last_acknowledged[0]
    )
    figures.p50_idle_ms = round(percentile(idle, 0.5) * 1000, 1)
    figures.p95_idle_ms = round(percentile(idle, 0.95) * 1000, 1)
    figures.p50_under_writes_ms = round(percentile(loaded, 0.5) * 1000, 1)
    figures.p95_under_writes_ms = round(percentile(loaded, 0.95) * 1000, 1)
    return figures


def _accept_pending(env: dict[str, str]) -> int:
    """A steward accepts the dataset's pending blocked run; the review's exit status."""
    listed = subprocess.run(
        [_mulu(), "quality", "runs", "--pending", "--dataset", DATASET, "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    runs = json.loads(listed.stdout or "[]") if listed.returncode == 0 else []
    if not runs:
        return 1
    return subprocess.run(
        [_mulu(), "quality", "review", runs[0]["run_id"], "--accept", "--note", "soak"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    ).returncode


def sqlite_integrity(home: Path) -> str:
    """``PRAGMA integrity_check`` of the workspace's embedded store."""
    with sqlite3.connect(home / "catalog.sqlite") as con:
        return str(con.execute("PRAGMA integrity_check").fetchone()[0])


def registered_loads(home: Path, dataset: str) -> tuple[set[str], set[str]]:
    """(the dataset's published loads, those of them registered with their entry by load id),
    read through the workspace's store (SQLite or PostgreSQL, as its settings say)."""
    from warehouse.store import Store
    from warehouse.workspace import Workspace

    with Store.open(Workspace(home)) as store:
        published = store.loads.published_load_ids(dataset)
        return published, {p for p in published if store.history.has_load(p)}


def _live_rows(home: Path, dataset: str = DATASET) -> list[tuple[str, int, str]]:
    """The published table's rows, through a read-only analyst session."""
    from warehouse.analyst import open_session

    session = open_session(home, catalogue=False)
    try:
        rows = session.execute(
            f"SELECT person_name, amount, id_card_no FROM {dataset} ORDER BY ALL"
        ).fetchall()
    finally:
        session.close()
    return [(str(n), int(a), str(c)) for n, a, c in rows]


def _codes(home: Path) -> list[str]:
    from catalog.directory import Directory
    from warehouse.workspace import Workspace

    directory = Directory.open(Workspace(home), user="soak")
    try:
        return [e["code"] for e in directory.store.entries.page(limit=40).entries]
    finally:
        directory.close()


def _imported_found(base: str) -> bool:
    """The CLI's import is searchable through the server within 30 s (its refresher)."""
    names = [r["标题"] for r in json.loads(IMPORTED_EXPORT.read_text(encoding="utf-8"))]
    query = urllib.parse.quote(names[0][:20])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"{base}/api/search?q={query}", timeout=60) as response:
            found = json.loads(response.read())
        if any(hit["name"] == names[0] for hit in found["hits"]):
            return True
        time.sleep(0.5)
    return False


def _present_notes(home: Path) -> set[str]:
    from warehouse.store import Store
    from warehouse.workspace import Workspace

    with Store.open(Workspace(home)) as store:
        notes: set[str] = set()
        for code in _codes(home):
            notes.update(u["note"] for u in store.history.updates(code) if u.get("note"))
        return notes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--home", type=Path, default=None, help="default: a temporary folder")
    parser.add_argument("--readers", type=int, default=3)
    parser.add_argument("--writers", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mulu-soak-") as scratch:
        home = args.home or Path(scratch) / "ws"
        figures = soak(home, args.seconds, readers=args.readers, writers=args.writers)
    if args.json:
        print(json.dumps({**asdict(figures), "ok": figures.ok}, ensure_ascii=False, indent=1))
    else:
        for key, value in asdict(figures).items():
            print(f"{key:28} {value}")
        print(f"{'ok':28} {figures.ok}")
    sys.exit(0 if figures.ok else 1)


if __name__ == "__main__":
    main()
