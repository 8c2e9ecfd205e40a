"""``mulu serve --workers 2`` on a PostgreSQL store (issue 14's web tier): stateless workers.

A real server with two worker processes on a fresh PostgreSQL database and JSON logs in a file.
A user signs in by password on one request; requests on new connections then land on both
workers (told apart by the ``pid`` of their JSON access lines, found by request id), and every
one of them knows the session, and the flash message the sign-in left is shown whichever worker
answers (its signing key is the store's, not a process's). Every log line is one JSON object;
access lines carry the request id sent (or one made up, echoed in ``X-Request-ID``), the user,
the status and the duration, and never the password or the session cookie. ``/readyz`` names
the PostgreSQL store (password redacted). Each worker's thread pool is bounded (``--threads``):
the store connections the server holds stay within workers × (threads + a few) under a burst of
concurrent clients. And single sign-on (the OIDC provider of test_oidc, started here) begun on
one worker finishes on the other: the login begun is in the store.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests
import yaml
from api_server import free_port
from postgres_store import ADMIN_URL, create_database, database_url, drop_database
from test_oidc import CLIENT_ID, CLIENT_SECRET, SECRET_ENV, Provider
from web_users import add_user

from warehouse.workspace import Workspace

pytestmark = [pytest.mark.server, pytest.mark.slow, pytest.mark.postgresql]

PASSWORD = "a long enough password 42"
LOGIN = "li.ming"
WORKERS = 2
THREADS = 3
CLOSE = {"Connection": "close"}  # a new connection a request: the kernel picks the worker


@dataclass
class Server:
    base: str
    log: Path
    database: str
    url: str

    def lines(self) -> list[dict[str, Any]]:
        """Every log line so far, parsed (a line that is not one JSON object fails here)."""
        text = self.log.read_text(encoding="utf-8")
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def access(self, request_id: str) -> dict[str, Any]:
        """The access line of one request (waits a moment: it is written after the answer)."""
        deadline = time.monotonic() + 10
        while True:
            found = [
                line
                for line in self.lines()
                if line["logger"] == "mulu.access" and line.get("request_id") == request_id
            ]
            if found or time.monotonic() > deadline:
                assert len(found) == 1, (request_id, found)
                return found[0]
            time.sleep(0.05)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    name = create_database()  # empty: the workers migrate it (one does, the other waits)
    url = database_url(name).replace("postgresql://postgres@", "postgresql://postgres:pw@")
    home = tmp_path_factory.mktemp("workers") / "ws"
    log = home.parent / "serve.log"
    env = {
        **os.environ,
        "MULU_HOME": str(home),
        "MULU_DATABASE_URL": url,  # trust auth: the password is ignored, and must never show
        SECRET_ENV: CLIENT_SECRET,
    }
    process = None
    provider = Provider().__enter__()
    try:
        oidc = {"issuer": provider.issuer, "client_id": CLIENT_ID, "client_secret_env": SECRET_ENV}
        Workspace(home).ensure().oidc_file.parent.mkdir(parents=True, exist_ok=True)
        Workspace(home).oidc_file.write_text(yaml.safe_dump(oidc), encoding="utf-8")
        previous = os.environ.get("MULU_DATABASE_URL")
        os.environ["MULU_DATABASE_URL"] = url
        try:
            add_user(Workspace(home).ensure(), LOGIN, roles=("steward",), password=PASSWORD)
        finally:
            if previous is None:
                os.environ.pop("MULU_DATABASE_URL", None)
            else:
                os.environ["MULU_DATABASE_URL"] = previous
        port = free_port()
        mulu = str(Path(sys.executable).with_name("mulu"))
        with log.open("wb") as out:
            process = subprocess.Popen(
                [
                    mulu,
                    "serve",
                    "--port",
                    str(port),
                    "--workers",
                    str(WORKERS),
                    "--threads",
                    str(THREADS),
                    "--log-format",
                    "json",
                ],
                env=env,
                stdout=out,
                stderr=out,
            )
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while True:
            try:
                if requests.get(base + "/readyz", headers=CLOSE, timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("mulu serve --workers did not start:\n" + log.read_text())
            time.sleep(0.2)
        yield Server(base, log, name, url)
    finally:
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        provider.__exit__(None, None, None)
        drop_database(name)


def _sign_in(server: Server) -> tuple[dict[str, str], str]:
    """Sign in by password: (the browser's cookies, the sign-in's request id)."""
    form = requests.get(server.base + "/login", headers=CLOSE, timeout=30)
    csrf = form.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    answer = requests.post(
        server.base + "/login",
        data={"login": LOGIN, "password": PASSWORD, "next": "/", "csrf_token": csrf},
        cookies=form.cookies,
        headers={**CLOSE, "X-Request-ID": "sign-in-1"},
        allow_redirects=False,
        timeout=30,
    )
    assert answer.status_code == 303, answer.text
    assert answer.headers["X-Request-ID"] == "sign-in-1"
    cookies = {**form.cookies.get_dict(), **answer.cookies.get_dict()}
    assert "mulu_session" in cookies
    assert "mulu_flash" in cookies
    return cookies, "sign-in-1"


def _get(server: Server, path: str, cookies: dict[str, str], request_id: str) -> requests.Response:
    return requests.get(
        server.base + path,
        cookies=cookies,
        headers={**CLOSE, "X-Request-ID": request_id},
        allow_redirects=False,
        timeout=60,
    )


def test_a_session_and_its_flash_work_on_every_worker(server: Server):
    cookies, signed_in = _sign_in(server)
    sign_in_line = server.access(signed_in)
    assert (sign_in_line["status"], sign_in_line["method"]) == (303, "POST")

    # Requests on new connections, several at once, until both workers answered some (the
    # kernel hands a connection to whichever accepts first: a worker still warming up its
    # search takes few at first).
    lines: list[dict[str, Any]] = []
    deadline = time.monotonic() + 120
    while len({line["pid"] for line in lines}) < WORKERS and time.monotonic() < deadline:
        ids = [f"runs-{len(lines) + n}" for n in range(16)]
        with ThreadPoolExecutor(8) as pool:
            answers = list(
                pool.map(lambda rid: _get(server, "/api/quality/runs", cookies, rid), ids)
            )
        assert [a.status_code for a in answers] == [200] * len(ids)  # anonymous: 401
        assert [a.headers["X-Request-ID"] for a in answers] == ids
        lines += [server.access(rid) for rid in ids]
    assert len({line["pid"] for line in lines}) == WORKERS, "one worker answered everything"
    for line in lines:
        assert line["user"] == LOGIN
        assert (line["method"], line["path"], line["status"]) == ("GET", "/api/quality/runs", 200)
        assert isinstance(line["duration_ms"], float | int)
        assert line["duration_ms"] >= 0

    # The flash message the sign-in left, shown by whichever worker answers the next page.
    shown_by: dict[int, bool] = {}
    for n in range(200):
        page = _get(server, "/", cookies, f"home-{n}")
        assert page.status_code == 200
        shown_by.setdefault(server.access(f"home-{n}")["pid"], "已登录" in page.text)
        if len(shown_by) == WORKERS:
            break
    assert len(shown_by) == WORKERS, shown_by
    assert all(shown_by.values()), shown_by
    other = [pid for pid in shown_by if pid != sign_in_line["pid"]]
    assert other, "no page came from the worker that did not sign in"


def test_single_sign_on_begun_on_one_worker_finishes_on_the_other(server: Server):
    crossed = 0
    for n in range(100):
        browser = requests.Session()
        browser.headers["Connection"] = "close"
        begin = browser.get(
            server.base + "/login/oidc",
            headers={"X-Request-ID": f"sso-begin-{n}"},
            allow_redirects=False,
            timeout=30,
        )
        assert begin.status_code in (302, 303, 307), begin.text
        at_provider = browser.get(begin.headers["location"], allow_redirects=False, timeout=30)
        assert at_provider.status_code == 302, at_provider.text
        back = browser.get(
            at_provider.headers["location"],
            headers={"X-Request-ID": f"sso-back-{n}"},
            allow_redirects=False,
            timeout=30,
        )
        assert back.status_code == 303, back.text
        assert browser.cookies.get("mulu_session")
        runs = browser.get(server.base + "/api/quality/runs", timeout=30)
        assert runs.status_code == 200  # signed in as the steward li.ming
        if server.access(f"sso-begin-{n}")["pid"] != server.access(f"sso-back-{n}")["pid"]:
            crossed += 1
            if crossed == 2:
                break
    assert crossed == 2, "every callback came back to the worker that began it"


def test_every_log_line_is_json_and_never_holds_a_secret(server: Server):
    cookies, _ = _sign_in(server)
    made_up = _get(server, "/healthz", {}, "not a plain id!")  # refused as an id: a new one
    assert made_up.status_code == 200
    new_id = made_up.headers["X-Request-ID"]
    assert new_id != "not a plain id!"
    assert len(new_id) == 32
    assert server.access(new_id)["path"] == "/healthz"

    text = server.log.read_text(encoding="utf-8")
    lines = server.lines()  # each line parses
    assert {"time", "level", "logger", "message", "pid"} <= set(lines[0])
    assert any(line["logger"].startswith("uvicorn") for line in lines)  # the server's own too
    restarted = [line["message"] for line in lines if "died" in line["message"]]
    assert restarted == []  # no worker was killed as hung (and its requests dropped)
    assert PASSWORD not in text
    assert cookies["mulu_session"] not in text
    assert ":pw@" not in text
    assert CLIENT_SECRET not in text


def test_ready_names_the_store_with_its_password_redacted(server: Server):
    answer = requests.get(server.base + "/readyz", headers=CLOSE, timeout=30)
    body = answer.json()
    assert answer.status_code == 200, body
    assert body["checks"] == {"store": "ok", "lake_catalog": "ok", "search_refresher": "ok"}
    assert body["store"]["dialect"] == "postgresql"
    assert body["store"]["location"].endswith("/" + server.database)
    assert "pw" not in body["store"]["location"]
    assert "***" in body["store"]["location"]


def test_each_worker_bounds_its_threads_and_so_its_store_connections(server: Server):
    cookies, _ = _sign_in(server)
    peak = 0

    def connections() -> int:
        with psycopg.connect(ADMIN_URL, autocommit=True) as con:
            row = con.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (server.database,)
            ).fetchone()
        return int(row[0]) if row else 0

    def burst(n: int) -> int:
        return _get(server, "/api/quality/runs", cookies, f"burst-{n}").status_code

    with ThreadPoolExecutor(32) as pool:
        statuses = pool.map(burst, range(160))
        for _ in range(20):
            peak = max(peak, connections())
            time.sleep(0.02)
        assert set(statuses) == {200}
    peak = max(peak, connections())
    # threads + the search refresher + the thread that built the app (+ 1 to spare)
    assert peak <= WORKERS * (THREADS + 3), peak
    assert peak >= WORKERS  # the probe counts something: each worker holds connections


def test_the_cli_refuses_an_unknown_log_format(tmp_path: Path):
    mulu = str(Path(sys.executable).with_name("mulu"))
    done = subprocess.run(
        [mulu, "serve", "--log-format", "yaml", "--port", str(free_port())],
        env={**os.environ, "MULU_HOME": str(tmp_path / "ws")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "text or json" in done.stdout + done.stderr
