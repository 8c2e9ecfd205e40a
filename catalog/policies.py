"""Who may do what (issue 13): the named policies every HTTP route and CLI command declares
(``mulu.web.auth.guard``, ``mulu.cli.policy.requires``), and the object checks an action adds
(own organisation, a grant). CKAN's ``auth/`` idea: one place says who may call an action; the
action itself (``catalog.…``) checks the object it touches.

Roles (``schemas.roles.Role``): 系统管理员 admin holds every role; 数据管理员 steward is the data
office; 部门联络员 officer acts for one organisation; 分析员 analyst reads what was granted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from schemas.errors import Forbidden, Unauthenticated
from schemas.principal import Principal
from schemas.roles import Role


@dataclass(frozen=True)
class Policy:
    """A route's or command's rule: ``signed_in`` requires an identity; ``roles`` (if any)
    requires one of them (admin passes every role check)."""

    name: str
    summary: str  # one line, Chinese then English, shown in docs and refusals
    signed_in: bool = True
    roles: frozenset[Role] = frozenset()

    def check(self, who: Principal) -> Principal:
        """``who`` if allowed; else Unauthenticated (no identity) or Forbidden (wrong role)."""
        if self.signed_in and who.is_anonymous:
            raise Unauthenticated(f"请先登录 (sign in first): {self.summary}")
        if self.roles and not who.has(*self.roles):
            names = "、".join(f"{r.chinese} {r.value}" for r in sorted(self.roles))
            raise Forbidden(f"{who.actor} 无权限：需要角色 {names} (role required)")
        return who


def _roles(*roles: Role) -> frozenset[Role]:
    return frozenset(roles)


PUBLIC = Policy("public", "公开 anyone, also anonymous (open entries only)", signed_in=False)
SIGNED_IN = Policy("signed-in", "已登录用户 any signed-in user")
ANALYST = Policy(
    "analyst",
    "分析员、部门联络员或数据管理员 analyst, officer or steward (reads what was granted)",
    roles=_roles(Role.ANALYST, Role.OFFICER, Role.STEWARD),
)
OFFICER = Policy(
    "officer",
    "部门联络员或数据管理员 department officer or steward",
    roles=_roles(Role.OFFICER, Role.STEWARD),
)
STEWARD = Policy("steward", "数据管理员 steward (data office)", roles=_roles(Role.STEWARD))
ADMIN = Policy("admin", "系统管理员 admin", roles=_roles(Role.ADMIN))
# A local tool that touches no one's data (help, deadline arithmetic, the demo's own workspace).
LOCAL = Policy("local", "本机操作 local, no data of anyone", signed_in=False)

POLICIES: tuple[Policy, ...] = (PUBLIC, SIGNED_IN, ANALYST, OFFICER, STEWARD, ADMIN, LOCAL)


def require_org(who: Principal, org_code: str | None, *, what: str = "") -> Principal:
    """Stewards and admins act for any organisation; everyone else only for their own."""
    if who.is_anonymous:
        raise Unauthenticated("请先登录 (sign in first)")
    if who.has(Role.STEWARD) or (org_code is not None and who.org_code == org_code):
        return who
    raise Forbidden(
        f"{who.actor} 无权限：只能处理本单位（{who.org_code}）的{what or '事项'} "
        f"(own organisation only, this belongs to {org_code})"
    )


# 开放属性 values whose metadata the public sees, and those whose data it reads too.
OPEN_METADATA = frozenset({"无条件开放", "有条件开放", "普遍开放", "依申请开放", "安全开放"})
OPEN_DATA = frozenset({"无条件开放", "普遍开放"})


def is_open(entry: dict[str, Any]) -> bool:
    """The public (anonymous) side shows this entry's metadata."""
    return (entry.get("open_type") or "") in OPEN_METADATA


def is_open_data(entry: dict[str, Any]) -> bool:
    """The public reads this entry's data (PII masked)."""
    return (entry.get("open_type") or "") in OPEN_DATA


def can_see_entry(who: Principal, entry: dict[str, Any]) -> bool:
    """Signed-in users see the whole directory (the 共享 catalogue is for government staff);
    the public sees open entries only."""
    return not who.is_anonymous or is_open(entry)


def visible_open_types(who: Principal) -> Iterable[str] | None:
    """For filtering lists and search: None means no filter (signed in)."""
    return None if not who.is_anonymous else sorted(OPEN_METADATA)
