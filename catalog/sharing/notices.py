"""Notices of the sharing workflow (共享申请通知): the next actor hears when an application
reaches them, through the freshness notices' channels (SMTP email, ``catalog.freshness.mailer``;
a JSON POST, ``catalog.freshness.webhook``).

Who is told, by the action that just happened:

* apply, escalate → the data office (``MULU_SHARING_OFFICE_EMAIL``, else the contact_email of
  the organisations the active stewards belong to);
* forward → the providing organisation (its contact_email);
* approve, refuse, settle → the applicant's organisation (its contact_email);
* withdraw → the organisation whose turn it was (the office or the provider).

Settings come from the environment, like ``mulu freshness notify``: ``MULU_SMTP_HOST``,
``MULU_SMTP_PORT``, ``MULU_SMTP_USER``, ``MULU_SMTP_PASSWORD``, ``MULU_SMTP_STARTTLS``,
``MULU_SMTP_FROM`` and ``MULU_SHARING_WEBHOOK`` (one POST per notice), ``MULU_PORTAL_URL`` (links).
With neither email nor webhook set, nothing is sent. A failed send is returned (and recorded by
the workflow as a ``notify`` event), never raised: a notice never undoes a decision.
"""

from __future__ import annotations

import json
import os
import smtplib
import urllib.error
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from email.message import EmailMessage
from typing import Any

from catalog.freshness.mailer import EmailSettings, Mailer, smtp_reason
from catalog.freshness.notices import email_addresses
from catalog.freshness.webhook import post_json
from schemas.roles import Role
from warehouse.store import Store

AUDIENCE = {
    "apply": "office",
    "escalate": "office",
    "forward": "provider",
    "approve": "applicant",
    "refuse": "applicant",
    "settle": "applicant",
}
AUDIENCE_NAMES = {"office": "数据办", "provider": "提供方", "applicant": "申请方"}
HEADLINES = {
    "apply": "新的共享申请待审核",
    "escalate": "共享申请被申诉，待裁定",
    "forward": "共享申请待答复",
    "approve": "共享申请已同意",
    "refuse": "共享申请已拒绝",
    "settle": "共享申请申诉已裁定",
    "withdraw": "共享申请已撤回",
}


@dataclass(frozen=True)
class NoticeOutcome:
    """One message's fate: to whom (``audience`` office | provider | applicant), how."""

    audience: str
    channel: str
    recipient: str
    ok: bool
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class NoticeSettings:
    email: EmailSettings = field(default_factory=EmailSettings)
    webhook_url: str | None = None
    webhook_timeout: float = 10
    office_email: str | None = None
    portal_url: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> NoticeSettings:
        env = os.environ if environ is None else environ
        try:
            port = int(env.get("MULU_SMTP_PORT") or 25)
        except ValueError:
            port = 25
        return cls(
            email=EmailSettings(
                host=env.get("MULU_SMTP_HOST") or None,
                port=port,
                sender=env.get("MULU_SMTP_FROM") or None,
                user=env.get("MULU_SMTP_USER") or None,
                password=env.get("MULU_SMTP_PASSWORD") or None,
                starttls=(env.get("MULU_SMTP_STARTTLS") or "").lower() in ("1", "true", "yes"),
            ),
            webhook_url=env.get("MULU_SHARING_WEBHOOK") or None,
            office_email=env.get("MULU_SHARING_OFFICE_EMAIL") or None,
            portal_url=(env.get("MULU_PORTAL_URL") or "").rstrip("/") or None,
        )

    @property
    def enabled(self) -> bool:
        return self.email.usable or bool(self.webhook_url)


