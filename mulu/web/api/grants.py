"""REST: grants (共享授权, issue 13).

``GET /api/grants``: stewards see every grant (filters: dataset, login, org, live); anyone else
signed in sees the grants to them or their organisation. ``GET /api/grants/readable``: what the
caller may read now, dataset by dataset (owner, grant or open data; columns, masked columns,
row filter). ``POST /api/grants`` (steward) creates one; ``POST /api/grants/{id}/revoke``
(steward, with a reason) ends it at once. Errors pass to the app's one handler: 400 bad input,
401/403 policy, 404 no such grant or dataset, 409 revoked already."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field

from catalog.policies import SIGNED_IN, STEWARD
from catalog.sharing.grants import Grants
from mulu.web.auth import guard
from mulu.web.deps import Web
from schemas.access import DataAccess
from schemas.errors import NotFound
from schemas.principal import Principal
from schemas.roles import Role


class GrantIn(BaseModel):
    """A new grant: exactly one of ``grantee_login`` and ``grantee_org``; ``expires_at`` in
    catalogue time (北京时间, no zone)."""

    model_config = ConfigDict(extra="forbid")

    dataset: str
    purpose: str
    expires_at: dt.datetime
    grantee_login: str | None = None
    grantee_org: str | None = None
    columns: list[str] = Field(default_factory=list)
    unmasked: list[str] = Field(default_factory=list)
    row_filter: dict[str, list[str]] = Field(default_factory=dict)


class RevokeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str


def access_dict(access: DataAccess) -> dict[str, Any]:
    """A DataAccess as JSON: lists sorted where order does not matter."""
    return {
        "dataset": access.dataset,
        "entry_code": access.entry_code,
        "basis": access.basis,
        "columns": list(access.columns),
        "masked": sorted(access.masked),
        "row_filter": {column: list(values) for column, values in access.row_filter},
        "grant_id": access.grant_id,
        "purpose": access.purpose,
        "expires_at": access.expires_at,
    }


def register(app: FastAPI, web: Web) -> None:

    def grants() -> Grants:
        return Grants(web.store, web.workspace)

    @app.get("/api/grants", tags=["grants"])
    def list_grants(
        dataset: str | None = None,
        login: str | None = None,
        org: str | None = None,
        live: bool = False,
        who: Principal = guard(SIGNED_IN),
    ) -> list[dict[str, Any]]:
        """Stewards: every grant (filters apply); others: the grants to them or their
        organisation (``dataset`` and ``live`` apply)."""
        if who.has(Role.STEWARD):
            return grants().list(login=login, org=org, dataset=dataset, live_only=live)
        return [
            g
            for g in grants().mine(who)
            if (dataset is None or g["dataset"] == dataset) and (not live or g["status"] == "live")
        ]

    @app.get("/api/grants/readable", tags=["grants"])
    def readable(who: Principal = guard(SIGNED_IN)) -> list[dict[str, Any]]:
        """Every published dataset the caller may read now, and how."""
        return [access_dict(a) for a in grants().readable(who)]

    @app.get("/api/grants/{grant_id}", tags=["grants"])
    def get_grant(grant_id: int, who: Principal = guard(SIGNED_IN)) -> dict[str, Any]:
        """One grant: stewards any, others only one to them or their organisation (404
        otherwise, so ids of other people's grants tell nothing)."""
        grant = grants().get(grant_id)
        mine = grant["grantee_login"] == who.login or (
            grant["grantee_org"] is not None and grant["grantee_org"] == who.org_code
        )
        if not (who.has(Role.STEWARD) or mine):
            raise NotFound(f"没有编号为 {grant_id} 的授权 (no such grant)")
        return grant

    @app.post("/api/grants", tags=["grants"], status_code=201)
    def create_grant(body: GrantIn, who: Principal = guard(STEWARD)) -> dict[str, Any]:
        """Grant a user or an organisation read access to a dataset (recorded in the audit
        log)."""
        return grants().create(
            who,
            dataset=body.dataset,
            purpose=body.purpose,
            expires_at=body.expires_at,
            grantee_login=body.grantee_login,
            grantee_org=body.grantee_org,
            columns=body.columns,
            unmasked=body.unmasked,
            row_filter=body.row_filter,
        )

    @app.post("/api/grants/{grant_id}/revoke", tags=["grants"])
    def revoke_grant(
        grant_id: int, body: RevokeIn, who: Principal = guard(STEWARD)
    ) -> dict[str, Any]:
        """End a grant now; every channel refuses it from the next request, open analyst
        sessions drop its table before their next statement."""
        return grants().revoke(who, grant_id, reason=body.reason)
