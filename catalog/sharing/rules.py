"""The sharing rules' day counts (共享时限) and a deadline's status.

Counts are working days (``catalog.sharing.calendar``); defaults:

* ``check_days`` = 2: the data office checks (审核) an application;
* ``answer_days`` = 5: the provider answers (答复) an application for a published resource;
* ``answer_days_unpublished`` = 10: the provider answers when the resource is not yet published;
* ``max_grant_days`` = 365 (calendar days, 1–3650): the longest grant an approved application
  makes — a 使用期限 further away is refused at apply time, and a grant without one expires
  after this many days.

A workspace changes them in the optional ``config/sharing_rules.yaml``
(``Workspace.sharing_rules_file``), any subset of the keys::

    check_days: 3
    answer_days: 5
    answer_days_unpublished: 15
    max_grant_days: 180

A deadline's status uses the freshness vocabulary: 按时 (on time), 即将到期 (due soon: within
``due_soon_days`` calendar days of the deadline), 逾期 (overdue: after it).
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from catalog.freshness.sla import STATUS_NAMES, Status
from schemas.errors import InvalidInput
from warehouse.workspace import Workspace

_LABELS = {
    "check_days": "数据办审核时限（工作日）",
    "answer_days": "提供方答复时限（工作日）",
    "answer_days_unpublished": "未发布资源的提供方答复时限（工作日）",
    "max_grant_days": "共享授权最长期限（自然日）",
}
_RANGES = {"max_grant_days": "1–3650 的整数天数"}


class SharingRules(BaseModel):
    """Working-day counts of the sharing rules (defaults 2 / 5 / 10) and the longest grant
    (``max_grant_days``, 365 calendar days)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    check_days: int = Field(default=2, ge=0, le=365)
    answer_days: int = Field(default=5, ge=0, le=365)
    answer_days_unpublished: int = Field(default=10, ge=0, le=365)
    max_grant_days: int = Field(default=365, ge=1, le=3650)

    def answer_days_for(self, published: bool) -> int:
        """The provider's answer time: ``answer_days``, or ``answer_days_unpublished``."""
        return self.answer_days if published else self.answer_days_unpublished

    @classmethod
    def from_file(cls, path: Path) -> SharingRules:
        """The rules in ``path`` over the defaults; ``InvalidInput`` naming file and key."""
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise InvalidInput(f"共享规则文件 {path} 无法读取：{exc}") from None
        if data is None:
            return cls()
        if not isinstance(data, dict):
            raise InvalidInput(
                f"共享规则文件 {path} 顶层应为映射，如 check_days: 2（可用键：{'、'.join(_LABELS)}）"
            )
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            problem = exc.errors()[0]
            key = ".".join(str(p) for p in problem["loc"])
            if problem["type"] == "extra_forbidden":
                text = f"键“{key}”无法识别（可用键：{'、'.join(_LABELS)}）"
            else:
                span = _RANGES.get(key, "0–365 的整数天数")
                text = (
                    f"{key}（{_LABELS.get(key, key)}）应为 {span}，而不是 {problem.get('input')!r}"
                )
            raise InvalidInput(f"共享规则文件 {path}：{text}") from None

    @classmethod
    def from_workspace(cls, workspace: Workspace) -> SharingRules:
        """The workspace's ``config/sharing_rules.yaml`` over the defaults (defaults if absent)."""
        path = workspace.sharing_rules_file
        return cls.from_file(path) if path.exists() else cls()


class DeadlineStatus(StrEnum):
    ON_TIME = "on_time"
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"

    @property
    def chinese(self) -> str:
        return DEADLINE_STATUS_NAMES[self]


DEADLINE_STATUS_NAMES = {
    DeadlineStatus.ON_TIME: "按时",
    DeadlineStatus.DUE_SOON: STATUS_NAMES[Status.DUE_SOON],  # 即将到期
    DeadlineStatus.OVERDUE: STATUS_NAMES[Status.OVERDUE],  # 逾期
}


def deadline_status(
    deadline: dt.datetime, now: dt.datetime, due_soon_days: float = 1
) -> DeadlineStatus:
    """逾期 after ``deadline``; 即将到期 from ``due_soon_days`` calendar days before it up to it;
    按时 before that. Both times in catalogue time (naive Asia/Shanghai)."""
    if now > deadline:
        return DeadlineStatus.OVERDUE
    if now >= deadline - dt.timedelta(days=due_soon_days):
        return DeadlineStatus.DUE_SOON
    return DeadlineStatus.ON_TIME
