"""The sharing journey end to end (issue 13, "Must show"): a real ``mulu serve``, headless
Chromium (Debian's, driven by Playwright), the real ``mulu`` CLI as separate processes and a real
store and lake.

1. Organisation A's officer signs in at /login, opens B's 有条件共享 entry, clicks 申请共享,
   fills purpose and scenario, picks some columns and submits; 我的申请 shows it with its
   deadline (2 working days, 按时).
2. The data office (steward) finds it in /sharing/inbox and forwards it to the provider.
3. B's officer finds it in the provider queue; a refusal without a reason is refused (on a
   second application: the error shown, its state unchanged); then approves the first with a
   column subset (no 手机号) and 姓名 in clear.
4. A's analyst reads: ``mulu sql`` (granted columns only, 身份证号 masked, 姓名 clear), ``GET
   /api/data/<dataset>`` with a token (the same view), the entry page's sample rows; the
   session's escape attempts (read_parquet on the lake's file, ATTACH catalog.sqlite, COPY TO,
   SET enable_external_access, the catalogue's users …) are refused.
5. /grants lists the grant (the steward's every grant, the analyst's readable datasets); the
   steward revokes it there: the analyst's open ``mulu sql`` shell loses the table at its next
   statement, the next REST read is 403, a new session has no such table, the entry page offers
   申请共享 again; a grant made over REST expiring a few seconds ahead stops once it passes.
6. Every data access above is in the audit log exactly once (actor, channel, dataset, rows);
   ``mulu audit verify`` passes; an audit row edited with sqlite3 (triggers dropped first, as an
   attacker with the file would) is detected.
7. From the browser's side: an anonymous POST of the apply form and a form POST without the
   CSRF token are refused.

The steps are tests over one module-scoped journey, run in file order. A step run alone (``-k``,
or on another xdist worker with ``--dist load``) first runs the earlier steps it builds on, once
per process; ``--dist loadscope`` (``make test``) keeps the module on one worker, so it runs
once. A step whose earlier steps did not finish fails: nothing is skipped.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import json
import queue
import re
import sqlite3
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from api_server import serving
from sharing_journey_fixtures import (
    ANALYST_A,
    DATASET,
    ENTRY_NAME,
    OFFICER_A,
    OFFICER_B,
    PASSWORD,
    PEOPLE,
    STEWARD,
    USERS,
    District,
    build_district,
    run_mulu,
    start_mulu,
)

from catalog.sharing.applications import Applications
from catalog.sharing.audit import AuditLog
from catalog.sharing.calendar import WorkingCalendar
from catalog.sharing.grants import Grants
from schemas.entry import catalogue_now
from warehouse.masking import mask_value
from warehouse.store import Store

pytestmark = [pytest.mark.browser, pytest.mark.server, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
PURPOSE = "住房保障资格审核：核对申请家庭是否为低收入救助对象"
SCENARIO = "住建局保障房分配前逐户核验"
ASKED = ["person_name", "id_card_no", "mobile", "household_size"]  # not monthly_allowance
GRANTED = ["person_name", "id_card_no", "household_size"]  # the provider leaves out 手机号
UNMASKED = ["person_name"]
EXPIRING_PURPOSE = "临时核对：几秒后到期"
NAMES = [p[0] for p in PEOPLE]
IDS = [p[1] for p in PEOPLE]
MOBILES = [p[2] for p in PEOPLE]


# --- HTTP without a browser ------------------------------------------------------------------
class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


OPENER = urllib.request.build_opener(_NoRedirect)


def http(
    url: str,
    *,
    token: str | None = None,
    form: dict[str, Any] | None = None,
    cookies: dict[str, str] | None = None,
    body: Any = None,
) -> tuple[int, Message, str]:
    """One request, redirects not followed: (status, headers, body text)."""
    headers: dict[str, str] = {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if cookies:
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    data = None
    if form is not None:
        data = urllib.parse.urlencode(form, doseq=True).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    elif body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, headers=headers)
    try:
        with OPENER.open(request, timeout=30) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read().decode()


def http_json(url: str, token: str, body: Any = None) -> tuple[int, Any]:
    status, _, text = http(url, token=token, body=body)
    return status, json.loads(text) if text else None


# --- the journey -----------------------------------------------------------------------------
@dataclass
class Journey:
    base: str
    district: District
    browser: Any
    contexts: list[Any] = field(default_factory=list)
    pages: dict[str, Any] = field(default_factory=dict)
    app_id: int | None = None
    number: str | None = None
    second_id: int | None = None
    grant_id: int | None = None
    # Every data access the test made: (actor, channel, rows, columns)
    accesses: list[tuple[str, str, int, tuple[str, ...]]] = field(default_factory=list)
    sql_seconds: float = 2.0  # how long the journey's first mulu sql took
    # The steps run so far in this process: None (passed) or what they raised.
    outcomes: dict[str, BaseException | None] = field(default_factory=dict)

    @property
    def workspace(self):
        return self.district.workspace

    @property
    def code(self) -> str:
        return self.district.entry_code

    def token(self, login: str) -> str:
        return self.district.tokens[login]

    def signed_in(self, login: str) -> Any:
        """A page in a browser context of its own, signed in as ``login`` through /login."""
        if login in self.pages:
            return self.pages[login]
        context = self.browser.new_context(locale="zh-CN")
        context.set_default_timeout(20_000)
        self.contexts.append(context)
        page = context.new_page()
        page.goto(f"{self.base}/login")
        page.fill("#login", login)
        page.fill("#password", PASSWORD)
        page.click("#login-form button[type=submit]")
        page.wait_for_load_state()
        assert page.locator("#login-error").count() == 0, page.inner_text("#login-error")
        assert USERS[login][2] in page.inner_text("header"), f"{login} is not signed in"
        self.pages[login] = page
        return page

    def store(self) -> Store:
        return Store.open(self.workspace)

    def saw(self, actor: str, channel: str, rows: int, columns: list[str]) -> None:
        self.accesses.append((actor, channel, rows, tuple(columns)))


@pytest.fixture(scope="module")
def journey(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Journey]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"Debian's chromium is needed at {CHROMIUM}: run `make browser`")
    district = build_district(tmp_path_factory.mktemp("journey"))
    with serving(district.workspace.root) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        found = Journey(base, district, browser)
        try:
            yield found
        finally:
            for context in found.contexts:
                context.close()
            browser.close()


STEPS: list[Callable[[Journey], None]] = []  # the journey's steps, in file order


def step(function: Callable[[Journey], None]) -> Callable[[Journey], None]:
    """A step of the journey. Each runs once per process: before it, every earlier step not
    yet run runs, so a step works alone too (``pytest -k``, xdist's load distribution); a step
    already run as an earlier one's prerequisite reports that run's outcome; an earlier step's
    failure fails the later ones too."""

    @functools.wraps(function)
    def run(journey: Journey) -> None:
        name = function.__name__
        if name not in journey.outcomes:
            for earlier in STEPS[: STEPS.index(run)]:
                if earlier.__name__ not in journey.outcomes:
                    earlier(journey)
            journey.outcomes[name] = None
            try:
                function(journey)
            except BaseException as exc:
                journey.outcomes[name] = exc
                raise
        elif journey.outcomes[name] is not None:
            raise journey.outcomes[name]  # type: ignore[misc]

    STEPS.append(run)
    return run


def needs(*values: Any) -> None:
    if any(v is None for v in values):
        pytest.fail("an earlier step of the journey did not finish")


def flash_text(page: Any) -> str:
    return " ".join(page.locator("#flash").all_inner_texts())


def error_text(page: Any) -> str:
    return " ".join(page.locator("#error").all_inner_texts())


# --- 1. apply ---------------------------------------------------------------------------------


def no_such_table(stderr: str) -> bool:
    """The session has no such table: DuckDB's words, or the shell's Chinese line naming the
    missing grant."""
    return f"{DATASET} does not exist" in stderr or f"没有数据集 {DATASET} 的共享授权" in stderr


@step
def test_1_an_officer_applies_on_the_entry_page(journey: Journey) -> None:
    j = journey
    page = j.signed_in(OFFICER_A)
    page.goto(f"{j.base}/entry/{j.code}")
    assert page.inner_text("#entry-name") == ENTRY_NAME
    assert page.locator("#sample table").count() == 0  # no grant: no rows
    page.click("#apply")
    page.wait_for_selector("form#apply")
    assert "申请共享" in page.inner_text("main")
    page.fill("form#apply textarea[name=purpose]", PURPOSE)
    page.fill("form#apply textarea[name=scenario]", SCENARIO)
    for column in ASKED:
        page.check(f"form#apply input[name=columns][value={column}]")
    page.fill("form#apply input[name=grantees]", ANALYST_A)
    page.click("form#apply button[type=submit]")
    page.wait_for_url(re.compile(r"/sharing/applications/\d+"))
    assert "已提交共享申请" in flash_text(page)
    assert page.inner_text("#app-state") == "待数据办审核"
    j.app_id = int(re.search(r"/sharing/applications/(\d+)", page.url).group(1))  # type: ignore[union-attr]

    with j.store() as store:
        stored = store.applications.get(j.app_id)
    assert stored is not None
    j.number = stored["number"]
    assert stored["applicant"] == OFFICER_A
    assert stored["columns"] == ASKED
    assert stored["grantees"] == [ANALYST_A]
    assert (stored["purpose"], stored["scenario"]) == (PURPOSE, SCENARIO)
    # The office checks within 2 working days of the day it was submitted.
    created = dt.datetime.fromisoformat(stored["created_at"])
    due = WorkingCalendar.from_workspace(j.workspace).deadline(created, 2).at
    assert stored["due_at"] == due.replace(microsecond=0).isoformat()

    page.goto(f"{j.base}/sharing/mine")
    row = page.locator("#mine tr", has_text=j.number)
    assert row.count() == 1
    text = row.inner_text()
    assert "待数据办审核" in text
    assert ENTRY_NAME in text
    assert due.strftime("%Y-%m-%d %H:%M") in text  # the deadline
    assert "按时" in row.locator(".badge").first.inner_text()


# --- 2. the data office forwards ------------------------------------------------------------
@step
def test_2_the_data_office_forwards_it(journey: Journey) -> None:
    j = journey
    needs(j.app_id, j.number)
    page = j.signed_in(STEWARD)
    page.goto(f"{j.base}/sharing/inbox")
    queue = page.locator("#office-queue")
    assert j.number in queue.inner_text()
    queue.locator("a", has_text=j.number).click()
    page.wait_for_selector("form#check")
    page.click("form#check button[value=forward]")
    page.wait_for_selector("#app-state")
    assert "已审核，转提供方答复" in flash_text(page)
    assert page.inner_text("#app-state") == "待提供方答复"
    with j.store() as store:
        stored = store.applications.get(j.app_id)
    assert (stored["state"], stored["step"]) == ("forwarded", "provider")
    # The provider answers within 5 working days (its dataset is published).
    forwarded = dt.datetime.fromisoformat(stored["step_started_at"])
    due = WorkingCalendar.from_workspace(j.workspace).deadline(forwarded, 5).at
    assert stored["due_at"] == due.replace(microsecond=0).isoformat()
    assert due.strftime("%Y-%m-%d %H:%M") in page.inner_text("#deadline")
    page.goto(f"{j.base}/sharing/inbox")
    assert j.number not in page.inner_text("main")  # no longer the office's to do


# --- 3. the provider answers -----------------------------------------------------------------
@step
def test_3a_a_refusal_without_a_reason_is_refused(journey: Journey) -> None:
    """On a second application (A's analyst's own, applied and forwarded through the
    workflow's API), B's officer clicks 拒绝 with no reason: the page says why, nothing changes."""
    j = journey
    d = j.district
    with j.store() as store:
        workflow = Applications(store, j.workspace)
        second = workflow.apply(
            d.who[ANALYST_A],
            entry_code=j.code,
            purpose="核对救助对象的住房情况",
            scenario="保障房轮候名单复核",
        )
        workflow.check(d.who[STEWARD], second["id"], action="forward")
    j.second_id = int(second["id"])

    page = j.signed_in(OFFICER_B)
    page.goto(f"{j.base}/sharing/inbox")
    queue = page.locator("#provider-queue")
    assert second["number"] in queue.inner_text()
    queue.locator("a", has_text=second["number"]).click()
    page.wait_for_selector("form#answer")
    assert page.input_value("form#answer textarea[name=reason]") == ""
    page.click("form#answer button[value=refuse]")
    page.wait_for_selector("#app-state")
    assert "拒绝须说明理由" in error_text(page)
    assert page.inner_text("#app-state") == "待提供方答复"
    with j.store() as store:
        stored = store.applications.get(j.second_id)
        events = [e["action"] for e in store.applications.events(j.second_id)]
    assert (stored["state"], stored["reason"]) == ("forwarded", None)
    assert "refuse" not in events


@step
def test_3b_the_provider_approves_a_column_subset(journey: Journey) -> None:
    j = journey
    needs(j.app_id, j.number)
    page = j.signed_in(OFFICER_B)
    page.goto(f"{j.base}/sharing/inbox")
    queue = page.locator("#provider-queue")
    assert j.number in queue.inner_text()
    queue.locator("a", has_text=j.number).click()
    page.wait_for_selector("form#answer")
    # Only the columns asked for are offered.
    offered = page.locator("form#answer input[name=columns]").evaluate_all(
        "els => els.map(e => e.value)"
    )
    assert offered == ASKED
    for column in GRANTED:
        page.check(f"form#answer input[name=columns][value={column}]")
    for column in UNMASKED:
        page.check(f"form#answer input[name=unmasked][value={column}]")
    page.fill("form#answer textarea[name=reason]", "同意共享，手机号不予提供")
    # A second tab holding the same form (pages are not cached: going back reloads them).
    stale = page.context.new_page()
    stale.goto(page.url)
    stale.wait_for_selector("form#answer")
    page.click("form#answer button[value=approve]")
    page.wait_for_selector("#app-state")
    assert "已同意" in flash_text(page)
    assert page.inner_text("#app-state") == "已同意"

    with j.store() as store:
        stored = store.applications.get(j.app_id)
        grants = Grants(store, j.workspace).list(login=ANALYST_A, dataset=DATASET)
    assert stored["state"] == "approved"
    assert len(grants) == 1
    grant = grants[0]
    assert grant["application_id"] == j.app_id
    assert grant["grantee_login"] == ANALYST_A
    assert grant["columns"] == GRANTED
    assert grant["unmasked"] == UNMASKED
    assert grant["status"] == "live"
    j.grant_id = int(grant["id"])
    assert f"#{j.grant_id}" in page.inner_text("main")
    # The same form sent again (back, then approve once more): refused, still one grant.
    stale.click("form#answer button[value=approve]")
    stale.wait_for_selector("#app-state")
    assert "不在提供方答复环节" in error_text(stale)
    stale.close()
    with j.store() as store:
        assert len(Grants(store, j.workspace).list(dataset=DATASET)) == 1
    # The applicant sees the answer in 我的申请.
    page = j.signed_in(OFFICER_A)
    page.goto(f"{j.base}/sharing/mine")
    assert "已同意" in page.locator("#mine tr", has_text=j.number).inner_text()
    page.locator("#mine a", has_text=j.number).click()
    page.wait_for_selector("#history")
    history = [
        [cell.strip() for cell in row.split("\t")]
        for row in page.locator("#history tr").all_inner_texts()[1:]
    ]
    steps = [(row[1], row[2]) for row in history if not row[1].startswith("通知")]
    assert steps == [
        ("提交申请", OFFICER_A),
        ("审核通过，转提供方", STEWARD),
        ("同意", OFFICER_B),
    ]


# --- 4. the analyst reads --------------------------------------------------------------------
def _expected_rows() -> list[dict[str, Any]]:
    """The granted view: 姓名 clear, 身份证号 masked, no 手机号, by household size."""
    rows = [
        {"person_name": p[0], "id_card_no": mask_value(p[1]), "household_size": int(p[3])}
        for p in PEOPLE
    ]
    return sorted(rows, key=lambda r: r["household_size"])


@step
def test_4a_mulu_sql_as_the_analyst_shows_the_granted_view(journey: Journey) -> None:
    j = journey
    needs(j.grant_id)
    started = time.monotonic()
    done = run_mulu(
        j.workspace,
        ["--user", ANALYST_A, "sql", "--json", f"SELECT * FROM {DATASET} ORDER BY household_size"],
        MULU_PASSWORD=PASSWORD,
    )
    j.sql_seconds = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert [list(r) for r in rows] == [GRANTED] * len(PEOPLE)  # only the granted columns
    assert rows == _expected_rows()
    for secret in (*IDS, *MOBILES):
        assert secret not in done.stdout
    j.saw(ANALYST_A, "sql", len(PEOPLE), GRANTED)


ESCAPES = {  # name: (SQL, what the refusal says)
    "read_parquet on the lake's file": (
        "SELECT * FROM read_parquet('{lake}')",
        "disabled by configuration",
    ),
    "ATTACH catalog.sqlite": (
        "ATTACH '{catalog}' AS c (TYPE sqlite, READ_ONLY)",
        "refused: ATTACH",
    ),
    "COPY TO": ("COPY {dataset} TO '{out}'", "refused: COPY"),
    "SET enable_external_access": ("SET enable_external_access = true", "locked"),
    "INSTALL": ("INSTALL httpfs", "refused: INSTALL"),
    "the catalogue's users": ("SELECT * FROM users", "users does not exist"),
}


@step
def test_4b_escapes_from_the_analyst_session_are_refused(journey: Journey) -> None:
    j = journey
    needs(j.grant_id)
    lake = j.district.lake_files
    assert lake, "the dataset is in the lake"
    out = j.workspace.root.parent / "out.csv"
    values = {
        "lake": lake[0],
        "catalog": j.workspace.metadata_db,
        "out": out,
        "dataset": DATASET,
    }
    started = {
        name: start_mulu(j.workspace, ["sql", sql.format(**values)], token=j.token(ANALYST_A))
        for name, (sql, _) in ESCAPES.items()
    }
    problems = []
    for name, process in started.items():
        stdout, stderr = process.communicate(timeout=120)
        words = ESCAPES[name][1]
        if process.returncode == 0:
            problems.append(f"{name}: ran (exit 0): {stdout[:300]}")
        elif words.lower() not in stderr.lower():
            problems.append(f"{name}: exit {process.returncode} without {words!r}: {stderr[:300]}")
        if "张三" in stdout or any(i in stdout for i in IDS):
            problems.append(f"{name}: printed data: {stdout[:300]}")
    assert not problems, "\n".join(problems)
    assert not out.exists()


@step
def test_4c_rest_download_and_ckan_give_the_same_view(journey: Journey) -> None:
    j = journey
    needs(j.grant_id)
    status, body = http_json(f"{j.base}/api/data/{DATASET}", j.token(ANALYST_A))
    assert status == 200, body
    assert body["columns"] == GRANTED
    assert body["masked"] == ["id_card_no"]
    assert (body["basis"], body["grant_id"]) == ("grant", j.grant_id)
    assert body["total"] == len(PEOPLE)
    rows = [dict(zip(body["columns"], row, strict=True)) for row in body["rows"]]
    assert sorted(rows, key=lambda r: r["household_size"]) == _expected_rows()
    j.saw(ANALYST_A, "rest", len(PEOPLE), GRANTED)
    # The download (CSV) and CKAN's datastore_search: the same view again.
    status, _, text = http(f"{j.base}/api/data/{DATASET}/download.csv", token=j.token(ANALYST_A))
    assert status == 200, text
    table = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert table[0] == GRANTED
    assert sorted(table[1:], key=lambda r: int(r[2])) == [
        [r["person_name"], r["id_card_no"], str(r["household_size"])] for r in _expected_rows()
    ]
    j.saw(ANALYST_A, "download", len(PEOPLE), GRANTED)
    status, found = http_json(
        f"{j.base}/api/3/action/datastore_search?resource_id={DATASET}", j.token(ANALYST_A)
    )
    assert status == 200, found
    result = found["result"]
    assert [f["id"] for f in result["fields"]] == ["_id", *GRANTED]
    assert result["mulu"]["masked"] == ["id_card_no"]
    records = [{k: r[k] for k in GRANTED} for r in result["records"]]
    assert sorted(records, key=lambda r: r["household_size"]) == _expected_rows()
    j.saw(ANALYST_A, "ckan", len(PEOPLE), GRANTED)
    # A's officer was not named in the application: no grant, no rows.
    status, body = http_json(f"{j.base}/api/data/{DATASET}", j.token(OFFICER_A))
    assert status == 403, body


@step
def test_4d_the_entry_page_shows_the_analyst_the_granted_sample(journey: Journey) -> None:
    j = journey
    needs(j.grant_id)
    page = j.signed_in(ANALYST_A)
    page.goto(f"{j.base}/entry/{j.code}")
    sample = page.inner_text("#sample")
    headers = page.locator("#sample th").all_inner_texts()
    assert [h.rstrip(" *") for h in headers] == GRANTED
    assert "id_card_no *" in headers  # marked masked
    assert f"#{j.grant_id}" in page.inner_text("#sample-basis")
    for name in NAMES:
        assert name in sample
    for id_card in IDS:
        assert id_card not in sample
        assert mask_value(id_card) in sample
    for mobile in MOBILES:
        assert mobile not in sample
    j.saw(ANALYST_A, "portal", len(PEOPLE), GRANTED)


# --- 5. revocation and expiry ----------------------------------------------------------------
@step
def test_5a_the_grants_page_lists_the_grant(journey: Journey) -> None:
    j = journey
    needs(j.grant_id)
    page = j.signed_in(STEWARD)
    page.goto(f"{j.base}/grants?dataset={DATASET}")
    row = page.locator(f"#all #grant-{j.grant_id}")
    text = row.inner_text()
    assert DATASET in text
    assert ANALYST_A in text
    assert ", ".join(GRANTED) in text
    # The analyst's own page: what they may read now, 身份证号 masked.
    page = j.signed_in(ANALYST_A)
    page.goto(f"{j.base}/grants")
    readable = page.locator("#readable tr", has_text=DATASET).inner_text()
    assert ", ".join(GRANTED) in readable
    assert "id_card_no" in readable.split(", ".join(GRANTED))[1]  # the masked column


def _lines(stream: Any) -> queue.Queue[str | None]:
    """The lines a process prints, as they come (None at the end)."""
    found: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        for line in stream:
            found.put(line)
        found.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return found


@step
def test_5b_a_grant_revoked_in_the_portal_stops_every_channel(journey: Journey) -> None:
    j = journey
    needs(j.grant_id)
    # An analyst's shell open before the revocation, one statement answered.
    shell = start_mulu(j.workspace, ["sql"], token=j.token(ANALYST_A), stdin=True)
    assert shell.stdin is not None
    printed = _lines(shell.stdout)
    shell.stdin.write(f"SELECT count(*) AS n FROM {DATASET};\n")
    shell.stdin.flush()
    seen = []
    while not any("1 row" in line for line in seen):
        line = printed.get(timeout=60)
        assert line is not None, f"the shell ended: {''.join(seen)} {shell.stderr.read()}"
        seen.append(line)
    j.saw(ANALYST_A, "sql", 1, GRANTED)

    page = j.signed_in(STEWARD)
    page.goto(f"{j.base}/grants?dataset={DATASET}")
    row = page.locator(f"#all #grant-{j.grant_id}")
    row.locator("input[name=reason]").fill("项目结束，收回授权")
    row.locator("form.revoke button[type=submit]").click()
    page.wait_for_selector("#flash")
    assert f"已撤销授权 {j.grant_id}" in flash_text(page)
    with j.store() as store:
        assert Grants(store, j.workspace).get(j.grant_id)["status"] == "revoked"

    status, body = http_json(f"{j.base}/api/data/{DATASET}", j.token(ANALYST_A))
    assert status == 403, body
    status, _, text = http(f"{j.base}/api/data/{DATASET}/download.csv", token=j.token(ANALYST_A))
    assert status == 403, text
    status, found = http_json(
        f"{j.base}/api/3/action/datastore_search?resource_id={DATASET}", j.token(ANALYST_A)
    )
    assert status == 403, found
    assert found["success"] is False
    # The open shell's next statement: the table is gone, and the shell says why.
    shell.stdin.write(f"SELECT * FROM {DATASET};\n")
    shell.stdin.close()
    stderr = shell.stderr.read()  # type: ignore[union-attr]
    assert shell.wait(timeout=60) == 1
    rest = []
    while (line := printed.get(timeout=60)) is not None:
        rest.append(line)
    assert "授权已到期或已撤销" in stderr
    assert no_such_table(stderr)
    assert "张三" not in "".join(rest)
    # A new session has no such table either.
    done = run_mulu(j.workspace, ["sql", f"SELECT * FROM {DATASET}"], token=j.token(ANALYST_A))
    assert done.returncode != 0
    assert no_such_table(done.stderr), done.stderr
    assert "张三" not in done.stdout
    # The entry page: no rows any more, the way to apply again.
    page = j.signed_in(ANALYST_A)
    page.goto(f"{j.base}/entry/{j.code}")
    assert page.locator("#sample table").count() == 0
    assert page.locator("#apply").count() == 1


@step
def test_5c_a_grant_stops_when_it_expires(journey: Journey) -> None:
    j = journey
    needs(j.grant_id)
    # Seconds: long enough for one REST read and one mulu sql side by side, however loaded
    # the machine is (three times the journey's first mulu sql).
    window = max(6, round(3 * j.sql_seconds))
    columns = ["household_size", "monthly_allowance"]
    status, grant = http_json(
        f"{j.base}/api/grants",
        j.token(STEWARD),
        body={
            "dataset": DATASET,
            "purpose": EXPIRING_PURPOSE,
            "expires_at": (catalogue_now() + dt.timedelta(seconds=window)).isoformat(),
            "grantee_login": ANALYST_A,
            "columns": columns,
        },
    )
    assert status == 201, grant
    expires = dt.datetime.fromisoformat(grant["expires_at"])
    sql = start_mulu(
        j.workspace,
        ["sql", "--json", f"SELECT * FROM {DATASET}"],
        token=j.token(ANALYST_A),
    )
    status, body = http_json(f"{j.base}/api/data/{DATASET}", j.token(ANALYST_A))
    stdout, stderr = sql.communicate(timeout=120)
    in_time = catalogue_now() < expires
    if status == 200:  # each read that returned rows is one the audit log must hold
        j.saw(ANALYST_A, "rest", len(PEOPLE), columns)
    if sql.returncode == 0:
        j.saw(ANALYST_A, "sql", len(PEOPLE), columns)
    assert in_time, f"the reads took longer than the grant's {window} s (a loaded machine?)"
    assert status == 200, body
    assert (body["columns"], body["grant_id"]) == (columns, grant["id"])
    assert sql.returncode == 0, stderr
    assert [list(r) for r in json.loads(stdout)] == [columns] * len(PEOPLE)

    time.sleep(max(0.0, (expires - catalogue_now()).total_seconds()) + 1.1)
    status, body = http_json(f"{j.base}/api/data/{DATASET}", j.token(ANALYST_A))
    assert status == 403, body
    done = run_mulu(j.workspace, ["sql", f"SELECT * FROM {DATASET}"], token=j.token(ANALYST_A))
    assert done.returncode != 0
    assert no_such_table(done.stderr), done.stderr
    with j.store() as store:
        assert Grants(store, j.workspace).get(int(grant["id"]))["status"] == "expired"


# --- 7. 401/403 from the browser's side ------------------------------------------------------
@step
def test_7_anonymous_and_csrf_less_posts_are_refused(journey: Journey) -> None:
    j = journey
    url = f"{j.base}/sharing/apply/{j.code}"
    form = {"purpose": "匿名申请", "scenario": "匿名", "columns": ["person_name"]}
    with j.store() as store:
        before = len(store.applications.find())

    # Anonymous, with the anonymous double-submit CSRF pair a visitor's form carries: 401.
    status, headers, body = http(f"{j.base}/login")
    assert status == 200
    cookie = re.search(r"mulu_csrf=([^;]+)", " ".join(headers.get_all("Set-Cookie") or []))
    token = re.search(r'name="csrf_token" value="([^"]+)"', body)
    assert cookie
    assert token
    assert cookie.group(1) == token.group(1)
    status, _, body = http(
        url, form={**form, "csrf_token": token.group(1)}, cookies={"mulu_csrf": cookie.group(1)}
    )
    assert status == 401, body
    # Anonymous without any token: refused too (the CSRF check comes first).
    status, _, body = http(url, form=form)
    assert status in (401, 403), body

    # A's officer's own session cookie, from the browser, without the form's token: 403.
    page = j.signed_in(OFFICER_A)
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    assert "mulu_session" in cookies
    status, _, body = http(url, form=form, cookies=cookies)
    assert status == 403, body
    assert "CSRF" in body
    status, _, body = http(url, form={**form, "csrf_token": "x" * 43}, cookies=cookies)
    assert status == 403, body
    # In the browser: the apply form with its hidden token taken out is refused the same way.
    page.goto(url)
    page.wait_for_selector("form#apply")
    page.evaluate("document.querySelector('form#apply input[name=csrf_token]').remove()")
    page.fill("form#apply textarea[name=purpose]", "无令牌的申请")
    page.fill("form#apply textarea[name=scenario]", "无令牌")
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.click("form#apply button[type=submit]")
    assert posted.value.status == 403
    assert "CSRF" in page.inner_text("body")
    with j.store() as store:
        assert len(store.applications.find()) == before


# --- 6. audit --------------------------------------------------------------------------------
@step
def test_6a_every_access_is_in_the_audit_log_once(journey: Journey) -> None:
    j = journey
    needs(j.grant_id)
    assert j.accesses, "the journey made data accesses"
    with j.store() as store:
        logged = AuditLog(store).entries(
            action="access", dataset=DATASET, limit=None, newest_first=False
        )
    got = Counter((e["actor"], e["channel"], e["rows"], tuple(e["columns"])) for e in logged)
    assert got == Counter(j.accesses)
    for entry in logged:  # who, from where, when, under which grant and for what
        assert entry["actor_org"] == USERS[ANALYST_A][0]
        assert entry["entry_code"] == j.code
        assert entry["remote"]
        assert entry["at"]
        if entry["grant_id"] == j.grant_id:
            assert entry["purpose"] == PURPOSE
        else:
            assert entry["grant_id"] is not None
            assert entry["purpose"] == EXPIRING_PURPOSE
    # Each decision on the application once, by who took it; the reasonless refusal none.
    with j.store() as store:
        everything = AuditLog(store).entries(limit=None, newest_first=False)
    decisions = [
        (e["action"], e["actor"])
        for e in everything
        if e["action"] != "access" and e["detail"].get("application_id") == j.app_id
    ]
    assert decisions == [
        ("application_apply", OFFICER_A),
        ("application_forward", STEWARD),
        ("grant", OFFICER_B),
        ("application_approve", OFFICER_B),
        ("revoke", STEWARD),
    ]
    refusals = [
        e
        for e in everything
        if e["action"] == "application_refuse" and e["detail"].get("application_id") == j.second_id
    ]
    assert refusals == []
    # The data office sees the same through the API.
    status, body = http_json(
        f"{j.base}/api/audit?action=access&dataset={DATASET}&limit=1000", j.token(STEWARD)
    )
    assert status == 200, body
    assert body["total"] == len(j.accesses)
    assert {e["seq"] for e in body["entries"]} == {e["seq"] for e in logged}
    # And on the data office's /audit page, whose chain check holds.
    page = j.signed_in(STEWARD)
    page.goto(f"{j.base}/audit?dataset={DATASET}&action=access")
    shown = page.locator("#audit-entries tr:not(.head)")
    assert shown.count() == len(j.accesses)
    assert page.locator("#audit-verify .verify-ok").count() == 1
    done = run_mulu(j.workspace, ["audit", "verify"], token=j.token(STEWARD))
    assert done.returncode == 0, done.stderr + done.stdout
    assert "审计日志完整" in done.stdout


@step
def test_6b_an_edited_audit_row_is_detected(journey: Journey) -> None:
    j = journey
    needs(j.grant_id)
    with j.store() as store:
        target = AuditLog(store).entries(action="access", channel="rest", dataset=DATASET)[-1]
    # An attacker with the file: drop the append-only triggers, then shrink the rows read.
    con = sqlite3.connect(j.workspace.metadata_db)
    try:
        for trigger in ("audit_log_no_update", "audit_log_no_delete"):
            con.execute(f"DROP TRIGGER {trigger}")
        con.execute("UPDATE audit_log SET rows = 1 WHERE seq = ?", (target["seq"],))
        con.commit()
    finally:
        con.close()
    done = run_mulu(j.workspace, ["audit", "verify"], token=j.token(STEWARD))
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"seq {target['seq']}" in done.stderr
    assert "审计日志被篡改" in done.stderr
    status, body = http_json(f"{j.base}/api/audit/verify", j.token(STEWARD))
    assert status == 200
    assert body["ok"] is False
    assert body["first_broken"] == target["seq"]
    page = j.signed_in(STEWARD)
    page.goto(f"{j.base}/audit?verify=1")
    broken = page.inner_text("#audit-verify .verify-broken")
    assert f"seq {target['seq']}" in broken
