"""Concurrency (issue 14): ``mulu serve --workers N`` under 32 HTTP clients while loads run on a
Celery worker, on a store in PostgreSQL (default) or SQLite.

    python -m bench.concurrency                          # 4 workers, 32 clients, 120 s, PostgreSQL
    python -m bench.concurrency --store sqlite --json
    python -m bench.concurrency --seconds 25 --idle-seconds 10 --clients 16 --workers 2

The workspace is the Lu'an portal's catalogue (``bench.soak``'s: 546 entries; on PostgreSQL a
fresh database created for the run and dropped after it, and a second one for Dagster's
instance; the lake stays the workspace's ``lake.sqlite``, the worker runs on this machine).
Two roster datasets serve two entries of the department with the most entries, one
made 有条件共享 (their first versions are loaded before the clients start); users: the
data office's steward, that department's officer (the provider), officers and analysts of two
other departments (the applicants), each with an API token.

Phases:

1. **idle**: every client reads (``--idle-seconds``): search, faceted search, listings, entry
   pages and the entry API with a token, CKAN ``package_search`` / ``package_show``, stats,
   freshness, the applicant's applications: the idle latency.
2. **under load** (``--seconds``): the same clients, each with a role — of 32, 20 readers (the
   same mix) and 12 writers: 4 reporters (``POST /api/entries/{code}/updates``), 4 applicants
   (``POST /api/sharing/applications`` for the provider's entries, one open application per
   entry at a time), the office (its inbox: forward a conditional application, approve an
   unconditional one), the provider (its inbox: approve) and 2 stewards reviewing blocked loads
   (``GET /api/quality/runs?pending=true``, ``POST …/reviews`` accept). Beside them, one thread
   per roster dataset runs ``mulu run --select <dataset>`` one version after another, its steps
   executed by a ``mulu worker`` (Celery, RabbitMQ, a queue of the run's own); every second
   version has a wrong 身份证号 check digit, is blocked by the quality gate and waits until a
   reviewing client has accepted it.

Counted: every request (a 5xx or no answer is an error, any other unexpected status is
``unexpected``), every process (a failed ``mulu run`` is an error). Afterwards, read from the
store: every acknowledged update report present, every acknowledged application in exactly the
state its last acknowledged decision left it (and with one event per acknowledged action),
every published load registered with its entry and as many published as acknowledged, each
dataset's live table exactly its last acknowledged version. Latency: reads only, p50/p95 idle
and under load, and their ratio (goal: under 2x).

Everything runs on 127.0.0.1: the server, the worker and the clients this script starts.
``tests/mulu/test_concurrency_bench.py`` runs it for ~25 s.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from bench.soak import (
    DATASET,
    READS,
    _live_rows,
    _mulu,
    _present_notes,
    call,
    peak_mib,
    percentile,
    prepare,
    registered_loads,
    roster_version,
    serving,
    sqlite_integrity,
    stop_process,
    write_roster,
    write_spec,
)

RABBITMQ = os.environ.get("MULU_BENCH_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//")
# One loader thread each, on the provider's first two entries: the applicants apply for those
# (approving an application needs a published dataset serving the entry; the first versions are
# loaded before the clients start). The first entry becomes 有条件共享 (the office forwards, the
# provider answers), the second stays 无条件共享 (the office approves).
DATASETS = (DATASET, "soak_roster_b")
OFFICE, PROVIDER = "bench.office", "bench.provider"
REVIEW_WAIT = 240.0  # a blocked load not reviewed within this is an error
# Clients of the loaded phase that are not readers (the rest read):
REPORTERS, APPLICANTS, REVIEWERS = 4, 4, len(DATASETS)
STAGE = {"submitted": 0, "forwarded": 1, "approved": 2, "refused": 2}  # an application's order


@dataclass
class Figures:
    store: str
    workers: int
    threads: int
    clients: int
    seconds: float
    idle_seconds: float
    requests: int = 0
    reads_idle: int = 0
    reads_loaded: int = 0
    errors: int = 0  # 5xx, no answer, a failed process
    unexpected: int = 0  # any other status the client did not expect
    error_samples: list[str] = field(default_factory=list)
    reports_acknowledged: int = 0
    reports_present: int = 0
    applications_acknowledged: int = 0
    decisions_acknowledged: int = 0  # office checks and provider answers
    applications_as_acknowledged: int = 0  # in the state (and with the events) acknowledged
    loads_run: int = 0
    loads_blocked: int = 0
    reviews_acknowledged: int = 0
    loads_published: int = 0  # acknowledged: `mulu run` exit 0 or an accepting review (201)
    loads_published_in_store: int = 0
    loads_registered: int = 0
    live_tables_match: bool = False
    integrity: str = ""
    p50_idle_ms: float = 0.0
    p95_idle_ms: float = 0.0
    p50_loaded_ms: float = 0.0
    p95_loaded_ms: float = 0.0
    p95_ratio: float = 0.0
    p95_writes_ms: float = 0.0
    p95_loaded_by_read_ms: dict[str, float] = field(default_factory=dict)  # the slowest five
    server_peak_mib: float = 0.0  # the supervisor's; each worker's own below
    worker_peak_mib: list[float] = field(default_factory=list)
    uptime_before: str = ""
    uptime_after: str = ""

    @property
    def ok(self) -> bool:
        """Nothing failed and nothing was lost (the latency ratio is reported, not judged)."""
        return (
            self.errors == 0
            and self.unexpected == 0
            and self.reports_present == self.reports_acknowledged > 0
            and self.applications_as_acknowledged == self.applications_acknowledged > 0
            and self.loads_published > 0
            and self.loads_published_in_store == self.loads_published
            and self.loads_registered == self.loads_published
            and self.live_tables_match
            and self.integrity in ("ok", "n/a (postgresql)")
        )


@dataclass
class Users:
    """API tokens by role, and what the applicants apply for."""

    admin: str
    office: str
    provider: str
    applicants: list[str]
    reader: str
    entries: list[str]  # the provider's entries applied for (the datasets')
    report_codes: list[str]


def _token(accounts: Any, login: str, org: str, roles: list[str]) -> str:
    accounts.add(login, org=org, name=login, actor="bench", roles=roles)
    return str(accounts.issue_token(login, name="bench", actor="bench").secret)


def prepare_sharing(home: Path, applicants: int) -> Users:
    """The soak's workspace (``bench.soak.prepare``), a second roster dataset, conditional
    entries and the users of the sharing workflow."""
    from catalog.directory import Directory
    from catalog.sharing.users import UserAccounts
    from warehouse.workspace import Workspace

    codes = prepare(home)
    directory = Directory.open(Workspace(home), user="bench")
    try:
        by_org: dict[str, list[str]] = {}
        for entry in directory.store.entries.iter():
            if entry.get("provider_code"):
                by_org.setdefault(entry["provider_code"], []).append(entry["code"])
        ranked = sorted(by_org, key=lambda org: (-len(by_org[org]), org))
        provider, office, *others = ranked[:4]
        entries = sorted(by_org[provider])[: len(DATASETS)]
        for dataset, code in zip(DATASETS, entries, strict=True):
            write_spec(home, dataset, code)  # bench.soak's spec of DATASET is replaced
        directory.update(
            entries[0], {"share_type": "有条件共享", "share_condition": "仅用于业务协同"}
        )
        accounts = UserAccounts(directory.store)
        users = Users(
            admin=(home / "soak-token").read_text(encoding="utf-8").strip(),
            office=_token(accounts, OFFICE, office, ["steward"]),
            provider=_token(accounts, PROVIDER, provider, ["officer"]),
            applicants=[
                _token(
                    accounts,
                    f"bench.applicant{i}",
                    others[i % len(others)],
                    ["analyst" if i % 2 else "officer"],
                )
                for i in range(applicants)
            ],
            reader=_token(accounts, "bench.reader", others[0], ["analyst"]),
            entries=entries,
            report_codes=codes,
        )
    finally:
        directory.close()
    return users


def read_paths(users: Users) -> list[tuple[str, str | None]]:
    """The readers' mix: (path, token or None for anonymous)."""
    quoted = [urllib.parse.quote(c, safe="") for c in users.entries + users.report_codes[:4]]
    paths: list[tuple[str, str | None]] = [(p, None) for p in READS]
    for code in quoted:
        paths.append((f"/entry/{code}", users.reader))
        paths.append((f"/api/entries/{code}", users.reader))
        paths.append((f"/api/3/action/package_show?id={code}", users.reader))
    paths.append(("/api/sharing/applications", users.reader))
    paths.append(("/api/entries?limit=50&offset=100", None))
    return paths


