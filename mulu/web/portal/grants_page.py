"""The grants page (共享授权, issue 13): ``/grants``.

Everyone signed in sees the grants to them or their organisation and what they may read now;
stewards also see every grant (filtered by dataset, grantee or live only), grant access with
a form and revoke a grant with a reason. Plain forms, no script; every POST carries the
session's CSRF token and answers with a 303 redirect and a server-side message (``flash``).
"""

from __future__ import annotations

import datetime as dt

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from catalog.policies import SIGNED_IN, STEWARD
from catalog.sharing.applications import column_titles
from catalog.sharing.grants import Grants
from mulu.web.auth import flash, guard, take_flash
from mulu.web.deps import Web
from mulu.web.portal.render import render
from schemas.errors import Conflict, InvalidInput, NotFound
from schemas.principal import Principal
from schemas.roles import Role


def _split(text: str | None) -> list[str]:
    return [v.strip() for v in (text or "").replace("，", ",").split(",") if v.strip()]


def _row_filter(text: str | None) -> dict[str, list[str]]:
    """``household_size=1,3; district=东城`` → {household_size: [1, 3], district: [东城]}."""
    found: dict[str, list[str]] = {}
    for part in (text or "").replace("；", ";").split(";"):
        if not part.strip():
            continue
        column, sep, values = part.partition("=")
        if not sep or not column.strip() or not _split(values):
            raise InvalidInput(f"行筛选“{part.strip()}”应写成 字段=值1,值2")
        found.setdefault(column.strip(), []).extend(_split(values))
    return found


def _expiry(text: str) -> dt.datetime:
    """A date (the end of that day) or a date and time, catalogue time."""
    try:
        when = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(f"到期时间“{text}”应为 YYYY-MM-DD 或 YYYY-MM-DD HH:MM") from None
    if len(text.strip()) <= 10:
        when = when.replace(hour=23, minute=59, second=59)
    return when


def _to(query: str = "") -> RedirectResponse:
    return RedirectResponse("/grants" + query, status_code=303)


def register(app: FastAPI, web: Web) -> None:
    def grants() -> Grants:
        return Grants(web.store, web.workspace)

    @app.get("/grants", response_class=HTMLResponse, include_in_schema=False)
    def grants_page(
        request: Request,
        dataset: str = "",
        grantee: str = "",
        live: bool = False,
        who: Principal = guard(SIGNED_IN),
    ) -> HTMLResponse:
        use = grants()
        steward = who.has(Role.STEWARD)
        every = []
        if steward:
            every = use.list(dataset=dataset or None, live_only=live)
            if grantee:
                every = [g for g in every if grantee in (g["grantee_login"], g["grantee_org"])]
        datasets = use.datasets()
        return render(
            request,
            "grants.html",
            mine=use.mine(who),
            readable=use.readable(who),
            steward=steward,
            every=every,
            datasets=sorted(datasets.values(), key=lambda d: d.name),
            dataset=dataset,
            grantee=grantee,
            live=live,
            orgs={o["code"]: o["name"] for o in web.store.organisations.all() if o.get("name")},
            titles=column_titles(web.workspace),
            message=take_flash(request),
        )

    @app.post("/grants", include_in_schema=False)
    def create_form(
        request: Request,
        dataset: str = Form(""),
        grantee_login: str = Form(""),
        grantee_org: str = Form(""),
        purpose: str = Form(""),
        expires_at: str = Form(""),
        columns: str = Form(""),
        unmasked: str = Form(""),
        row_filter: str = Form(""),
        who: Principal = guard(STEWARD),
    ) -> RedirectResponse:
        try:
            made = grants().create(
                who,
                dataset=dataset.strip(),
                purpose=purpose,
                expires_at=_expiry(expires_at),
                grantee_login=grantee_login.strip() or None,
                grantee_org=grantee_org.strip() or None,
                columns=_split(columns),
                unmasked=_split(unmasked),
                row_filter=_row_filter(row_filter),
            )
        except (InvalidInput, NotFound) as exc:
            flash(request, exc.message, "error")
            return _to()
        flash(request, f"已授权：编号 {made['id']}，{made['dataset']}，到期 {made['expires_at']}")
        return _to(f"?dataset={made['dataset']}")

    @app.post("/grants/{grant_id}/revoke", include_in_schema=False)
    def revoke_form(
        request: Request,
        grant_id: int,
        reason: str = Form(""),
        who: Principal = guard(STEWARD),
    ) -> RedirectResponse:
        try:
            done = grants().revoke(who, grant_id, reason=reason)
        except (InvalidInput, Conflict) as exc:
            flash(request, exc.message, "error")
            return _to()
        flash(request, f"已撤销授权 {done['id']}（{done['dataset']}）：立即生效")
        return _to()