class SharingNotices:
    """Sends the workflow's notices (see the module doc)."""

    def __init__(self, store: Store, settings: NoticeSettings | None = None) -> None:
        self.store = store
        self.settings = settings or NoticeSettings()

    @classmethod
    def from_env(cls, store: Store) -> SharingNotices:
        return cls(store, NoticeSettings.from_env())

    # --- who -----------------------------------------------------------------------------
    def audience(self, app: Mapping[str, Any], action: str) -> str | None:
        if action == "withdraw":
            return {"office": "office", "escalation": "office", "provider": "provider"}.get(
                str(app.get("_previous_step") or ""), "office"
            )
        return AUDIENCE.get(action)

    def _org(self, code: str | None) -> dict[str, Any]:
        found = self.store.organisations.get(code) if code else None
        return found or {"code": code, "name": code}

    def recipients(self, app: Mapping[str, Any], audience: str) -> tuple[dict[str, Any], list[str]]:
        """The organisation told (code, name) and its email addresses."""
        if audience == "office":
            office = {"code": "office", "name": "数据办（数据管理员）"}
            if self.settings.office_email:
                return office, email_addresses(self.settings.office_email)
            addresses: list[str] = []
            for user in self.store.users.all():
                if user["active"] and (
                    Role.STEWARD in user["roles"] or Role.ADMIN in user["roles"]
                ):
                    org = self._org(user["org_code"])
                    addresses += email_addresses(org.get("contact_email"))
            return office, list(dict.fromkeys(addresses))
        code = app["provider_org"] if audience == "provider" else app["applicant_org"]
        org = self._org(code)
        return {"code": org["code"], "name": org["name"]}, email_addresses(org.get("contact_email"))

    # --- what ----------------------------------------------------------------------------
    def link(self, app: Mapping[str, Any]) -> str:
        path = f"/sharing/applications/{app['id']}"
        return f"{self.settings.portal_url}{path}" if self.settings.portal_url else path

    def text(self, app: Mapping[str, Any], action: str) -> str:
        deadline = app.get("deadline") or {}
        lines = [
            f"{HEADLINES.get(action, action)}：{app['number']}",
            "",
            f"资源：{app.get('entry_name') or ''}（{app['entry_code']}）",
            f"提供方：{app.get('provider_name') or app['provider_org']}",
            f"申请人：{app['applicant']}（{app.get('applicant_org_name') or app['applicant_org']}）",
            f"用途：{app['purpose']}",
            f"应用场景：{app['scenario']}",
            f"状态：{app.get('state_name') or app['state']}",
        ]
        if app.get("reason"):
            lines.append(f"理由：{app['reason']}")
        if deadline:
            lines.append(f"办理时限：{deadline['due_at']}（{deadline['status_name']}）")
        lines += ["", f"办理：{self.link(app)}", "", "—— Mulu 政务信息资源共享平台"]
        return "\n".join(lines)

    def payload(
        self, app: Mapping[str, Any], action: str, audience: str, org: dict[str, Any]
    ) -> dict[str, Any]:
        deadline = app.get("deadline") or {}
        return {
            "kind": "sharing.application",
            "event": action,
            "headline": HEADLINES.get(action, action),
            "audience": audience,
            "org": org,
            "application": {
                "id": app["id"],
                "number": app["number"],
                "entry_code": app["entry_code"],
                "entry_name": app.get("entry_name"),
                "provider_org": app["provider_org"],
                "applicant": app["applicant"],
                "applicant_org": app["applicant_org"],
                "state": app["state"],
                "state_name": app.get("state_name"),
                "reason": app.get("reason"),
                "due_at": deadline.get("due_at"),
                "deadline_status": deadline.get("status"),
                "url": self.link(app),
            },
        }

    # --- send ----------------------------------------------------------------------------
    def send(self, app: Mapping[str, Any], action: str) -> list[NoticeOutcome]:
        """Tell the audience of ``action`` by every configured channel; each outcome."""
        audience = self.audience(app, action)
        if audience is None or not self.settings.enabled:
            return []
        org, addresses = self.recipients(app, audience)
        outcomes: list[NoticeOutcome] = []
        s = self.settings
        if s.email.usable:
            recipient = ", ".join(addresses)
            if not addresses:
                outcomes.append(
                    NoticeOutcome(
                        audience, "email", "", False, f"{org['name']} 无联系邮箱 (no contact_email)"
                    )
                )
            else:
                message = EmailMessage()
                message["Subject"] = f"【共享申请】{app['number']} {HEADLINES.get(action, action)}"
                message["From"] = s.email.sender
                message["To"] = recipient
                message.set_content(self.text(app, action))
                outcomes.append(self._email(audience, recipient, message))
        if s.webhook_url:
            body = json.dumps(self.payload(app, action, audience, org), ensure_ascii=False)
            outcomes.append(self._webhook(audience, s.webhook_url, body.encode("utf-8")))
        return outcomes

    def _email(self, audience: str, recipient: str, message: EmailMessage) -> NoticeOutcome:
        try:
            with Mailer(self.settings.email) as mailer:
                mailer.send(message)
        except smtplib.SMTPException as exc:
            return NoticeOutcome(audience, "email", recipient, False, smtp_reason(exc))
        except (OSError, ValueError) as exc:
            return NoticeOutcome(
                audience, "email", recipient, False, f"{type(exc).__name__}: {exc}"
            )
        return NoticeOutcome(audience, "email", recipient, True)

    def _webhook(self, audience: str, url: str, body: bytes) -> NoticeOutcome:
        try:
            post_json(url, body, self.settings.webhook_timeout)
        except urllib.error.HTTPError as exc:
            return NoticeOutcome(audience, "webhook", url, False, f"HTTP {exc.code} {exc.reason}")
        except (OSError, ValueError) as exc:
            return NoticeOutcome(audience, "webhook", url, False, f"{type(exc).__name__}: {exc}")
        return NoticeOutcome(audience, "webhook", url, True)
