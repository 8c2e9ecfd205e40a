"""The sharing workflow's notices through a real SMTP server and a real webhook receiver on
127.0.0.1: the next actor is told at each step (the data office, the provider's organisation,
the applicant's), every attempt is in the history, and a failed notice never undoes a
decision."""

from __future__ import annotations

import email
import email.policy
import http.server
import json
import socketserver
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sharing_workflow_fixtures import Clock, District, build_district
from test_applications import FRI

from catalog.freshness.mailer import EmailSettings
from catalog.sharing.applications import Applications
from catalog.sharing.notices import NoticeSettings, SharingNotices
from warehouse.store import Store
from warehouse.workspace import Workspace

pytestmark = pytest.mark.both_stores

SENDER = "数据资源局 <sharing@data.example.cn>"


class SMTPHandler(socketserver.StreamRequestHandler):
    def reply(self, text: str) -> None:
        self.wfile.write(text.encode("ascii") + b"\r\n")
        self.wfile.flush()

    def handle(self) -> None:
        server: SMTPServer = self.server  # type: ignore[assignment]
        self.reply("220 localhost test SMTP")
        rcpts: list[str] = []
        while line := self.rfile.readline():
            command = line.decode("ascii", "replace").rstrip("\r\n")
            verb = command.split(" ", 1)[0].upper()
            if verb == "EHLO":
                self.reply("250-localhost\r\n250 8BITMIME")
            elif verb in ("HELO", "MAIL", "RSET", "NOOP"):
                rcpts = [] if verb in ("MAIL", "RSET") else rcpts
                self.reply("250 OK")
            elif verb == "RCPT":
                rcpts.append(command.split(":", 1)[1].split(">")[0].strip(" <"))
                self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 end with <CRLF>.<CRLF>")
                lines = []
                while (data := self.rfile.readline()) not in (b".\r\n", b""):
                    lines.append(data[1:] if data.startswith(b"..") else data)
                with server.lock:
                    server.messages.append((rcpts, b"".join(lines)))
                self.reply("250 OK queued")
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
        self.messages: list[tuple[list[str], bytes]] = []

    @property
    def port(self) -> int:
        return self.server_address[1]

    def parsed(self) -> list[tuple[list[str], email.message.EmailMessage]]:
        with self.lock:
            return [
                (rcpts, email.message_from_bytes(data, policy=email.policy.default))
                for rcpts, data in self.messages
            ]


class WebhookHandler(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        server: WebhookServer = self.server  # type: ignore[assignment]
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])).decode("utf-8"))
        with server.lock:
            server.payloads.append(body)
        self.send_response(500 if server.fail else 200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


class WebhookServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), WebhookHandler)
        self.lock = threading.Lock()
        self.payloads: list[dict[str, Any]] = []
        self.fail = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hooks/sharing"


def body_of(message: email.message.EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def serve(server: socketserver.BaseServer) -> Iterator[Any]:
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
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


@pytest.fixture
def district(workspace: Workspace, tmp_path: Path):
    with Store.open(workspace) as store:
        yield build_district(workspace, store, tmp_path / "sources")


def workflow(district: District, settings: NoticeSettings) -> Applications:
    return Applications(
        district.store,
        district.workspace,
        clock=Clock(FRI),
        notices=SharingNotices(district.store, settings),
    )


def test_each_step_tells_the_next_actor_by_email_and_webhook(
    district: District, smtp_server: SMTPServer, webhook: WebhookServer
):
    settings = NoticeSettings(
        email=EmailSettings(host="127.0.0.1", port=smtp_server.port, sender=SENDER),
        webhook_url=webhook.url,
        portal_url="https://mulu.example.cn",
    )
    apps = workflow(district, settings)
    who = district.who
    app = apps.apply(
        who["zj_officer"],
        entry_code=district.entries["conditional"],
        purpose="住房保障资格审核",
        scenario="核验",
    )
    assert [n["ok"] for n in app["notices"]] == [True, True]
    apps.check(who["office"], app["id"], action="forward")
    done = apps.answer(who["mz_officer"], app["id"], approve=False, reason="超出共享条件范围")
    assert done["state"] == "refused"

    mails = smtp_server.parsed()
    # The office (the stewards' organisation), then the provider, then the applicant.
    assert [rcpts for rcpts, _ in mails] == [
        ["sjj@example.cn"],
        ["mzj@example.cn"],
        ["zjj@example.cn"],
    ]
    subjects = [m["Subject"] for _, m in mails]
    assert subjects[0] == f"【共享申请】{app['number']} 新的共享申请待审核"
    assert "待答复" in subjects[1]
    assert "已拒绝" in subjects[2]
    text = body_of(mails[2][1])
    assert "理由：超出共享条件范围" in text
    assert f"https://mulu.example.cn/sharing/applications/{app['id']}" in text
    first = body_of(mails[0][1])
    assert "办理时限：2026-02-24T23:59:59（按时）" in first

    assert [(p["event"], p["audience"], p["org"]["code"]) for p in webhook.payloads] == [
        ("apply", "office", "office"),
        ("forward", "provider", "ORG-MZ"),
        ("refuse", "applicant", "ORG-ZJ"),
    ]
    # Forwarded on Fri Feb 13, unpublished: 10 working days (Sat Feb 14, Feb 24–28, Mar 2–5).
    assert webhook.payloads[1]["application"]["due_at"] == "2026-03-05T23:59:59"
    assert webhook.payloads[2]["application"]["reason"] == "超出共享条件范围"
    history = apps.get(who["zj_officer"], app["id"])["history"]
    notified = [e for e in history if e["action"] == "notify"]
    assert len(notified) == 6
    assert all(e["detail"]["ok"] for e in notified)


def test_failed_notices_never_undo_the_decision(district: District, webhook: WebhookServer):
    webhook.fail = True
    with socketserver.TCPServer(("127.0.0.1", 0), socketserver.BaseRequestHandler) as closed:
        dead_port = closed.server_address[1]  # closed on leaving: nothing listens there
    settings = NoticeSettings(
        email=EmailSettings(host="127.0.0.1", port=dead_port, sender=SENDER, timeout=5),
        webhook_url=webhook.url,
    )
    apps = workflow(district, settings)
    app = apps.apply(
        district.who["zj_officer"],
        entry_code=district.entries["conditional"],
        purpose="p",
        scenario="s",
    )
    assert app["state"] == "submitted"
    assert [(n["channel"], n["ok"]) for n in app["notices"]] == [
        ("email", False),
        ("webhook", False),
    ]
    assert "HTTP 500" in app["notices"][1]["error"]
    stored = district.store.applications.get(app["id"])
    assert stored is not None
    assert stored["state"] == "submitted"
    failed = [e for e in district.store.applications.events(app["id"]) if e["action"] == "notify"]
    assert [e["detail"]["ok"] for e in failed] == [False, False]
    assert failed[0]["reason"]  # why it failed


def test_no_channel_configured_sends_nothing(district: District):
    apps = workflow(district, NoticeSettings())
    app = apps.apply(
        district.who["zj_officer"],
        entry_code=district.entries["conditional"],
        purpose="p",
        scenario="s",
    )
    assert app["notices"] == []
    assert NoticeSettings.from_env({}).enabled is False
    env = {"MULU_SMTP_HOST": "127.0.0.1", "MULU_SMTP_FROM": SENDER, "MULU_SHARING_WEBHOOK": "x"}
    assert NoticeSettings.from_env(env).enabled is True
