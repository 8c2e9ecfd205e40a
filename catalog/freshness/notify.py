"""Sending freshness notices (数据更新提醒) and logging what went out.

``send_notices(store, notices, settings)`` sends each notice planned by
``notices.plan_notices`` (one email by SMTP, ``mailer``, or one JSON POST, ``webhook``, per
organisation and channel) and, after each message that went out, logs its entries as noticed
in the store in one transaction: a failure never marks an unsent notice as sent, and a re-run
sends only what is left. A dry run (``settings.dry_run``) renders, and sends and logs nothing.
"""

from __future__ import annotations

import json
import smtplib
import urllib.error
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from catalog.freshness.mailer import EmailSettings, Mailer, smtp_reason
from catalog.freshness.notice_text import (
    render_email,
    render_text,
    render_webhook,
    subject,
    webhook_body,
)
from catalog.freshness.notices import Notice, deadline_key
from catalog.freshness.webhook import post_json
from schemas.entry import catalogue_now
from schemas.errors import InvalidInput
from warehouse.store import Store
from warehouse.store.freshness_values import SentNotice


@dataclass(frozen=True)
class NotifySettings:
    """How notices go out: by email (``email``), by webhook (each notice names its URL, this
    says how long to wait), or not at all (``dry_run``: render only)."""

    email: EmailSettings = field(default_factory=EmailSettings)
    webhook_timeout: float = 10
    dry_run: bool = False


@dataclass
class NotifyResult:
    dry_run: bool = False
    sent: list[Notice] = field(default_factory=list)
    failed: list[tuple[Notice, str]] = field(default_factory=list)  # (notice, reason)
    skipped: list[tuple[Notice, str]] = field(default_factory=list)  # nothing left to send
    recorded: int = 0  # notices logged as sent
    # dry run: what would go out, one dict per notice: org_code, org_name, channel, recipient,
    # subject, entries, counts, content (readable text) and message (EmailMessage | JSON dict)
    messages: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed


def send_notices(
    store: Store, notices: Iterable[Notice], settings: NotifySettings | None = None
) -> NotifyResult:
    """Send each notice and log its entries as noticed right after it went out, one
    transaction per notice. A notice that fails is reported in ``failed`` and logged as
    nothing, so a re-run sends it again. A dry run: ``messages`` holds what would go out."""
    settings = settings or NotifySettings()
    notices = list(notices)
    if settings.dry_run:
        return NotifyResult(dry_run=True, messages=[_preview(n, settings) for n in notices])
    if any(n.channel == "email" for n in notices) and not settings.email.usable:
        raise InvalidInput("email notices need an SMTP host and a sender (From address)")
    result = NotifyResult()
    mailer = Mailer(settings.email) if settings.email.host else None
    try:
        for planned in notices:
            told = store.freshness.noticed_for(planned.channel, planned.recipient, planned.org_code)
            notice = planned.without(told)  # sent meanwhile by another run, or twice here
            if not notice.entries:
                result.skipped.append((planned, "already sent"))
                continue
            problem = _send(notice, settings, mailer)
            if problem is not None:
                result.failed.append((notice, problem))
                continue
            result.recorded += store.freshness.record_notices(_log_rows(notice))
            result.sent.append(notice)
    finally:
        if mailer is not None:
            mailer.close()
    return result


def _send(notice: Notice, settings: NotifySettings, mailer: Mailer | None) -> str | None:
    """Send one notice; None when it went out, else why not."""
    try:
        if notice.channel == "email":
            assert mailer is not None
            mailer.send(render_email(notice, sender=settings.email.sender))
        elif notice.channel == "webhook":
            post_json(notice.recipient, webhook_body(notice), settings.webhook_timeout)
        else:
            return f"unknown channel {notice.channel!r}"
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code} {exc.reason}"
    except smtplib.SMTPException as exc:
        return smtp_reason(exc)
    except (OSError, ValueError) as exc:  # unreachable, timed out, a malformed URL …
        return f"{type(exc).__name__}: {exc}"
    return None


def _log_rows(notice: Notice) -> list[SentNotice]:
    stamp = catalogue_now().isoformat()
    return [
        SentNotice(
            notice.org_code,
            notice.channel,
            notice.recipient,
            e["kind"],
            e["code"],
            deadline_key(e["deadline"]),
            stamp,
        )
        for e in notice.entries
    ]


def _preview(notice: Notice, settings: NotifySettings) -> dict[str, Any]:
    """What a dry run shows of one notice."""
    sender = settings.email.sender
    if notice.channel == "email":
        message: Any = render_email(notice, sender=sender)
        content = (
            f"From: {sender or '—'}\nTo: {notice.recipient}\n"
            f"Subject: {subject(notice)}\n\n{render_text(notice)}"
        )
    else:
        message = render_webhook(notice)
        content = f"POST {notice.recipient}\n\n" + json.dumps(message, ensure_ascii=False, indent=2)
    return {
        "org_code": notice.org_code,
        "org_name": notice.org_name,
        "channel": notice.channel,
        "recipient": notice.recipient,
        "subject": subject(notice),
        "entries": len(notice.entries),
        "counts": notice.counts,
        "content": content,
        "message": message,
    }
