"""What a freshness notice says: the subject, a plain-text and an HTML body, the email message
and the webhook's JSON body. Pure functions of a ``Notice``; nothing here sends or reads the
environment."""

from __future__ import annotations

import datetime as dt
import html
import json
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from catalog.freshness.notices import KINDS, Notice
from catalog.freshness.sla import Status

SUBJECT_PREFIX = "【数据更新提醒】"
WEBHOOK_TYPE = "mulu.freshness.notice"


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
    lines = [
        f"{notice.org_name}：",
        "",
        f"截至 {_when(notice.at)}，贵单位提供的以下政务信息资源目录需要更新数据"
        "（更新后请在目录系统中报送最近更新时间）：",
        "",
    ]
    for kind in KINDS:
        entries = [e for e in notice.entries if e["kind"] == kind]
        if not entries:
            continue
        lines.append(f"{Status(kind).chinese}（{len(entries)} 条）：")
        for i, e in enumerate(entries, 1):
            lines.append(f"  {i}. {e['code']} {e['name']}")
            lines.append(
                f"     更新周期：{e['cycle'] or '—'}；应更新时间：{_when(e['deadline'])}"
                f"；{_lateness(e)}"
            )
        lines.append("")
    lines.append("本邮件由目录系统自动发送，同一目录同一应更新时间只提醒一次。")
    return "\n".join(lines) + "\n"


def render_html(notice: Notice) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(Status(e['kind']).chinese)}</td><td>{html.escape(e['code'])}</td>"
        f"<td>{html.escape(e['name'])}</td><td>{html.escape(e['cycle'] or '—')}</td>"
        f"<td>{_when(e['deadline'])}</td><td>{html.escape(_lateness(e))}</td></tr>"
        for e in notice.entries
    )
    return (
        f"<html><body><p>{html.escape(notice.org_name)}：</p>"
        f"<p>截至 {_when(notice.at)}，贵单位提供的以下政务信息资源目录需要更新数据"
        "（更新后请在目录系统中报送最近更新时间）：</p>"
        '<table border="1" cellspacing="0" cellpadding="4">'
        "<tr><th>状态</th><th>信息资源代码</th><th>信息资源名称</th><th>更新周期</th>"
        f"<th>应更新时间</th><th>逾期/剩余</th></tr>{rows}</table>"
        "<p>本邮件由目录系统自动发送，同一目录同一应更新时间只提醒一次。</p></body></html>"
    )


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
        "entries": [
            {
                "code": e["code"],
                "name": e["name"],
                "kind": e["kind"],
                "kind_name": Status(e["kind"]).chinese,
                "cycle": e["cycle"],
                "last_update": _iso(e["last_update"]),
                "deadline": _iso(e["deadline"]),
                "due_at": _iso(e["due_at"]),
                "delay_days": e["delay_days"],
                "days_left": e["days_left"],
            }
            for e in notice.entries
        ],
    }


def webhook_body(notice: Notice) -> bytes:
    return json.dumps(render_webhook(notice), ensure_ascii=False).encode("utf-8")
