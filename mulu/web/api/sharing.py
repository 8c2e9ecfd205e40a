"""REST: the sharing workflow (共享申请, issue 13; ``catalog.sharing.applications``).

    POST /api/sharing/applications                 apply (analyst, officer or steward)
    GET  /api/sharing/applications?box=mine|inbox  my applications, or my queues
    GET  /api/sharing/applications/{id}            one, with history and deadline status
    POST /api/sharing/applications/{id}/check      the data office: forward | approve | refuse
    POST /api/sharing/applications/{id}/answer     the provider's officers only (a steward of another
                                                   organisation: 403): approve (columns …) | refuse
    POST /api/sharing/applications/{id}/escalate   the applicant, after a refusal
    POST /api/sharing/applications/{id}/settle     the data office decides an escalation
    POST /api/sharing/applications/{id}/withdraw   the applicant
    GET  /api/sharing/statistics?month=YYYY-MM     per providing organisation

``{id}`` is the number or the 申请编号 (SQ20261207-0001). Errors are the app's JSON errors:
401 not signed in, 403 wrong role or organisation, 404, 400 (a refusal without a reason …),
409 (the application is not in that step, the entry is now 不予共享, a grantee is no longer
valid). Approvals (check approve, answer, settle) take an optional ``expires_at``.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import FastAPI, Query
from pydantic import BaseModel, ConfigDict, Field

from catalog.policies import ANALYST, OFFICER, SIGNED_IN, STEWARD
from catalog.sharing.applications import Applications
from mulu.web.auth import guard
from mulu.web.deps import Web
from schemas.principal import Principal


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ApplyBody(_Body):
    entry_code: str = Field(description="信息资源代码")
    purpose: str = Field(description="用途")
    scenario: str = Field(description="应用场景")
    columns: list[str] = Field(default_factory=list, description="字段; empty: all")
    period_end: str | None = Field(
        None, description="使用期限 YYYY-MM-DD, at most max_grant_days (365) away; default that"
    )
    grantees: list[str] = Field(
        default_factory=list, description="logins of your organisation; empty: the organisation"
    )


class CheckBody(_Body):
    action: Literal["forward", "approve", "refuse"]
    reason: str | None = None
    expires_at: str | None = Field(
        None, description="授权到期日 YYYY-MM-DD on approval, not after the 使用期限 asked for"
    )


class AnswerBody(_Body):
    approve: bool
    reason: str | None = None
    columns: list[str] | None = None
    unmasked: list[str] = Field(default_factory=list)
    row_filter: dict[str, list[str]] | None = None
    expires_at: str | None = Field(
        None, description="授权到期日 YYYY-MM-DD on approval, not after the 使用期限 asked for"
    )


class ReasonBody(_Body):
    reason: str


class SettleBody(_Body):
    approve: bool
    reason: str
    columns: list[str] | None = None
    unmasked: list[str] = Field(default_factory=list)
    expires_at: str | None = Field(
        None, description="授权到期日 YYYY-MM-DD on approval, not after the 使用期限 asked for"
    )


def register(app: FastAPI, web: Web) -> None:
    def workflow() -> Applications:
        return Applications(web.store, web.workspace)

    tags: list[str | Any] = ["sharing"]

    @app.post("/api/sharing/applications", tags=tags, status_code=201)
    def apply(body: ApplyBody, who: Principal = guard(ANALYST)) -> dict[str, Any]:
        """提交共享申请 for another organisation's entry (不予共享 entries: 403 with the basis)."""
        return workflow().apply(
            who,
            entry_code=body.entry_code,
            purpose=body.purpose,
            scenario=body.scenario,
            columns=body.columns,
            period_end=body.period_end,
            grantees=body.grantees,
        )

    @app.get("/api/sharing/applications", tags=tags)
    def applications(
        box: Literal["mine", "inbox"] = Query("mine"), who: Principal = guard(SIGNED_IN)
    ) -> Any:
        """``mine``: the applications I made; ``inbox``: {office: […], provider: […]}."""
        if box == "inbox":
            return workflow().inbox(who)
        return workflow().mine(who)

    @app.get("/api/sharing/applications/{app_id}", tags=tags)
    def application(app_id: str, who: Principal = guard(SIGNED_IN)) -> dict[str, Any]:
        return workflow().get(who, app_id)

    @app.post("/api/sharing/applications/{app_id}/check", tags=tags)
    def check(app_id: str, body: CheckBody, who: Principal = guard(STEWARD)) -> dict[str, Any]:
        return workflow().check(
            who, app_id, action=body.action, reason=body.reason, expires_at=body.expires_at
        )

    @app.post("/api/sharing/applications/{app_id}/answer", tags=tags)
    def answer(app_id: str, body: AnswerBody, who: Principal = guard(OFFICER)) -> dict[str, Any]:
        return workflow().answer(
            who,
            app_id,
            approve=body.approve,
            reason=body.reason,
            columns=body.columns,
            unmasked=body.unmasked,
            row_filter=body.row_filter,
            expires_at=body.expires_at,
        )

    @app.post("/api/sharing/applications/{app_id}/escalate", tags=tags)
    def escalate(
        app_id: str, body: ReasonBody, who: Principal = guard(SIGNED_IN)
    ) -> dict[str, Any]:
        return workflow().escalate(who, app_id, reason=body.reason)

    @app.post("/api/sharing/applications/{app_id}/settle", tags=tags)
    def settle(app_id: str, body: SettleBody, who: Principal = guard(STEWARD)) -> dict[str, Any]:
        return workflow().settle(
            who,
            app_id,
            approve=body.approve,
            reason=body.reason,
            columns=body.columns,
            unmasked=body.unmasked,
            expires_at=body.expires_at,
        )

    @app.post("/api/sharing/applications/{app_id}/withdraw", tags=tags)
    def withdraw(app_id: str, who: Principal = guard(SIGNED_IN)) -> dict[str, Any]:
        return workflow().withdraw(who, app_id)

    @app.get("/api/sharing/statistics", tags=tags)
    def statistics(
        month: str = Query(..., pattern=r"^\d{4}-\d{2}$"), who: Principal = guard(SIGNED_IN)
    ) -> list[dict[str, Any]]:
        """共享统计 per providing organisation: received, answered (on time), refused with
        reasons, shared (grants made)."""
        return workflow().statistics(month)