def read_kind(path: str) -> str:
    """A read's path without its query, an entry's code as ``{code}``."""
    bare = path.split("?")[0]
    return bare.rsplit("/", 1)[0] + "/{code}" if "%2F" in bare else bare


class Tally:
    """Counts shared by the client threads."""

    def __init__(self, figures: Figures) -> None:
        self.figures = figures
        self.lock = threading.Lock()
        self.idle: list[float] = []
        self.loaded: list[float] = []
        self.by_read: dict[str, list[float]] = {}  # under load, per path
        self.writes: list[float] = []

    def sample(self, text: str) -> None:
        if len(self.figures.error_samples) < 20:
            self.figures.error_samples.append(text[:400])

    def count(self, status: int, what: str, expected: tuple[int, ...] = (200,)) -> bool:
        """Count one answer; whether it was one of ``expected``."""
        with self.lock:
            self.figures.requests += 1
            if status in expected:
                return True
            if status == 0 or status >= 500:
                self.figures.errors += 1
            else:
                self.figures.unexpected += 1
            self.sample(f"{status} {what}")
            return False

    def error(self, text: str) -> None:
        with self.lock:
            self.figures.errors += 1
            self.sample(text)

    def add(self, name: str, n: int = 1) -> None:
        with self.lock:
            setattr(self.figures, name, getattr(self.figures, name) + n)


