"""Identities and roles (issue 13): users of an organisation, their roles, passwords and API
tokens. Every change takes the acting user (``actor``) and is logged with it
(``store.users.events``); who may do what is enforced later (policies), not here.

Secrets are never stored: a password as an argon2 hash (argon2-cffi's ``PasswordHasher``,
rehashed on login when its parameters change), an API token as the sha256 of a random secret
(``secrets.token_urlsafe(32)``) that is shown once, when the token is issued.

The CLI acts as ``--as LOGIN`` (an active user) or, without it, as the local OS account in an
explicit local-admin mode: the actor recorded is ``local-admin:<OS login>`` (``local_actor``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import getpass
import hashlib
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from schemas.entry import catalogue_now
from schemas.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthenticated
from schemas.principal import Principal, Via
from schemas.roles import Role
from warehouse.store import Store

MIN_PASSWORD_LENGTH = 10
DEFAULT_TOKEN_DAYS = 90
LOCAL_ADMIN = "local-admin"

_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """A hash no password matches, made once, to verify against for an unknown login."""
    return _hasher.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class IssuedToken:
    """A new API token: ``secret`` is shown once and stored nowhere (only its sha256)."""

    id: int
    login: str
    name: str
    secret: str
    expires_at: str


def check_password(password: str) -> None:
    """The password policy: at least ``MIN_PASSWORD_LENGTH`` characters."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"密码太短：至少需要 {MIN_PASSWORD_LENGTH} 个字符")


def token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def local_actor() -> str:
    """The actor of the CLI's local admin mode: the OS account, marked ``local-admin:``."""
    return f"{LOCAL_ADMIN}:{getpass.getuser()}"


def _public(user: dict[str, Any]) -> dict[str, Any]:
    """A user as shown: no password hash."""
    shown = {k: v for k, v in user.items() if k != "password_hash"}
    shown["has_password"] = bool(user.get("password_hash"))
    return shown


