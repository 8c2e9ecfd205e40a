"""The demo district's users (issue 13): one or two per role, in real organisations of the
district, so the sharing workflow can be tried end to end.

- ``admin`` (系统管理员) and ``data.office`` (数据管理员) at 示范区数据局, the data office that
  checks applications and reviews quality;
- ``mzj.officer`` (部门联络员) at 示范区民政局, the provider of 城乡低保对象名单 (a dataset the demo
  loads), who answers applications for it;
- ``rsj.officer`` (部门联络员) and ``rsj.analyst`` (分析员) at 示范区人社局, the department that
  applies for 民政局's data and queries what it was granted.

Every demo user has the same printed password (``DEMO_PASSWORD``, argon2-hashed like any
other); the analyst also gets an API token. Running the demo again keeps existing users as they
are (their passwords too) and issues the analyst a fresh token, revoking the previous demo one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from catalog.demo import vocabulary as vocab
from catalog.sharing.users import UserAccounts
from schemas.errors import NotFound
from schemas.roles import Role
from warehouse.store import Store

DEMO_PASSWORD = "shifanqu-demo-2026"
TOKEN_NAME = "demo"
TOKEN_DAYS = 30


@dataclass(frozen=True)
class DemoUser:
    login: str
    name: str
    org: str  # the department's short name (示范区 + org is its full name)
    role: Role
    does: str  # what the user shows in the demo


DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser("admin", "王立", "数据局", Role.ADMIN, "管理用户、角色和令牌 (users, roles, tokens)"),
    DemoUser(
        "data.office",
        "张敏",
        "数据局",
        Role.STEWARD,
        "审核共享申请、复核质量校验 (checks applications, reviews loads)",
    ),
    DemoUser(
        "mzj.officer",
        "李华",
        "民政局",
        Role.OFFICER,
        "答复对低保名单的共享申请 (answers applications for 低保 data)",
    ),
    DemoUser(
        "rsj.officer",
        "赵强",
        "人社局",
        Role.OFFICER,
        "为人社局申请民政局的数据 (applies for 民政局's data)",
    ),
    DemoUser(
        "rsj.analyst",
        "陈静",
        "人社局",
        Role.ANALYST,
        "查询获准的数据 (queries granted data: mulu sql)",
    ),
)
ANALYST_LOGIN = "rsj.analyst"


@dataclass
class DemoUsers:
    """What ``create_demo_users`` did: every demo user (``created`` if new now) and the
    analyst's new token secret (shown once)."""

    users: list[dict[str, Any]] = field(default_factory=list)
    password: str = DEMO_PASSWORD
    token_login: str = ANALYST_LOGIN
    token: str | None = None

    @property
    def created(self) -> int:
        return sum(1 for u in self.users if u["created"])

    def as_dict(self) -> dict[str, Any]:
        return {
            "users": self.users,
            "password": self.password,
            "token_login": self.token_login,
            "token": self.token,
        }


def create_demo_users(
    store: Store, *, actor: str, password: str = DEMO_PASSWORD, token: bool = True
) -> DemoUsers:
    """Add the demo users that are missing (in the demo district's organisations, which must
    be in the store), then issue the analyst a demo token. Idempotent but for the token."""
    accounts = UserAccounts(store)
    done = DemoUsers(password=password)
    for user in DEMO_USERS:
        org_name = vocab.DISTRICT + user.org
        org = store.organisations.find(org_name)
        if org is None:
            raise NotFound(f"演示用户 {user.login}：没有组织 {org_name}（先生成演示区）")
        existing = store.users.get(user.login)
        if existing is None:
            accounts.add(
                user.login,
                org=org["code"],
                name=user.name,
                roles=[user.role],
                password=password,
                actor=actor,
            )
        shown = accounts.get(user.login)
        held = store.organisations.get(shown["org_code"]) or {"name": shown["org_code"]}
        done.users.append(
            {
                "login": user.login,
                "name": shown["display_name"],
                "org_code": shown["org_code"],
                "org_name": held["name"],
                "roles": shown["roles"],
                "does": user.does,
                "active": shown["active"],
                "created": existing is None,
            }
        )
    if token and accounts.get(ANALYST_LOGIN)["active"]:
        for old in accounts.tokens(ANALYST_LOGIN):
            if old["name"] == TOKEN_NAME and old["revoked_at"] is None:
                accounts.revoke_token(old["id"], actor=actor)
        issued = accounts.issue_token(ANALYST_LOGIN, name=TOKEN_NAME, actor=actor, days=TOKEN_DAYS)
        done.token = issued.secret
    return done
