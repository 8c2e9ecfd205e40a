"""Freshness notifications through a real SMTP server and real webhook receivers on 127.0.0.1:
one message per organisation, only its overdue/due-soon entries, never the same notice twice,
a new deadline noticed again, dry run, failures leave nothing recorded."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import http.server
import json
import socketserver
import threading
from collections.abc import Iterator
from dataclasses import asdict, replace
from typing import Any

import pytest

from catalog.directory import Directory
from catalog.freshness.mailer import EmailSettings
from catalog.freshness.notice_text import render_email, render_webhook
from catalog.freshness.notices import Notice, email_addresses, plan_notices
from catalog.freshness.notify import NotifySettings, send_notices
from schemas.entry import catalogue_now
from schemas.errors import InvalidInput
from warehouse.store import Store

pytestmark = pytest.mark.both_stores

SENDER = "数据资源局 <freshness@data.example.cn>"
ORGS = [
    {"code": "ORG-A", "name": "示范区住建局", "contact_email": "zjj@example.cn"},
    {"code": "ORG-B", "name": "示范区民政局", "contact_email": "mzj@example.cn; ll@example.cn"},
    {"code": "ORG-C", "name": "示范区水务局"},  # no contact_email
]


# --- a tiny real SMTP server ----------------------------------------------------------------


class SMTPHandler(socketserver.StreamRequestHandler):
    def reply(self, text: str) -> None:
        self.wfile.write(text.encode("ascii") + b"\r\n")
        self.wfile.flush()

    def handle(self) -> None:
        server: SMTPServer = self.server  # type: ignore[assignment]
        self.reply("220 localhost test SMTP")
        mail_from, rcpts = None, []
        while line := self.rfile.readline():
            command = line.decode("ascii", "replace").rstrip("\r\n")
            verb = command.split(" ", 1)[0].upper()
            if verb == "EHLO":
                self.reply("250-localhost\r\n250 8BITMIME")
            elif verb == "HELO":
                self.reply("250 localhost")
            elif verb == "MAIL":
                mail_from, rcpts = command.split(":", 1)[1].split(">")[0].strip(" <"), []
                self.reply("250 OK")
            elif verb == "RCPT":
                address = command.split(":", 1)[1].split(">")[0].strip(" <")
                if address in server.reject:
                    self.reply("550 mailbox unavailable")
                else:
                    rcpts.append(address)
                    self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 end with <CRLF>.<CRLF>")
                lines = []
                while (data := self.rfile.readline()) not in (b".\r\n", b""):
                    lines.append(data[1:] if data.startswith(b"..") else data)
                with server.lock:
                    server.messages.append((mail_from, rcpts, b"".join(lines)))
                self.reply("250 OK queued")
            elif verb in ("RSET", "NOOP"):
                if verb == "RSET":
                    mail_from, rcpts = None, []
                self.reply("250 OK")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("502 not implemented")


class SMTPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), SMTPHandler)
        self.lock = threading.Lock()
        self.messages: list[tuple[str | None, list[str], bytes]] = []
        self.reject: set[str] = set()

    @property
    def port(self) -> int:
        return self.server_address[1]

    def parsed(self) -> list[email.message.EmailMessage]:
        with self.lock:
            return [
                email.message_from_bytes(data, policy=email.policy.default)
                for _, _, data in self.messages
            ]


# --- a real webhook receiver ----------------------------------------------------------------


class WebhookHandler(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        server: WebhookServer = self.server  # type: ignore[assignment]
        body = self.rfile.read(int(self.headers["Content-Length"]))
        payload = json.loads(body.decode("utf-8"))
        with server.lock:
            server.requests.append((self.path, self.headers["Content-Type"], body))
        status = 500 if payload["org"]["code"] in server.fail_orgs else 200
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


class WebhookServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), WebhookHandler)
        self.lock = threading.Lock()
        self.requests: list[tuple[str, str, bytes]] = []
        self.fail_orgs: set[str] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hooks/freshness"

    def payloads(self) -> list[dict[str, Any]]:
        with self.lock:
            return [json.loads(body) for _, _, body in self.requests]


def serve(server: socketserver.BaseServer) -> Iterator[Any]:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def smtp_server() -> Iterator[SMTPServer]:
    yield from serve(SMTPServer())


@pytest.fixture
def webhook() -> Iterator[WebhookServer]:
    yield from serve(WebhookServer())


# --- catalogue ------------------------------------------------------------------------------

NOW = catalogue_now()
AGO = {"overdue": 60, "due_soon": 28, "fresh": 1}  # days since the last update, cycle 每月


@pytest.fixture
def catalogue(directory: Directory) -> dict[str, dict[str, str]]:
    """{org code: {label: entry code}}: A and C have overdue, due-soon and fresh entries, B an
    overdue and a fresh one."""
    directory.add_organisations(ORGS)
    plan = {
        "ORG-A": ["overdue", "due_soon", "fresh", "overdue2"],
        "ORG-B": ["overdue", "fresh"],
        "ORG-C": ["overdue", "due_soon", "fresh"],
    }
    codes: dict[str, dict[str, str]] = {}
    for org in ORGS:
        for label in plan[org["code"]]:
            days = AGO[label.rstrip("2")] + (5 if label.endswith("2") else 0)
            codes.setdefault(org["code"], {})[label] = directory.create(
                {
                    "name": f"{org['name']}{label}台账",
                    "provider_name": org["name"],
                    "provider_code": org["code"],
                    "share_type": "有条件共享",
                    "update_cycle": "每月",
                    "updated_at": NOW - dt.timedelta(days=days),
                }
            )
    return codes


@pytest.fixture
def store(directory: Directory) -> Store:
    return directory.store


def noticed(store: Store) -> list[dict[str, Any]]:
    """The log of notices sent (without the time each went out)."""
    return [
        {k: v for k, v in asdict(n).items() if k != "sent_at"} for n in store.freshness.notices()
    ]


def smtp(server: SMTPServer) -> NotifySettings:
    return NotifySettings(email=EmailSettings(host="127.0.0.1", port=server.port, sender=SENDER))


def body_of(message: email.message.EmailMessage) -> str:
    return message.get_body(("plain",)).get_content()


# --- tests ----------------------------------------------------------------------------------


def test_one_email_per_organisation_with_only_its_late_entries_and_no_repeat(
    store: Store, catalogue: dict[str, dict[str, str]], smtp_server: SMTPServer
):
    plan = plan_notices(store, channels={"email"})
    assert [(n.org_code, n.recipient) for n in plan] == [
        ("ORG-A", "zjj@example.cn"),
        ("ORG-B", "mzj@example.cn, ll@example.cn"),
    ]
    assert [(m.org_code, m.org_name, m.entries) for m in plan.without_email] == [
        ("ORG-C", "示范区水务局", 2)
    ]

    result = send_notices(store, plan, smtp(smtp_server))
    assert result.ok
    assert [n.org_code for n in result.sent] == ["ORG-A", "ORG-B"]
    assert result.recorded == 4
    assert [(f, sorted(r)) for f, r, _ in smtp_server.messages] == [
        ("freshness@data.example.cn", ["zjj@example.cn"]),
        ("freshness@data.example.cn", ["ll@example.cn", "mzj@example.cn"]),
    ]
    a, b = smtp_server.parsed()
    assert a["Subject"] == "【数据更新提醒】示范区住建局：2 条目录逾期、1 条即将到期"
    assert b["Subject"] == "【数据更新提醒】示范区民政局：1 条目录逾期"
    assert a["From"] == SENDER
    assert a["To"] == "zjj@example.cn"
    text = body_of(a)
    a_codes = catalogue["ORG-A"]
    for label in ("overdue", "overdue2", "due_soon"):
        assert a_codes[label] in text
    assert a_codes["fresh"] not in text
    assert not any(code in text for org in ("ORG-B", "ORG-C") for code in catalogue[org].values())
    assert "更新周期：每月" in text
    assert "逾期（2 条）" in text
    assert "即将到期（1 条）" in text
    # most late first
    assert text.index(a_codes["overdue2"]) < text.index(a_codes["overdue"])
    html = a.get_body(("html",)).get_content()
    assert a_codes["due_soon"] in html
    assert "示范区住建局" in html
    assert catalogue["ORG-B"]["overdue"] in body_of(b)
    assert catalogue["ORG-B"]["fresh"] not in body_of(b)

    rows = noticed(store)
    assert {(r["org_code"], r["entry_code"], r["kind"]) for r in rows} == {
        ("ORG-A", a_codes["overdue"], "overdue"),
        ("ORG-A", a_codes["overdue2"], "overdue"),
        ("ORG-A", a_codes["due_soon"], "due_soon"),
        ("ORG-B", catalogue["ORG-B"]["overdue"], "overdue"),
    }
    assert {r["channel"] for r in rows} == {"email"}

    # second run: nothing new, nothing sent; the same plan sent again is skipped, not re-sent
    assert list(plan_notices(store, channels={"email"})) == []
    again = send_notices(store, plan, smtp(smtp_server))
    assert again.sent == []
    assert [why for _, why in again.skipped] == ["already sent"] * 2
    assert len(smtp_server.messages) == 2
    assert len(noticed(store)) == 4


def test_new_deadline_or_new_kind_is_noticed_again(
    store: Store,
    directory: Directory,
    catalogue: dict[str, dict[str, str]],
    smtp_server: SMTPServer,
):
    send_notices(store, plan_notices(store, channels={"email"}, org="ORG-A"), smtp(smtp_server))
    first = {r["entry_code"]: r["deadline"] for r in noticed(store)}
    overdue = catalogue["ORG-A"]["overdue"]
    directory.report_update(overdue, at=NOW)  # updated: fresh again, a new deadline
    assert list(plan_notices(store, channels={"email"}, org="ORG-A")) == []

    later = NOW + dt.timedelta(days=45)  # every entry of A is overdue by then
    (notice,) = plan_notices(store, channels={"email"}, org="示范区住建局", at=later)
    by_code = {e["code"]: e for e in notice.entries}
    assert by_code[overdue]["kind"] == "overdue"
    assert by_code[overdue]["deadline"].isoformat() > first[overdue]  # the new deadline
    # the due-soon entry is overdue now (a new kind), the fresh one late for the first time;
    # the other overdue entry was noticed for this very deadline already
    assert by_code[catalogue["ORG-A"]["due_soon"]]["kind"] == "overdue"
    assert catalogue["ORG-A"]["fresh"] in by_code
    assert catalogue["ORG-A"]["overdue2"] not in by_code
    result = send_notices(store, [notice], smtp(smtp_server))
    assert result.ok
    assert result.recorded == 3
    assert len(smtp_server.messages) == 2
    assert overdue in body_of(smtp_server.parsed()[1])
    assert [r["deadline"] for r in noticed(store) if r["entry_code"] == overdue] == sorted(
        [first[overdue], by_code[overdue]["deadline"].isoformat()]
    )


def test_dry_run_sends_and_records_nothing(
    store: Store,
    catalogue: dict[str, dict[str, str]],
    smtp_server: SMTPServer,
    webhook: WebhookServer,
):
    plan = plan_notices(store, channels={"email", "webhook"}, webhook_url=webhook.url)
    assert [(n.org_code, n.channel) for n in plan] == [
        ("ORG-A", "email"),
        ("ORG-A", "webhook"),
        ("ORG-B", "email"),
        ("ORG-B", "webhook"),
        ("ORG-C", "webhook"),
    ]
    result = send_notices(store, plan, replace(smtp(smtp_server), dry_run=True))
    assert result.dry_run
    assert result.sent == []
    assert result.recorded == 0
    assert smtp_server.messages == []
    assert webhook.requests == []
    assert noticed(store) == []
    assert len(result.messages) == 5
    first = result.messages[0]
    assert first["subject"] == "【数据更新提醒】示范区住建局：2 条目录逾期、1 条即将到期"
    assert catalogue["ORG-A"]["overdue"] in first["content"]
    assert first["message"]["Subject"] == first["subject"]
    assert result.messages[-1]["message"]["org"]["code"] == "ORG-C"
    # dry run needs no SMTP server at all
    assert (
        send_notices(store, plan, NotifySettings(dry_run=True)).messages[0]["recipient"]
        == "zjj@example.cn"
    )
    assert len(plan_notices(store, channels={"email"})) == 2


def test_smtp_refusal_records_nothing_for_that_organisation_and_a_rerun_sends_it(
    store: Store, catalogue: dict[str, dict[str, str]], smtp_server: SMTPServer
):
    smtp_server.reject = {"zjj@example.cn"}
    result = send_notices(store, plan_notices(store, channels={"email"}), smtp(smtp_server))
    assert [n.org_code for n in result.sent] == ["ORG-B"]
    ((failed, reason),) = result.failed
    assert failed.org_code == "ORG-A"
    assert "550" in reason
    assert not result.ok
    assert {r["org_code"] for r in noticed(store)} == {"ORG-B"}

    smtp_server.reject = set()
    (notice,) = plan_notices(store, channels={"email"})
    assert notice.org_code == "ORG-A"
    assert len(notice.entries) == 3
    assert send_notices(store, [notice], smtp(smtp_server)).ok
    assert len(smtp_server.messages) == 2
    assert len(noticed(store)) == 4


def test_webhook_posts_json_per_organisation(
    store: Store, catalogue: dict[str, dict[str, str]], webhook: WebhookServer
):
    plan = plan_notices(store, channels={"webhook"}, webhook_url=webhook.url)
    assert plan.without_email == []  # only the email channel needs a contact_email
    result = send_notices(store, plan)
    assert result.ok
    assert [n.org_code for n in result.sent] == ["ORG-A", "ORG-B", "ORG-C"]
    path, content_type, raw = webhook.requests[0]
    assert path == "/hooks/freshness"
    assert content_type == "application/json; charset=utf-8"
    assert "示范区住建局".encode() in raw  # UTF-8, not \\u escapes
    payloads = webhook.payloads()
    assert [p["org"] for p in payloads] == [{"code": o["code"], "name": o["name"]} for o in ORGS]
    a = payloads[0]
    assert a["type"] == "mulu.freshness.notice"
    assert a["counts"] == {"overdue": 2, "due_soon": 1}
    assert [(e["code"], e["kind"]) for e in a["entries"]] == [
        (catalogue["ORG-A"]["overdue2"], "overdue"),
        (catalogue["ORG-A"]["overdue"], "overdue"),
        (catalogue["ORG-A"]["due_soon"], "due_soon"),
    ]
    entry = a["entries"][0]
    assert entry["kind_name"] == "逾期"
    assert entry["cycle"] == "每月"
    assert entry["delay_days"] > 25
    assert entry["days_left"] is None
    assert dt.datetime.fromisoformat(entry["deadline"]) < NOW
    assert a["entries"][2]["days_left"] is not None
    assert a["subject"].startswith("【数据更新提醒】示范区住建局")
    assert "更新周期" in a["text"]
    assert {r["channel"] for r in noticed(store)} == {"webhook"}
    assert {r["recipient"] for r in noticed(store)} == {webhook.url}
    # the email channel is a separate notice: the webhook having been told does not count
    assert len(plan_notices(store, channels={"email"})) == 2
    assert list(plan_notices(store, channels={"webhook"}, webhook_url=webhook.url)) == []


def test_webhook_http_500_records_nothing_for_that_organisation_and_a_rerun_sends_it(
    store: Store, catalogue: dict[str, dict[str, str]], webhook: WebhookServer
):
    webhook.fail_orgs = {"ORG-B"}
    result = send_notices(store, plan_notices(store, channels={"webhook"}, webhook_url=webhook.url))
    assert [n.org_code for n in result.sent] == ["ORG-A", "ORG-C"]
    assert [(n.org_code, why) for n, why in result.failed] == [
        ("ORG-B", "HTTP 500 Internal Server Error")
    ]
    assert "ORG-B" not in {r["org_code"] for r in noticed(store)}

    webhook.fail_orgs = set()
    (notice,) = plan_notices(store, channels={"webhook"}, webhook_url=webhook.url)
    assert notice.org_code == "ORG-B"
    assert send_notices(store, [notice]).ok
    assert [p["org"]["code"] for p in webhook.payloads()] == ["ORG-A", "ORG-B", "ORG-C", "ORG-B"]
    assert list(plan_notices(store, channels={"webhook"}, webhook_url=webhook.url)) == []


def test_unreachable_smtp_server_fails_cleanly(store: Store, catalogue: dict[str, dict[str, str]]):
    with socketserver.TCPServer(("127.0.0.1", 0), socketserver.BaseRequestHandler) as probe:
        port = probe.server_address[1]  # closed again when the block ends: nobody listens
    result = send_notices(
        store,
        plan_notices(store, channels={"email"}),
        NotifySettings(email=EmailSettings(host="127.0.0.1", port=port, sender=SENDER, timeout=5)),
    )
    assert result.sent == []
    assert len(result.failed) == 2
    assert noticed(store) == []


def test_render_email_and_webhook_directly():
    deadline = dt.datetime(2026, 3, 1, 9, 0)
    notice = Notice(
        "ORG-X",
        "示范区住建局",
        "zjj@example.cn",
        "email",
        [
            {
                "code": "300000/000007",
                "name": "房屋租赁备案信息",
                "kind": "due_soon",
                "cycle": "每月",
                "last_update": deadline - dt.timedelta(days=28),
                "deadline": deadline,
                "due_at": deadline + dt.timedelta(days=5),
                "delay_days": 1.5,
                "days_left": None,
            }
        ],
        at=dt.datetime(2026, 3, 2, 21, 0),
    )
    message = render_email(notice, sender=SENDER)
    assert message["Subject"] == "【数据更新提醒】示范区住建局：1 条目录即将到期"
    parsed = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
    assert parsed["Subject"] == message["Subject"]
    assert message.as_bytes().isascii()  # base64 bodies, RFC 2047 headers
    text = body_of(parsed)
    assert "300000/000007 房屋租赁备案信息" in text
    assert "应更新时间：2026-03-01 09:00" in text
    assert "已逾期 1 天（宽限期内）" in text
    body = render_webhook(notice)
    assert body["counts"] == {"overdue": 0, "due_soon": 1}
    assert body["entries"][0]["deadline"] == "2026-03-01T09:00:00"
    assert json.loads(json.dumps(body, ensure_ascii=False)) == body


def test_bad_arguments_and_contact_email_parsing(store: Store):
    with pytest.raises(InvalidInput, match="webhook_url"):
        plan_notices(store, channels={"webhook"})
    with pytest.raises(InvalidInput, match="channels"):
        plan_notices(store, channels={"sms"})
    with pytest.raises(InvalidInput, match="kinds"):
        plan_notices(store, channels={"email"}, kinds=("fresh",))
    assert email_addresses("a@x.cn；b@y.cn") == ["a@x.cn", "b@y.cn"]
    assert email_addresses("<a@x.cn>") == ["a@x.cn"]
    assert email_addresses("无") == []
    assert email_addresses(None) == []
    email_notice = Notice("ORG-X", "示范区住建局", "zjj@example.cn", "email", [])
    with pytest.raises(InvalidInput, match="SMTP host"):
        send_notices(store, [email_notice], NotifySettings())  # email needs a server
