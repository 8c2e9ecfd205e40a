"""Freshness notifications (数据更新提醒): overdue and due-soon notices per organisation.

``plan_notices`` turns the sweep into **one notice per organisation per channel** (email to the
organisation's ``contact_email``, or a webhook URL), holding only the entries not yet noticed:
a notice is keyed by ``(channel, recipient, kind, entry_code, deadline)`` in
``freshness_notices``, so the same overdue entry is never reported twice for the same deadline,
while a new deadline (the entry was updated, then became late again) or a new kind (due soon,
then overdue) is a new notice. ``send_notices`` sends them (SMTP; JSON POST) and, after each
message that went out, records its rows in one transaction: a failure never marks an unsent
notice as sent, and a re-run sends only what is left. ``dry_run`` renders, sends and records
nothing.

Rendering is pure (``render_email``, ``render_webhook``); nothing here reads the environment.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
import smtplib
import ssl
import urllib.error
import urllib.request
from collections.abc import Iterable, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from catalog.freshness.sla import Status
from catalog.freshness.sweep import statuses
from schemas.entry import catalogue_now
from warehouse.metadata import connect, write_transaction
from warehouse.workspace import Workspace

CHANNELS = ("email", "webhook")
KINDS = (Status.OVERDUE.value, Status.DUE_SOON.value)
SUBJECT_PREFIX = "【数据更新提醒】"
WEBHOOK_TYPE = "mulu.freshness.notice"
_ADDRESS_SPLIT = re.compile(r"[;,；，\s]+")


@dataclass
class Notice:
    """One message to one organisation on one channel: the entries it has not been told of.

    ``entries``: dicts with code, name, kind ('overdue' | 'due_soon'), cycle, last_update,
    deadline, due_at (deadline + grace), delay_days (past the deadline) or days_left.
    """

    org_code: str
    org_name: str
    recipient: str  # email address(es), comma-separated, or the webhook URL
    channel: str  # 'email' | 'webhook'
    entries: list[dict[str, Any]]
    at: dt.datetime = field(default_factory=catalogue_now)  # the moment the sweep judged

    def count(self, kind: str) -> int:
        return sum(1 for e in self.entries if e["kind"] == kind)

    @property
    def counts(self) -> dict[str, int]:
        return {kind: self.count(kind) for kind in KINDS}


@dataclass
class MissingContact:
    """An organisation with entries to notify by email but no usable ``contact_email``."""

    org_code: str
    org_name: str
    entries: int  # its entries of the requested kinds
    contact_email: str | None = None  # the unusable value, when there is one


class NoticePlan(list[Notice]):
    """The notices to send (a list of ``Notice``), plus the organisations that could not be
    emailed for want of a ``contact_email`` (``without_email``)."""

    def __init__(self, notices: Iterable[Notice] = (),
                 without_email: Iterable[MissingContact] = ()):
        super().__init__(notices)
        self.without_email: list[MissingContact] = list(without_email)


@dataclass
class NotifyResult:
    dry_run: bool = False
    sent: list[Notice] = field(default_factory=list)
    failed: list[tuple[Notice, str]] = field(default_factory=list)  # (notice, reason)
    skipped: list[tuple[Notice, str]] = field(default_factory=list)  # nothing left to send
    recorded: int = 0  # freshness_notices rows written
    # dry run: what would go out, one dict per notice: org_code, org_name, channel, recipient,
    # subject, entries, counts, content (readable text) and message (EmailMessage | JSON dict)
    messages: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed


# --- planning -------------------------------------------------------------------------------

def deadline_key(deadline: dt.datetime | str) -> str:
    """The deadline as stored in ``freshness_notices.deadline`` (ISO, catalogue time)."""
    return deadline if isinstance(deadline, str) else deadline.isoformat()


def email_addresses(contact_email: str | None) -> list[str]:
    """The addresses in a contact_email field ('a@x.cn; b@y.cn' → both); [] when unusable."""
    if not contact_email:
        return []
    parts = [p.strip().strip("<>") for p in _ADDRESS_SPLIT.split(contact_email.strip())]
    parts = [p for p in parts if p]
    if not parts or not all(re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", p) for p in parts):
        return []
    return parts


def _entry(row: dict[str, Any]) -> dict[str, Any]:
    return {"code": row["code"], "name": row["name"], "kind": row["status"],
            "cycle": row["cycle"], "last_update": row["last_update"], "deadline": row["deadline"],
            "due_at": row["due_at"], "delay_days": row["delay_days"],
            "days_left": row["days_left"]}


def _entry_order(entry: dict[str, Any]) -> tuple[Any, ...]:
    """Overdue first, most late first; then due soon, soonest first."""
    return (KINDS.index(entry["kind"]), -(entry["delay_days"] or 0), entry["days_left"] or 0,
            entry["code"])


def plan_notices(workspace: Workspace, *, channels: Iterable[str],
                 webhook_url: str | None = None, at: dt.datetime | None = None,
                 kinds: Sequence[str] = KINDS, org: str | None = None) -> NoticePlan:
    """The notices due at ``at`` (default now): one per organisation and channel, each with the
    entries of ``kinds`` not already noticed on that channel to that recipient for that
    deadline. ``org`` (code or name) limits it to one organisation. Organisations to email
    without a usable contact_email are in ``.without_email``, not silently dropped."""
    channels = set(channels)
    if not channels or not channels <= set(CHANNELS):
        raise ValueError(f"channels must be among {', '.join(CHANNELS)}: {sorted(channels)}")
    if "webhook" in channels and not webhook_url:
        raise ValueError("the webhook channel needs a webhook_url")
    kinds = tuple(Status(k).value for k in kinds)
    if not kinds or not set(kinds) <= set(KINDS):
        raise ValueError(f"kinds must be among {', '.join(KINDS)}: {list(kinds)}")
    at = at or catalogue_now()
    by_org: dict[str, list[dict[str, Any]]] = {}
    for row in statuses(workspace, at=at, org=org):
        if row["status"] in kinds and row["deadline"] is not None:
            by_org.setdefault(row["provider_code"], []).append(row)
    if not by_org:
        return NoticePlan()
    with closing(connect(workspace.metadata_db)) as con:
        orgs = {r["code"]: dict(r) for r in con.execute(
            "SELECT code, name, contact_email FROM organisations")}
        noticed = {tuple(r) for r in con.execute(
            "SELECT channel, recipient, kind, entry_code, deadline FROM freshness_notices "
            f"WHERE channel IN ({', '.join('?' * len(channels))})", sorted(channels))}
    notices, missing = [], []
    for org_code in sorted(by_org):
        rows = by_org[org_code]
        info = orgs.get(org_code) or {}
        org_name = info.get("name") or rows[0]["provider_name"]
        targets = []
        if "email" in channels:
            addresses = email_addresses(info.get("contact_email"))
            if addresses:
                targets.append(("email", ", ".join(addresses)))
            else:
                missing.append(MissingContact(org_code, org_name, len(rows),
                                              info.get("contact_email") or None))
        if "webhook" in channels:
            targets.append(("webhook", webhook_url))
        for channel, recipient in targets:
            entries = [_entry(r) for r in rows
                       if (channel, recipient, r["status"], r["code"],
                           deadline_key(r["deadline"])) not in noticed]
            if entries:
                notices.append(Notice(org_code, org_name, recipient, channel,
                                      sorted(entries, key=_entry_order), at))
    return NoticePlan(notices, missing)


# --- rendering ------------------------------------------------------------------------------

def _when(moment: dt.datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else "—"


def _days(prefix: str, days: float) -> str:
    """'已逾期 12 天', '剩余不足 1 天'."""
    return f"{prefix}不足 1 天" if days < 1 else f"{prefix} {int(days)} 天"


def _lateness(entry: dict[str, Any]) -> str:
    if entry["delay_days"] is not None:
        late = _days("已逾期", entry["delay_days"])
        return late if entry["kind"] == Status.OVERDUE else f"{late}（宽限期内）"
    return _days("剩余", entry["days_left"] or 0)


def subject(notice: Notice) -> str:
    """'【数据更新提醒】示范区住建局：12 条目录逾期、3 条即将到期'."""
    overdue, soon = notice.count(Status.OVERDUE), notice.count(Status.DUE_SOON)
    parts = []
    if overdue:
        parts.append(f"{overdue} 条目录逾期")
    if soon:
        parts.append(f"{soon} 条{'' if overdue else '目录'}即将到期")
    return f"{SUBJECT_PREFIX}{notice.org_name}：{'、'.join(parts)}"


def render_text(notice: Notice) -> str:
    """The plain-text body: the entries by kind, each with its cycle, deadline and lateness."""
    lines = [f"{notice.org_name}：", "",
             f"截至 {_when(notice.at)}，贵单位提供的以下政务信息资源目录需要更新数据"
             "（更新后请在目录系统中报送最近更新时间）：", ""]
    for kind in KINDS:
        entries = [e for e in notice.entries if e["kind"] == kind]
        if not entries:
            continue
        lines.append(f"{Status(kind).chinese}（{len(entries)} 条）：")
        for i, e in enumerate(entries, 1):
            lines.append(f"  {i}. {e['code']} {e['name']}")
            lines.append(f"     更新周期：{e['cycle'] or '—'}；应更新时间：{_when(e['deadline'])}"
                         f"；{_lateness(e)}")
        lines.append("")
    lines.append("本邮件由目录系统自动发送，同一目录同一应更新时间只提醒一次。")
    return "\n".join(lines) + "\n"


def render_html(notice: Notice) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(Status(e['kind']).chinese)}</td><td>{html.escape(e['code'])}</td>"
        f"<td>{html.escape(e['name'])}</td><td>{html.escape(e['cycle'] or '—')}</td>"
        f"<td>{_when(e['deadline'])}</td><td>{html.escape(_lateness(e))}</td></tr>"
        for e in notice.entries)
    return (f"<html><body><p>{html.escape(notice.org_name)}：</p>"
            f"<p>截至 {_when(notice.at)}，贵单位提供的以下政务信息资源目录需要更新数据"
            "（更新后请在目录系统中报送最近更新时间）：</p>"
            '<table border="1" cellspacing="0" cellpadding="4">'
            "<tr><th>状态</th><th>信息资源代码</th><th>信息资源名称</th><th>更新周期</th>"
            f"<th>应更新时间</th><th>逾期/剩余</th></tr>{rows}</table>"
            "<p>本邮件由目录系统自动发送，同一目录同一应更新时间只提醒一次。</p></body></html>")


def render_email(notice: Notice, *, sender: str | None = None) -> EmailMessage:
    """The email for ``notice``: UTF-8 subject and body (plain text with an HTML alternative),
    base64-encoded so no 8BITMIME is needed on the way."""
    message = EmailMessage()
    message["Subject"] = subject(notice)
    if sender:
        message["From"] = sender
    message["To"] = notice.recipient
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain="mulu.local")
    message.set_content(render_text(notice), charset="utf-8", cte="base64")
    message.add_alternative(render_html(notice), subtype="html", charset="utf-8", cte="base64")
    return message


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def render_webhook(notice: Notice) -> dict[str, Any]:
    """The JSON body POSTed for ``notice`` (a plain dict; send with ensure_ascii=False)."""
    return {
        "type": WEBHOOK_TYPE,
        "org": {"code": notice.org_code, "name": notice.org_name},
        "at": _iso(notice.at),
        "counts": notice.counts,
        "subject": subject(notice),
        "text": render_text(notice),
        "entries": [{"code": e["code"], "name": e["name"], "kind": e["kind"],
                     "kind_name": Status(e["kind"]).chinese, "cycle": e["cycle"],
                     "last_update": _iso(e["last_update"]), "deadline": _iso(e["deadline"]),
                     "due_at": _iso(e["due_at"]), "delay_days": e["delay_days"],
                     "days_left": e["days_left"]} for e in notice.entries],
    }


def webhook_body(notice: Notice) -> bytes:
    return json.dumps(render_webhook(notice), ensure_ascii=False).encode("utf-8")


# --- sending --------------------------------------------------------------------------------

class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirected POST would arrive as a bodiless GET: treat a redirect as a failure."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


class _Mailer:
    """One SMTP connection reused across messages; reopened after a failure."""

    def __init__(self, host: str, port: int, *, user: str | None, password: str | None,
                 starttls: bool, use_ssl: bool, timeout: float):
        self.host, self.port, self.timeout = host, port, timeout
        self.user, self.password, self.starttls, self.use_ssl = user, password, starttls, use_ssl
        self.smtp: smtplib.SMTP | None = None

    def _open(self) -> smtplib.SMTP:
        if self.use_ssl:
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout,
                                                  context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            smtp.ehlo()
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if self.user:
                smtp.login(self.user, self.password or "")
        except BaseException:
            smtp.close()
            raise
        return smtp

    def send(self, message: EmailMessage) -> None:
        if self.smtp is None:
            self.smtp = self._open()
        try:
            self.smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused:
            raise  # the connection is still good
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self.smtp is not None:
            smtp, self.smtp = self.smtp, None
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()


def _post(url: str, body: bytes, timeout: float) -> None:
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json; charset=utf-8", "User-Agent": "mulu-freshness"})
    opener = urllib.request.build_opener(_NoRedirect)
    with opener.open(request, timeout=timeout) as response:
        response.read()
        if not 200 <= response.status < 300:
            raise urllib.error.HTTPError(url, response.status, response.reason,
                                         response.headers, None)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        refused = "; ".join(f"{a}: {c} {m.decode(errors='replace') if isinstance(m, bytes) else m}"
                            for a, (c, m) in exc.recipients.items())
        return f"recipients refused ({refused})"
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error
        text = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
        return f"SMTP {exc.smtp_code} {text}"
    return f"{type(exc).__name__}: {exc}"


def _unsent(con: Any, notice: Notice) -> list[dict[str, Any]]:
    """The notice's entries not recorded meanwhile (another run, or the same plan sent twice)."""
    keys = {(r["kind"], r["entry_code"], r["deadline"]) for r in con.execute(
        "SELECT kind, entry_code, deadline FROM freshness_notices WHERE channel = ? AND "
        "recipient = ? AND org_code = ?", (notice.channel, notice.recipient, notice.org_code))}
    return [e for e in notice.entries
            if (e["kind"], e["code"], deadline_key(e["deadline"])) not in keys]


