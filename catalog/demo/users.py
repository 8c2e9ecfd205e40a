"""The demo district's users (issue 13): one or two per role, in real organisations of the
district, so the sharing workflow can be tried end to end.

- ``admin`` (系统管理员) and ``data.office`` (数据管理员) at 示范区数据局, the data office that
  checks applications and reviews quality;
- ``<dept>.officer`` (部门联络员) of the *providing* department: the provider of a loaded demo
  dataset whose entry is 有条件共享 (人社局's 社保卡申领信息 with the default seed), who answers
  applications for it;
- ``<dept>.officer`` and ``<dept>.analyst`` (分析员) of the *applying* department (民政局, or
  人社局 when 民政局 is the provider), who apply for that data and query what was granted.

``<dept>`` is the department's mailbox name in the demo vocabulary (人社局 ``rsj``, 民政局
``mzj``). Every demo user has the same printed password (``DEMO_PASSWORD``, argon2-hashed like
any other); the analyst also gets an API token. Running the demo again keeps existing users as
they are (their passwords too) and issues the analyst a fresh token, revoking the previous demo
one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from catalog.demo import vocabulary as vocab
from catalog.sharing.users import UserAccounts
from schemas.entry import ShareType
from schemas.errors import NotFound
from schemas.roles import Role
from warehouse.store import Store

DEMO_PASSWORD = "shifanqu-demo-2026"
TOKEN_NAME = "demo"
TOKEN_DAYS = 30
DATA_OFFICE = "数据局"
# Providers preferred, in order, among the loaded datasets' 有条件共享 entries; the first
# department is also the provider when none is conditional.
PREFERRED_PROVIDERS = ("人社局", "民政局", "卫健委", "医疗保障局", "市场监管局")
APPLICANTS = ("民政局", "人社局")  # the first that is not the provider applies
MAILBOXES = {short: mailbox for short, mailbox, *_ in vocab.DEPARTMENTS}


@dataclass(frozen=True)
class DemoUser:
    login: str
    name: str
    org: str  # the department's short name (示范区 + org is its full name)
    role: Role
    does: str  # what the user shows in the demo


@dataclass
class DemoUsers:
    """What ``create_demo_users`` did: every demo user (``created`` if new now), the entry
    the provider's officer answers for, and the analyst's new token secret (shown once)."""

    users: list[dict[str, Any]] = field(default_factory=list)
    password: str | None = DEMO_PASSWORD
    provided_entry: str | None = None
    token_login: str = ""
    token: str | None = None

    @property
    def created(self) -> int:
        return sum(1 for u in self.users if u["created"])

    def as_dict(self) -> dict[str, Any]:
        return {
            "users": self.users,
            "password": self.password,
            "provided_entry": self.provided_entry,
            "token_login": self.token_login,
            "token": self.token,
        }


def demo_users(provider: str, entry_name: str | None = None) -> tuple[DemoUser, ...]:
    """The demo's users when ``provider`` (a department's short name) provides the
    有条件共享 data the applying department asks for."""
    applicant = next(a for a in APPLICANTS if a != provider)
    asked = f"「{entry_name}」" if entry_name else f"{provider}的数据"
    return (
        DemoUser("admin", "王立", DATA_OFFICE, Role.ADMIN, "管理用户、角色和令牌 (users, tokens)"),
        DemoUser(
            "data.office",
            "张敏",
            DATA_OFFICE,
            Role.STEWARD,
            "审核共享申请、复核质量校验 (checks applications, reviews loads)",
        ),
        DemoUser(
            f"{MAILBOXES[provider]}.officer",
            "李华",
            provider,
            Role.OFFICER,
            f"答复对{asked}的共享申请 (answers applications, 有条件共享)",
        ),
        DemoUser(
            f"{MAILBOXES[applicant]}.officer",
            "赵强",
            applicant,
            Role.OFFICER,
            f"为{applicant}申请{asked} (applies for it)",
        ),
        DemoUser(
            f"{MAILBOXES[applicant]}.analyst",
            "陈静",
            applicant,
            Role.ANALYST,
            "查询获准的数据 (queries granted data: mulu sql)",
        ),
    )


def conditional_provider(
    store: Store, entry_codes: Iterable[str]
) -> tuple[str, dict[str, Any] | None]:
    """(provider's short name, its entry): the preferred department providing one of these
    entries as 有条件共享; the first preferred department (no entry) when none is."""
    found: dict[str, dict[str, Any]] = {}
    for code in entry_codes:
        entry = store.entries.get(code)
        if entry is None or entry.get("share_type") != ShareType.CONDITIONAL.value:
            continue
        short = str(entry.get("provider_name") or "").removeprefix(vocab.DISTRICT)
        found.setdefault(short, entry)
    for short in PREFERRED_PROVIDERS:
        if short in found:
            return short, found[short]
    return PREFERRED_PROVIDERS[0], None


def create_demo_users(
    store: Store,
    *,
    actor: str,
    entry_codes: Iterable[str] = (),
    password: str | None = DEMO_PASSWORD,
    token: bool = True,
) -> DemoUsers:
    """Add the demo users that are missing, in the demo district's organisations (which must
    be in the store), the providing department chosen among ``entry_codes`` (the loaded demo
    datasets' entries); then issue the analyst a demo token. Idempotent but for the token.
    ``password`` None: users without one (they sign in with tokens only)."""
    accounts = UserAccounts(store)
    provider, entry = conditional_provider(store, entry_codes)
    users = demo_users(provider, entry["name"] if entry else None)
    done = DemoUsers(password=password, provided_entry=entry["code"] if entry else None)
    for user in users:
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
    analyst = users[-1].login
    done.token_login = analyst
    if token and accounts.get(analyst)["active"]:
        for old in accounts.tokens(analyst):
            if old["name"] == TOKEN_NAME and old["revoked_at"] is None:
                accounts.revoke_token(old["id"], actor=actor)
        issued = accounts.issue_token(analyst, name=TOKEN_NAME, actor=actor, days=TOKEN_DAYS)
        done.token = issued.secret
    return done
