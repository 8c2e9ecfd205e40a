"""Who acts (issue 13): a signed-in user, a token's user, the explicit local admin, or nobody
(anonymous, the public side of the portal). Built by the web layer (session cookie, token,
OIDC) or the CLI (``--user``/``--token``/``--local-admin``); checked by ``catalog.policies``.
Pure data: no store, no hashing here."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

from schemas.roles import Role

Via = Literal["password", "session", "token", "oidc", "local", "anonymous"]
ANONYMOUS = "anonymous"
LOCAL_ADMIN_PREFIX = "local-admin:"


@dataclass(frozen=True)
class Principal:
    """An acting identity. ``login`` None is anonymous; ``actor`` is what history records."""

    login: str | None
    org_code: str | None = None
    roles: frozenset[Role] = field(default_factory=frozenset)
    display_name: str = ""
    via: Via = "anonymous"
    # Where the request came from, for the audit log's "from where": the channel (portal,
    # rest, ckan, cli …) and the client's address or the CLI's host. Set by whoever built
    # the principal (the web middleware, the CLI); None when unknown.
    channel: str | None = None
    remote: str | None = None

    @classmethod
    def anonymous(cls) -> Principal:
        return cls(login=None)

    @classmethod
    def local_admin(cls, os_user: str) -> Principal:
        """The explicit local admin mode of the CLI (whoever can write the workspace's files
        can do anything anyway; this names it instead of pretending otherwise)."""
        return cls(
            login=f"{LOCAL_ADMIN_PREFIX}{os_user}",
            roles=frozenset({Role.ADMIN}),
            display_name=os_user,
            via="local",
        )

    @property
    def is_anonymous(self) -> bool:
        return self.login is None

    @property
    def is_local_admin(self) -> bool:
        return self.via == "local"

    @property
    def actor(self) -> str:
        """The name recorded in history, reviews, decisions and the audit log."""
        return self.login or ANONYMOUS

    def at(self, *, channel: str | None, remote: str | None) -> Principal:
        """The same identity, acting through ``channel`` from ``remote``."""
        return replace(self, channel=channel, remote=remote)

    def has(self, *roles: Role) -> bool:
        """True if the principal holds any of ``roles``; an admin holds every role."""
        return Role.ADMIN in self.roles or any(role in self.roles for role in roles)