def _record(con: Any, notice: Notice) -> int:
    stamp = catalogue_now().isoformat()
    rows = [(notice.org_code, notice.channel, notice.recipient, e["kind"], e["code"],
             deadline_key(e["deadline"]), stamp) for e in notice.entries]
    with write_transaction(con):
        before = con.total_changes
        con.executemany(
            "INSERT OR IGNORE INTO freshness_notices (org_code, channel, recipient, kind, "
            "entry_code, deadline, sent_at) VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        return con.total_changes - before


def send_notices(workspace: Workspace, notices: Iterable[Notice], *,
                 smtp_host: str | None = None, smtp_port: int = 25, sender: str | None = None,
                 webhook_timeout: float = 10, dry_run: bool = False,
                 smtp_user: str | None = None, smtp_password: str | None = None,
                 starttls: bool = False, smtp_ssl: bool = False,
                 smtp_timeout: float = 30) -> NotifyResult:
    """Send each notice (one email or one POST per organisation and channel) and record its
    entries as noticed right after it went out, in one transaction per notice. A notice that
    fails is reported in ``failed`` and recorded as nothing, so a re-run sends it again.
    ``dry_run``: send and record nothing; ``messages`` holds what would have gone out."""
    notices = list(notices)
    result = NotifyResult(dry_run=dry_run)
    if any(n.channel == "email" for n in notices) and not dry_run and not (smtp_host and sender):
        raise ValueError("email notices need smtp_host and sender")
    if dry_run:
        for notice in notices:
            if notice.channel == "email":
                message: Any = render_email(notice, sender=sender)
                content = (f"From: {sender or '—'}\nTo: {notice.recipient}\n"
                           f"Subject: {subject(notice)}\n\n{render_text(notice)}")
            else:
                message = render_webhook(notice)
                content = f"POST {notice.recipient}\n\n" + json.dumps(
                    message, ensure_ascii=False, indent=2)
            result.messages.append({"org_code": notice.org_code, "org_name": notice.org_name,
                                    "channel": notice.channel, "recipient": notice.recipient,
                                    "subject": subject(notice), "entries": len(notice.entries),
                                    "counts": notice.counts, "content": content,
                                    "message": message})
        return result
    mailer = None
    if smtp_host:
        mailer = _Mailer(smtp_host, smtp_port, user=smtp_user, password=smtp_password,
                         starttls=starttls, use_ssl=smtp_ssl, timeout=smtp_timeout)
    with closing(connect(workspace.metadata_db)) as con:
        try:
            for notice in notices:
                entries = _unsent(con, notice)
                if not entries:
                    result.skipped.append((notice, "already sent"))
                    continue
                if len(entries) != len(notice.entries):
                    notice = Notice(notice.org_code, notice.org_name, notice.recipient,
                                    notice.channel, entries, notice.at)
                try:
                    if notice.channel == "email":
                        assert mailer is not None
                        mailer.send(render_email(notice, sender=sender))
                    elif notice.channel == "webhook":
                        _post(notice.recipient, webhook_body(notice), webhook_timeout)
                    else:
                        raise ValueError(f"unknown channel {notice.channel!r}")
                except (OSError, smtplib.SMTPException, ValueError) as exc:
                    result.failed.append((notice, _reason(exc)))
                    continue
                result.recorded += _record(con, notice)
                result.sent.append(notice)
        finally:
            if mailer is not None:
                mailer.close()
    return result


__all__ = ["CHANNELS", "KINDS", "MissingContact", "Notice", "NoticePlan", "NotifyResult",
           "deadline_key", "email_addresses", "plan_notices", "render_email", "render_html",
           "render_text", "render_webhook", "send_notices", "subject", "webhook_body"]
