"""A running ``mulu serve`` and CLI writers interleave; every acknowledged write survives.

This reproduces the data loss of issue 10: the server once opened ``catalog.sqlite`` through
DuckDB's own SQLite library (freshness routes, entry pages) beside Python's sqlite3. The two
libraries' POSIX locks do not see each other, so a CLI command exiting deleted the WAL under the
server, and acknowledged POSTs vanished or the file was corrupted. Each round starts a server,
then for a bounded time posts update reports to it, reads the routes that touch DuckDB and runs
``mulu freshness report`` processes; afterwards every acknowledged write (201 from the API, exit
0 from the CLI) must be in the database and ``PRAGMA integrity_check`` must say ok.

``MULU_STRESS_ROUNDS`` (default 2) sets the number of rounds; the closing note of issue 10 ran 20.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from api_server import serving
from web_users import add_user, bearer

from catalog.directory import Directory
from warehouse.workspace import Workspace

pytestmark = [pytest.mark.server, pytest.mark.slow]

ROUNDS = int(os.environ.get("MULU_STRESS_ROUNDS", "2"))
ROUND_SECONDS = 4.0
READ_PATHS = ("/api/freshness?limit=1", "/api/search?q=a", "/freshness", "/api/freshness/scorecard")


def _seed(workspace: Workspace) -> list[str]:
    directory = Directory.open(workspace, user="seed")
    try:
        directory.add_organisations([{"code": "11340000MB0000001X", "name": "区数据资源局"}])
        return [
            directory.create(
                {
                    "name": f"测试目录{i}",
                    "provider_name": "区数据资源局",
                    "provider_code": "11340000MB0000001X",
                    "summary": "并发写入测试",
                    "share_type": "无条件共享",
                    "open_type": "不予开放",
                    "update_cycle": "每日",
                    "formats": ["csv"],
                }
            )
            for i in range(3)
        ]
    finally:
        directory.close()


def _post_status(url: str, body: dict[str, str], token: str) -> int:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", **bearer(token)},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, TimeoutError, ConnectionError):
        return 0  # no answer: not acknowledged


def _get(url: str) -> None:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            response.read()
    except (urllib.error.URLError, TimeoutError, ConnectionError):
        pass  # a failed read is not a lost write; the writes are what is checked


def _round(home: Path, codes: list[str], round_no: int, token: str) -> tuple[set[str], set[str]]:
    """One server life with writers and readers; returns (acknowledged, present) notes.
    Both writers act as the providing bureau's officer (the API by bearer token, the CLI by
    MULU_TOKEN)."""
    acknowledged: set[str] = set()
    lock = threading.Lock()
    mulu = str(Path(sys.executable).with_name("mulu"))
    env = {**os.environ, "MULU_HOME": str(home), "MULU_TOKEN": token}
    with serving(home) as base:
        stop = time.monotonic() + ROUND_SECONDS
        errors: list[BaseException] = []

        def api_writer() -> None:
            i = 0
            while time.monotonic() < stop:
                note = f"api-{round_no}-{i}"
                status = _post_status(
                    f"{base}/api/entries/{codes[i % len(codes)]}/updates",
                    {"note": note},
                    token,
                )
                if status == 201:
                    with lock:
                        acknowledged.add(note)
                i += 1

        def reader() -> None:
            i = 0
            while time.monotonic() < stop:
                _get(base + READ_PATHS[i % len(READ_PATHS)])
                _get(f"{base}/entry/{codes[i % len(codes)]}")
                i += 1

        def guarded(target):  # a thread's exception must fail the test, not vanish
            def run() -> None:
                try:
                    target()
                except BaseException as exc:
                    errors.append(exc)

            return run

        threads = [threading.Thread(target=guarded(f)) for f in (api_writer, reader)]
        for thread in threads:
            thread.start()
        i = 0
        while time.monotonic() < stop:
            note = f"cli-{round_no}-{i}"
            done = subprocess.run(
                [mulu, "freshness", "report", codes[i % len(codes)], "--note", note],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            if done.returncode == 0:
                acknowledged.add(note)
            i += 1
        for thread in threads:
            thread.join()
        assert not errors, errors
    con = sqlite3.connect(home / "catalog.sqlite")
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        present = {
            row[0]
            for row in con.execute(
                "SELECT note FROM entry_updates WHERE note LIKE 'api-%' OR note LIKE 'cli-%'"
            )
        }
    finally:
        con.close()
    return acknowledged, present


def test_server_and_cli_writers_lose_nothing(workspace: Workspace) -> None:
    codes = _seed(workspace)
    token = add_user(workspace, "sjj.officer", roles=("officer",), org="区数据资源局")
    totals = {"acknowledged": 0, "present": 0}
    for round_no in range(ROUNDS):
        acknowledged, present = _round(workspace.root, codes, round_no, token)
        assert acknowledged, "no write was acknowledged: the test exercised nothing"
        assert {n for n in acknowledged if n.startswith("cli-")}, "no CLI write landed"
        missing = acknowledged - present
        assert not missing, f"round {round_no}: {len(missing)} acknowledged writes lost"
        totals["acknowledged"] += len(acknowledged)
        totals["present"] += len(acknowledged & present)
    print(
        f"\n{ROUNDS} rounds: {totals['acknowledged']} acknowledged writes, "
        f"{totals['present']} present"
    )
