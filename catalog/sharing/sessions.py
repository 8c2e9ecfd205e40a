"""Portal sessions (issue 13): logging in with a password (rate-limited), starting a session for
a user another step identified (OIDC), resolving a session cookie to its user, logging out.

A session is a random secret in the browser's cookie and the secret's sha256 in the store
(``web_sessions``), with its own CSRF token. It ends at logout, at its absolute expiry
(``SESSION_HOURS`` after login, however active), and stops working the moment its user is
disabled (every resolve checks the user; ``end_all`` ends the rows too).

Rate limits (``login_attempts``, so every server process counts the same attempts): at most
``MAX_LOGIN_FAILURES`` failed passwords for one login, or ``MAX_REMOTE_FAILURES`` from one
address, within ``ATTEMPT_WINDOW``; past that, ``TooManyAttempts`` (HTTP 429) with the seconds
until the oldest counted failure leaves the window. The count and the new attempt (a failure
until the password is verified) are one write transaction, so parallel requests cannot all
pass the check before any is recorded. A successful login clears its login's count (not the
address's). Login, logout and failed logins are recorded in the audit log.

A password change or a disabled user ends the user's open sessions
(``catalog.sharing.users.UserAccounts``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import secrets
from collections.abc import Callable
from typing import Any

from catalog.sharing.audit import AuditLog
from catalog.sharing.users import UserAccounts
from schemas.entry import catalogue_now
from schemas.errors import NotFound, TooManyAttempts, Unauthenticated
from schemas.principal import Principal, Via
from warehouse.store import Store

SESSION_HOURS = 12  # absolute lifetime of a portal session
MAX_LOGIN_FAILURES = 5  # failed passwords per login …
MAX_REMOTE_FAILURES = 20  # … or per remote address …
ATTEMPT_WINDOW = dt.timedelta(minutes=15)  # … within this window
TOUCH_EVERY = dt.timedelta(minutes=5)  # last_seen_at is written at most this often
MAX_LOGIN_CHARS = 200  # a login typed longer is cut to this before it is checked or recorded


def session_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


class PortalSessions:
    """Use cases over ``store.sessions``; ``clock`` gives now (catalogue time)."""

    def __init__(
        self,
        store: Store,
        *,
        clock: Callable[[], dt.datetime] = catalogue_now,
        hours: float = SESSION_HOURS,
    ) -> None:
        self.store = store
        self.clock = clock
        self.lifetime = dt.timedelta(hours=hours)
        self.users = UserAccounts(store, clock=clock)
        self.audit = AuditLog(store, clock=clock)

    # --- logging in --------------------------------------------------------------------
    def login(self, login: str, password: str, *, remote: str) -> tuple[str, dict[str, Any]]:
        """A new session for ``login`` if ``password`` is theirs. Raises TooManyAttempts (429)
        past the rate limits, before the password is even checked, and Unauthenticated (one
        message for an unknown login and a wrong password)."""
        login = self.check_password(login, password, remote=remote, channel="portal")
        return self.start(login, via="password", remote=remote)

    def check_password(self, login: str, password: str, *, remote: str, channel: str) -> str:
        """The login if ``password`` is theirs, under the rate limits; every failure and every
        refusal for too many failures is in the audit log. The portal's form and the CLI's
        ``--user`` both come here, so neither is a way around the other's limit."""
        login = login.strip()[:MAX_LOGIN_CHARS]  # what is recorded stays small
        remote = remote or "-"
        # Count and record under one write lock (BEGIN IMMEDIATE): the attempt is a failure
        # until the password proves right, so parallel guesses each see the others' attempts
        # and no more than the limit ever reach the password check.
        try:
            with self.store.transaction():
                self._check_rate(login, remote)
                attempt = self.store.sessions.add_attempt(login, remote, self._now(), False)
        except TooManyAttempts as exc:
            self.audit.event(
                Principal.anonymous(),
                "login_failed",
                channel=channel,
                remote=remote,
                login=login,
                reason=exc.message,
            )
            raise
        try:
            self.users.verify_password(login, password)
        except Unauthenticated as exc:
            self.audit.event(
                Principal.anonymous(),
                "login_failed",
                channel=channel,
                remote=remote,
                login=login,
                reason=exc.message,
            )
            raise
        self.store.sessions.succeed_attempt(attempt, self._now())
        return login

    def _check_rate(self, login: str, remote: str) -> None:
        now = self.clock()
        since = (now - ATTEMPT_WINDOW).isoformat()
        for failed, most, what in (
            (self.store.sessions.failures(since=since, login=login), MAX_LOGIN_FAILURES, "该账号"),
            (
                self.store.sessions.failures(since=since, remote=remote),
                MAX_REMOTE_FAILURES,
                "该地址",
            ),
        ):
            if len(failed) >= most:
                oldest = dt.datetime.fromisoformat(failed[-most])
                wait = max(1, int((oldest + ATTEMPT_WINDOW - now).total_seconds()) + 1)
                minutes = (wait + 59) // 60
                raise TooManyAttempts(
                    f"{what}登录失败次数过多，请 {minutes} 分钟后再试 "
                    f"(too many failed logins, retry in {wait} s)",
                    retry_after=wait,
                )

    def start(self, login: str, *, via: Via, remote: str | None) -> tuple[str, dict[str, Any]]:
        """A new session for an active user identified by ``via`` (password, oidc): the
        cookie's secret (shown once, stored only hashed) and the session row."""
        who = self.users.principal(login, via=via)  # Unauthenticated if disabled
        secret = secrets.token_urlsafe(32)
        now = self.clock().replace(microsecond=0)
        session = {
            "id_hash": session_hash(secret),
            "login": who.login,
            "csrf_token": secrets.token_urlsafe(32),
            "via": via,
            "remote": remote,
            "created_at": now.isoformat(),
            "expires_at": (now + self.lifetime).isoformat(),
            "last_seen_at": now.isoformat(),
        }
        self.store.sessions.add(session)
        self.audit.event(who, "login", channel="portal", remote=remote, via=via)
        return secret, {**session, "ended_at": None}

    # --- using a session ---------------------------------------------------------------
    def resolve(self, secret: str) -> tuple[Principal, dict[str, Any]] | None:
        """The session's user (roles as held now) and the session; None if the secret names
        no session, or one ended, expired or whose user is disabled or gone."""
        if not secret:
            return None
        session = self.store.sessions.get(session_hash(secret))
        if session is None or session["ended_at"] is not None:
            return None
        now = self.clock()
        if session["expires_at"] <= now.isoformat():
            return None
        try:
            who = self.users.principal(session["login"], via="session")
        except (Unauthenticated, NotFound):
            self.store.sessions.end_all(session["login"], now.isoformat())
            return None
        if dt.datetime.fromisoformat(session["last_seen_at"]) + TOUCH_EVERY <= now:
            self.store.sessions.touch(session["id_hash"], now.replace(microsecond=0).isoformat())
        return who, session

    def logout(self, secret: str) -> bool:
        """End the session; False if there was none open."""
        session = self.store.sessions.get(session_hash(secret)) if secret else None
        if session is None or not self.store.sessions.end(session["id_hash"], self._now()):
            return False
        who = Principal(login=session["login"], via="session")
        with contextlib.suppress(Unauthenticated, NotFound):
            who = self.users.principal(session["login"], via="session")
        self.audit.event(who, "logout", channel="portal", remote=session["remote"])
        return True

    def end_all(self, login: str) -> int:
        """End every open session of ``login`` (a disabled user's, say); how many."""
        return self.store.sessions.end_all(login, self._now())

    def live(self, login: str) -> list[dict[str, Any]]:
        """The user's open sessions (no secrets: only hashes are stored)."""
        return self.store.sessions.of_login(login, live_at=self._now())

    def _now(self) -> str:
        return self.clock().replace(microsecond=0).isoformat()
