"""Sending notices by email: the SMTP settings and one connection reused across messages."""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from types import TracebackType


@dataclass(frozen=True)
class EmailSettings:
    """How notices go out by email: the SMTP server (``host`` None: no email can be sent; a
    dry run still renders) and the From address (``sender``)."""

    host: str | None = None
    port: int = 25
    sender: str | None = None
    user: str | None = None
    password: str | None = None
    starttls: bool = False
    use_ssl: bool = False  # SMTP over TLS from the first byte (port 465)
    timeout: float = 30

    @property
    def usable(self) -> bool:
        return bool(self.host and self.sender)


class Mailer:
    """One SMTP connection reused across messages; reopened after a failure."""

    def __init__(self, settings: EmailSettings) -> None:
        if not settings.host:
            raise ValueError("a mailer needs an SMTP host")
        self.settings = settings
        self.smtp: smtplib.SMTP | None = None

    def _open(self) -> smtplib.SMTP:
        s = self.settings
        assert s.host is not None
        if s.use_ssl:
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                s.host, s.port, timeout=s.timeout, context=ssl.create_default_context()
            )
        else:
            smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
        try:
            smtp.ehlo()
            if s.starttls:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if s.user:
                smtp.login(s.user, s.password or "")
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

    def __enter__(self) -> Mailer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def smtp_reason(exc: smtplib.SMTPException) -> str:
    """One line saying why the SMTP server did not take a message."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        refused = "; ".join(
            f"{a}: {c} {m.decode(errors='replace') if isinstance(m, bytes) else m}"
            for a, (c, m) in exc.recipients.items()
        )
        return f"recipients refused ({refused})"
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error
        text = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
        return f"SMTP {exc.smtp_code} {text}"
    return f"{type(exc).__name__}: {exc}"
