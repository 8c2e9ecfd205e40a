"""The roles a user holds (issue 13), English value with the Chinese name kept beside it."""

from __future__ import annotations

from enum import StrEnum

from schemas.errors import InvalidInput


class Role(StrEnum):
    ADMIN = "admin"  # 系统管理员: users, roles, settings
    STEWARD = "steward"  # 数据管理员 (data office): the catalogue, reviews, grants
    OFFICER = "officer"  # 部门联络员: a department's entries, reports, requests
    ANALYST = "analyst"  # 分析员: reads what is shared with them

    @property
    def chinese(self) -> str:
        return CHINESE[self]

    @classmethod
    def parse(cls, text: str) -> Role:
        """A role by its English value or its Chinese name (``数据管理员``)."""
        key = text.strip()
        for role in cls:
            if key.lower() == role.value or key == role.chinese:
                return role
        names = ", ".join(f"{r.value} ({r.chinese})" for r in cls)
        raise InvalidInput(f"未知角色 {text!r}：可选 {names}")


CHINESE: dict[Role, str] = {
    Role.ADMIN: "系统管理员",
    Role.STEWARD: "数据管理员",
    Role.OFFICER: "部门联络员",
    Role.ANALYST: "分析员",
}