@contextmanager
def celery_worker(home: Path, env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``mulu worker`` on the run's queue, ready to take steps."""
    queue = env["MULU_CELERY_QUEUE"]
    with log.open("ab") as out:
        process = subprocess.Popen(
            [_mulu(), "--home", str(home), "worker", "--concurrency", "2", "--name", queue],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 180
        while "ready" not in log.read_text(encoding="utf-8", errors="replace"):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("mulu worker did not start: " + log.read_text()[-2000:])
            time.sleep(0.5)
        yield process
    finally:
        stop_process(process)


def worker_pids(supervisor: int) -> list[int]:
    """The server's worker processes (children of uvicorn's supervisor)."""
    children = Path(f"/proc/{supervisor}/task/{supervisor}/children")
    try:
        return [int(p) for p in children.read_text().split()]
    except OSError:
        return []


def uptime() -> str:
    """The machine's load averages (1, 5, 15 minutes): other work shares it."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def run(
    home: Path,
    *,
    store: str,
    seconds: float,
    idle_seconds: float,
    clients: int,
    workers: int,
    threads: int,
) -> Figures:
    figures = Figures(store, workers, threads, clients, seconds, idle_seconds)
    figures.uptime_before = uptime()
    with ExitStack() as stack:
        env = dict(os.environ)
        if store == "postgresql":
            from bench.province_build import fresh_postgres

            env["MULU_DATABASE_URL"] = stack.enter_context(fresh_postgres("concurrency"))
            env["MULU_DAGSTER_DATABASE_URL"] = stack.enter_context(fresh_postgres("dagster"))
        else:
            env.pop("MULU_DATABASE_URL", None)
            env.pop("MULU_DAGSTER_DATABASE_URL", None)
        env.update(
            MULU_HOME=str(home),
            MULU_CELERY_BROKER_URL=RABBITMQ,
            MULU_CELERY_QUEUE=f"mulu-bench-{uuid.uuid4().hex[:10]}",
            MULU_SOURCE_SETTLE="0",  # sources written here are complete when moved in
        )
        # This process reads and writes the same store (prepare, the checks after).
        for name in ("MULU_DATABASE_URL", "MULU_DAGSTER_DATABASE_URL"):
            os.environ.pop(name, None)
        os.environ.update(env)
        users = prepare_sharing(home, APPLICANTS)
        env["MULU_TOKEN"] = users.admin
        stack.enter_context(celery_worker(home, env, home / "worker.log"))
        shared = Shared(
            pending={d: None for d in DATASETS}, reviewed={d: threading.Event() for d in DATASETS}
        )
        # Version 1 of each dataset, before the clients: a conditional application's approval
        # needs it published.
        for dataset in DATASETS:
            shared.last_published[dataset] = write_version(home, dataset, 1)
        first = mulu_run(env, *DATASETS)
        if first.returncode:
            raise RuntimeError(f"the first loads failed: {(first.stdout + first.stderr)[-3000:]}")
        figures.loads_run = figures.loads_published = len(DATASETS)
        base, pid = stack.enter_context(
            serving(home, workers=workers, threads=threads, log=home / "serve.log", env=env)
        )
        _exercise(base, home, env, users, figures, shared)
        figures.server_peak_mib = round(peak_mib(pid), 1)
        figures.worker_peak_mib = [round(peak_mib(p), 1) for p in worker_pids(pid)]
        _check(home, shared, figures)
    figures.uptime_after = uptime()
    return figures


@dataclass
class Shared:
    """What the client threads and the loaders hand each other."""

    reports: set[str] = field(default_factory=set)
    # application id → (its last acknowledged state, acknowledged actions)
    applications: dict[int, tuple[str, int]] = field(default_factory=dict)
    pending: dict[str, list[tuple[str, int, str]] | None] = field(default_factory=dict)
    reviewed: dict[str, threading.Event] = field(default_factory=dict)
    last_published: dict[str, list[tuple[str, int, str]]] = field(default_factory=dict)
    loaders_done: threading.Event = field(default_factory=threading.Event)

    def acknowledge(self, app_id: int, state: str) -> None:
        """One more acknowledged action on an application (called under the tally's lock).
        Its state is the furthest acknowledged: the office's thread may record its forward
        after the provider's thread, which saw the forward in its inbox, recorded its answer."""
        current, actions = self.applications.get(app_id, ("submitted", 0))
        if STAGE[state] < STAGE[current]:
            state = current
        self.applications[app_id] = (state, actions + 1)


def write_version(home: Path, dataset: str, version: int) -> list[tuple[str, int, str]]:
    """Deliver ``version`` of ``dataset`` (an even one blocked by the gate); its rows."""
    rows = roster_version(version, blocked=version % 2 == 0)
    write_roster(home, rows, dataset)
    return rows


def mulu_run(env: dict[str, str], *datasets: str) -> subprocess.CompletedProcess[str]:
    """``mulu run --select …``: its steps on the Celery worker."""
    return subprocess.run(
        [_mulu(), "run", *(arg for d in datasets for arg in ("--select", d))],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _exercise(
    base: str, home: Path, env: dict[str, str], users: Users, figures: Figures, shared: Shared
) -> None:
    tally = Tally(figures)
    loading = threading.Event()
    stop = threading.Event()
    paths = read_paths(users)

    # Every worker builds its own search index: warm them (a search waits for its first build).
    for _ in range(3 * figures.workers):
        tally.count(call(base + READS[0])[0], "warm-up " + READS[0])

    def reader(n: int) -> None:
        i = n
        while not stop.is_set():
            path, token = paths[i % len(paths)]
            status, took, _ = call(base + path, token=token)
            if tally.count(status, path):
                with tally.lock:
                    tally.loaded.append(took)
                    tally.by_read.setdefault(read_kind(path), []).append(took)
            i += 1

    def write(path: str, body: object, token: str, expected: tuple[int, ...]) -> Any:
        status, took, answer = call(base + path, body, token)
        said = answer[:300].decode("utf-8", errors="replace")
        if not tally.count(status, f"POST {path} {said}", expected):
            return None
        with tally.lock:
            tally.writes.append(took)
        return json.loads(answer) if answer else {}

    def reporter(n: int) -> None:
        i = 0
        codes = users.report_codes
        while not stop.is_set():
            note = f"concurrency-{n}-{i}"
            code = urllib.parse.quote(codes[(n * 7 + i) % len(codes)], safe="")
            if write(f"/api/entries/{code}/updates", {"note": note}, users.admin, (201,)):
                with tally.lock:
                    shared.reports.add(note)
                    figures.reports_acknowledged += 1
            i += 1

    def applicant(n: int) -> None:
        token = users.applicants[n]
        mine: dict[str, int] = {}  # entry → my last application's id
        i = n
        while not stop.is_set():
            entry = users.entries[i % len(users.entries)]
            i += 1
            if entry in mine:  # one open application per entry: is the last one closed?
                status, _, answer = call(
                    f"{base}/api/sharing/applications/{mine[entry]}", None, token
                )
                if not tally.count(status, "GET application"):
                    continue
                if json.loads(answer)["state"] not in ("approved", "refused", "withdrawn"):
                    time.sleep(0.2)
                    continue
            body = {
                "entry_code": entry,
                "purpose": f"并发测试 {n}-{i}",
                "scenario": "业务协同",
                "period_end": None,
            }
            app = write("/api/sharing/applications", body, token, (201,))
            if app is not None:
                mine[entry] = int(app["id"])
                with tally.lock:
                    shared.acknowledge(int(app["id"]), "submitted")
                    figures.applications_acknowledged += 1

    def decider(
        token: str, inbox: str, decide: Callable[[dict[str, Any]], tuple[str, dict]]
    ) -> None:
        while not stop.is_set():
            status, _, answer = call(f"{base}/api/sharing/applications?box=inbox", None, token)
            if not tally.count(status, "GET inbox"):
                time.sleep(0.5)
                continue
            waiting = json.loads(answer)[inbox]
            for app in waiting:
                if stop.is_set():
                    break
                action, body = decide(app)
                done = write(f"/api/sharing/applications/{app['id']}/{action}", body, token, (200,))
                if done is not None:
                    with tally.lock:
                        shared.acknowledge(int(app["id"]), done["state"])
                        figures.decisions_acknowledged += 1
            if not waiting:
                time.sleep(0.3)

    def office_decides(app: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        conditional = app["share_type"] == "有条件共享"
        return "check", {"action": "forward" if conditional else "approve"}

    def provider_decides(app: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        return "answer", {"approve": True, "reason": "同意"}

    def reviewer(dataset: str) -> None:
        while not (stop.is_set() and shared.loaders_done.is_set()):
            if shared.pending[dataset] is None:
                time.sleep(0.3)
                continue
            query = f"/api/quality/runs?pending=true&dataset={dataset}"
            status, _, answer = call(base + query, None, users.office)
            if not tally.count(status, "GET " + query) or not json.loads(answer):
                time.sleep(0.3)
                continue
            run_id = json.loads(answer)[0]["run_id"]
            body = {"action": "accept", "note": "concurrency"}
            if write(f"/api/quality/runs/{run_id}/reviews", body, users.office, (201,)) is None:
                time.sleep(1)
                continue
            with tally.lock:
                shared.last_published[dataset] = shared.pending[dataset] or []
                shared.pending[dataset] = None
                figures.reviews_acknowledged += 1
                figures.loads_published += 1
            shared.reviewed[dataset].set()

    def loader(dataset: str) -> None:
        version = 1  # published before the clients started
        loading.wait()
        while not stop.is_set():
            version += 1
            rows = write_version(home, dataset, version)
            done = mulu_run(env, dataset)
            tally.add("loads_run")
            if done.returncode == 0:
                with tally.lock:
                    figures.loads_published += 1
                    shared.last_published[dataset] = rows
                continue
            if done.returncode != 7:  # 7: blocked by the quality gate, held for a steward
                said = (done.stdout + done.stderr)[-300:]
                tally.error(f"mulu run {dataset}: exit {done.returncode}: {said}")
                continue
            tally.add("loads_blocked")
            shared.reviewed[dataset].clear()
            with tally.lock:
                shared.pending[dataset] = rows
            if not shared.reviewed[dataset].wait(REVIEW_WAIT):
                tally.error(f"{dataset} v{version}: blocked load not reviewed in {REVIEW_WAIT} s")
                return

    roles: list[Callable[[], None]] = []
    roles += [partial(reporter, n) for n in range(REPORTERS)]
    roles += [partial(applicant, n) for n in range(APPLICANTS)]
    roles += [partial(decider, users.office, "office", office_decides)]
    roles += [partial(decider, users.provider, "provider", provider_decides)]
    roles += [partial(reviewer, d) for d in DATASETS]
    readers_loaded = max(1, figures.clients - len(roles))
    # Idle: every client reads. Then readers_loaded of them go on reading, the others take a role.
    idle_stop = threading.Event()

    def idle_reader(n: int) -> None:
        i = n
        while not idle_stop.is_set():
            path, token = paths[i % len(paths)]
            status, took, _ = call(base + path, token=token)
            if tally.count(status, path):
                with tally.lock:
                    tally.idle.append(took)
                    figures.reads_idle += 1
            i += 1

    idle = [threading.Thread(target=idle_reader, args=(n,)) for n in range(figures.clients)]
    for thread in idle:
        thread.start()
    time.sleep(figures.idle_seconds)
    idle_stop.set()
    for thread in idle:
        thread.join()

    loading.set()
    threads = [threading.Thread(target=reader, args=(n,)) for n in range(readers_loaded)]
    threads += [threading.Thread(target=role) for role in roles]
    loaders = [threading.Thread(target=loader, args=(d,)) for d in DATASETS]
    for thread in threads + loaders:
        thread.start()
    try:
        time.sleep(figures.seconds)
    finally:
        stop.set()
        for thread in loaders:
            thread.join()
        shared.loaders_done.set()
        for thread in threads:
            thread.join()
    figures.reads_loaded = len(tally.loaded)
    figures.p50_idle_ms = round(percentile(tally.idle, 0.5) * 1000, 1)
    figures.p95_idle_ms = round(percentile(tally.idle, 0.95) * 1000, 1)
    figures.p50_loaded_ms = round(percentile(tally.loaded, 0.5) * 1000, 1)
    figures.p95_loaded_ms = round(percentile(tally.loaded, 0.95) * 1000, 1)
    figures.p95_writes_ms = round(percentile(tally.writes, 0.95) * 1000, 1)
    by_read = {p: round(percentile(t, 0.95) * 1000, 1) for p, t in tally.by_read.items()}
    figures.p95_loaded_by_read_ms = dict(sorted(by_read.items(), key=lambda i: -i[1])[:5])
    if figures.p95_idle_ms:
        figures.p95_ratio = round(figures.p95_loaded_ms / figures.p95_idle_ms, 2)


def _check(home: Path, shared: Shared, figures: Figures) -> None:
    """Count, in the store, what the clients and loaders were told had landed."""
    from warehouse.store import Store
    from warehouse.workspace import Workspace

    figures.reports_present = len(shared.reports & _present_notes(home))
    with Store.open(Workspace(home)) as store:
        for app_id, (state, actions) in shared.applications.items():
            stored = store.applications.get(app_id)
            events = store.applications.events(app_id) if stored else []
            if stored is not None and stored["state"] == state and len(events) == actions:
                figures.applications_as_acknowledged += 1
            elif len(figures.error_samples) < 20:
                figures.error_samples.append(
                    f"application {app_id}: acknowledged {state}/{actions}, stored "
                    f"{stored and stored['state']}/{len(events)}"
                )
    matches = []
    for dataset in DATASETS:
        published, registered = registered_loads(home, dataset)
        figures.loads_published_in_store += len(published)
        figures.loads_registered += len(registered)
        if dataset in shared.last_published:
            matches.append(_live_rows(home, dataset) == sorted(shared.last_published[dataset]))
    figures.live_tables_match = bool(matches) and all(matches)
    figures.integrity = sqlite_integrity(home) if figures.store == "sqlite" else "n/a (postgresql)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120.0, help="the loaded phase")
    parser.add_argument("--idle-seconds", type=float, default=30.0, help="readers only, first")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=8, help="per server worker")
    parser.add_argument("--store", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--home", type=Path, default=None, help="default: a temporary folder")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mulu-concurrency-") as scratch:
        home = args.home or Path(scratch) / "ws"
        figures = run(
            home,
            store=args.store,
            seconds=args.seconds,
            idle_seconds=args.idle_seconds,
            clients=args.clients,
            workers=args.workers,
            threads=args.threads,
        )
    if args.json:
        print(json.dumps({**asdict(figures), "ok": figures.ok}, ensure_ascii=False, indent=1))
    else:
        for key, value in asdict(figures).items():
            print(f"{key:30} {value}")
        print(f"{'ok':30} {figures.ok}")
    sys.exit(0 if figures.ok else 1)


if __name__ == "__main__":
    main()