class UserAccounts:
    """The use cases over ``store.users``. ``clock`` gives now (catalogue time)."""

    def __init__(self, store: Store, *, clock: Callable[[], dt.datetime] = catalogue_now):
        self.store = store
        self.clock = clock

    def _now(self) -> str:
        return self.clock().isoformat()

    def _stored(self, login: str) -> dict[str, Any]:
        user = self.store.users.get(login)
        if user is None:
            raise NotFound(f"没有登录名为 {login!r} 的用户")
        return user

    def _log(self, login: str, action: str, actor: str, detail: str = "") -> None:
        self.store.users.record(login, action, actor, self._now(), detail)

    # --- the actor ---------------------------------------------------------------------
    def actor(self, as_login: str | None) -> str:
        """Who acts: ``as_login`` (an existing, active user), else the local admin."""
        if as_login is None:
            return local_actor()
        user = self._stored(as_login)
        if not user["active"]:
            raise Forbidden(f"用户 {as_login!r} 已停用")
        return str(user["login"])

    # --- users -------------------------------------------------------------------------
    def add(
        self,
        login: str,
        *,
        org: str,
        name: str,
        actor: str,
        roles: Iterable[str | Role] = (),
        password: str | None = None,
    ) -> dict[str, Any]:
        login = login.strip()
        if not login or any(c.isspace() for c in login):
            raise InvalidInput(f"登录名 {login!r} 不能为空或含空白字符")
        if not name.strip():
            raise InvalidInput("姓名不能为空")
        parsed = [r if isinstance(r, Role) else Role.parse(r) for r in roles]
        if password is not None:
            check_password(password)
        if self.store.organisations.get(org) is None:
            raise NotFound(f"没有代码为 {org!r} 的组织（提供方）")
        stamp = self._now()
        with self.store.transaction():
            if self.store.users.get(login) is not None:
                raise Conflict(f"登录名 {login!r} 已存在")
            self.store.users.insert(
                {
                    "login": login,
                    "display_name": name.strip(),
                    "org_code": org,
                    "password_hash": None if password is None else _hasher.hash(password),
                    "active": 1,
                    "created_at": stamp,
                    "created_by": actor,
                }
            )
            self._log(login, "add", actor, f"org={org}")
            for role in parsed:
                self.store.users.grant(login, role.value, stamp, actor)
                self._log(login, "grant", actor, role.value)
        return self.get(login)

    def get(self, login: str) -> dict[str, Any]:
        return _public(self._stored(login))

    def all(self) -> list[dict[str, Any]]:
        return [_public(u) for u in self.store.users.all()]

    def disable(self, login: str, *, actor: str) -> dict[str, Any]:
        return self._set_active(login, False, actor)

    def enable(self, login: str, *, actor: str) -> dict[str, Any]:
        return self._set_active(login, True, actor)

    def _set_active(self, login: str, active: bool, actor: str) -> dict[str, Any]:
        with self.store.transaction():
            if self._stored(login)["active"] != active:
                self.store.users.set_active(login, active)
                self._log(login, "enable" if active else "disable", actor)
            if not active:  # a disabled user's portal sessions end with it
                self._end_sessions(login)
        return self.get(login)

    def _end_sessions(self, login: str) -> int:
        """End every open portal session of ``login`` (``catalog.sharing.sessions``)."""
        return self.store.sessions.end_all(login, self.clock().replace(microsecond=0).isoformat())

    # --- passwords ---------------------------------------------------------------------
    def set_password(self, login: str, password: str, *, actor: str) -> None:
        """A new password; every open portal session of the user ends (whoever held the old
        password, or a cookie opened with it, signs in again)."""
        check_password(password)
        hashed = _hasher.hash(password)
        with self.store.transaction():
            self._stored(login)
            self.store.users.set_password_hash(login, hashed)
            self._log(login, "password", actor)
            self._end_sessions(login)

    def verify_password(self, login: str, password: str) -> dict[str, Any]:
        """The user if ``password`` is theirs and they are active; Unauthenticated otherwise (one
        message for an unknown login and a wrong password)."""
        refused = Unauthenticated("登录名或密码错误 (wrong login or password)")
        user = self.store.users.get(login)
        if user is None or not user["password_hash"]:
            # Spend what a real check spends, so the answer's time does not tell which logins
            # exist.
            with contextlib.suppress(VerificationError, InvalidHashError):
                _hasher.verify(_dummy_hash(), password)
            raise refused
        try:
            _hasher.verify(user["password_hash"], password)
        except (VerificationError, InvalidHashError):
            raise refused from None
        if not user["active"]:
            raise Unauthenticated(f"用户 {login!r} 已停用 (disabled)")
        if _hasher.check_needs_rehash(user["password_hash"]):
            self.store.users.set_password_hash(login, _hasher.hash(password))
        return _public(user)

    # --- roles -------------------------------------------------------------------------
    def grant_role(self, login: str, role: str | Role, *, actor: str) -> dict[str, Any]:
        parsed = role if isinstance(role, Role) else Role.parse(role)
        with self.store.transaction():
            self._stored(login)
            if self.store.users.grant(login, parsed.value, self._now(), actor):
                self._log(login, "grant", actor, parsed.value)
        return self.get(login)

    def revoke_role(self, login: str, role: str | Role, *, actor: str) -> dict[str, Any]:
        parsed = role if isinstance(role, Role) else Role.parse(role)
        with self.store.transaction():
            self._stored(login)
            if self.store.users.revoke(login, parsed.value):
                self._log(login, "revoke", actor, parsed.value)
        return self.get(login)

    # --- API tokens --------------------------------------------------------------------
    def issue_token(
        self, login: str, *, name: str, actor: str, days: int = DEFAULT_TOKEN_DAYS
    ) -> IssuedToken:
        if not name.strip():
            raise InvalidInput("令牌名称不能为空")
        if days < 1:
            raise InvalidInput(f"令牌有效期至少 1 天，不能是 {days}")
        secret = secrets.token_urlsafe(32)
        now = self.clock()
        expires = (now + dt.timedelta(days=days)).isoformat()
        with self.store.transaction():
            if not self._stored(login)["active"]:
                raise Conflict(f"用户 {login!r} 已停用，不能签发令牌")
            token_id = self.store.users.add_token(
                {
                    "login": login,
                    "name": name.strip(),
                    "token_hash": token_hash(secret),
                    "created_at": now.isoformat(),
                    "created_by": actor,
                    "expires_at": expires,
                }
            )
            self._log(login, "token", actor, f"id={token_id} name={name.strip()}")
        return IssuedToken(token_id, login, name.strip(), secret, expires)

    def tokens(self, login: str) -> list[dict[str, Any]]:
        self._stored(login)
        return self.store.users.tokens(login)

    def revoke_token(self, token_id: int, *, actor: str) -> dict[str, Any]:
        with self.store.transaction():
            token = self.store.users.token(token_id)
            if token is None:
                raise NotFound(f"没有编号为 {token_id} 的令牌")
            if self.store.users.revoke_token(token_id, self._now(), actor):
                self._log(token["login"], "revoke_token", actor, f"id={token_id}")
        return self.store.users.token(token_id) or token

    def authenticate_token(self, secret: str) -> dict[str, Any]:
        """The active user whose unexpired, unrevoked token this is; Forbidden otherwise.
        Records the token's last use, to the minute: a token's every request writing it would
        make each authenticated read a write (behind every other writer on PostgreSQL)."""
        token = self.store.users.token_by_hash(token_hash(secret))
        if token is None:
            raise Unauthenticated("令牌无效 (invalid token)")
        now = self._now()
        if token["revoked_at"] is not None:
            raise Unauthenticated(f"令牌 {token['id']} 已吊销 (revoked)")
        if token["expires_at"] <= now:
            raise Unauthenticated(f"令牌 {token['id']} 已于 {token['expires_at']} 过期 (expired)")
        user = self._stored(token["login"])
        if not user["active"]:
            raise Unauthenticated(f"用户 {user['login']!r} 已停用 (disabled)")
        last = token["last_used_at"]
        if last is None or last < now[:16]:  # not yet this minute (ISO text compares in order)
            self.store.users.touch_token(token["id"], now)
        return _public(user)

    def principal(self, login: str, *, via: Via) -> Principal:
        """The acting identity of an active user (roles as held now)."""
        user = self._stored(login)
        if not user["active"]:
            raise Unauthenticated(f"用户 {login!r} 已停用 (disabled)")
        return Principal(
            login=str(user["login"]),
            org_code=str(user["org_code"]),
            roles=frozenset(Role(r) for r in user["roles"]),
            display_name=str(user["display_name"]),
            via=via,
        )

    def events(self, login: str | None = None) -> list[dict[str, Any]]:
        """Every change (of one user, or all), in order, with its actor."""
        return self.store.users.events(login)
