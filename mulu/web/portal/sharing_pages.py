"""The sharing pages (issue 13): 申请共享 on an entry (``/sharing/apply/{code}``), 我的申请
(``/sharing/mine``), the data office's and the provider's queues (``/sharing/inbox``) and one
application with its history and the decision forms (``/sharing/applications/{id}``).

Plain forms, no script; every POST carries the session's CSRF token and answers with a 303
redirect and a server-side message (``flash``). A refused step (a refusal without a reason, an
application no longer in that step) comes back as an error message on the application's page;
a wrong role or organisation is a 403 page.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from catalog.policies import ANALYST, OFFICER, SIGNED_IN, STEWARD
from catalog.sharing.applications import Applications
from catalog.sharing.rules import SharingRules
from mulu.web.auth import flash, guard, take_flash
from mulu.web.deps import Web
from mulu.web.portal.i18n import translator
from mulu.web.portal.render import page_lang, render
from schemas.entry import ShareType
from schemas.errors import Conflict, InvalidInput, NotFound
from schemas.principal import Principal
from schemas.roles import Role


def _split(text: str | None) -> list[str]:
    return [v.strip() for v in (text or "").replace("，", ",").split(",") if v.strip()]


def _row_filter(text: str | None) -> dict[str, list[str]] | None:
    """``district=东城,西城; street=A`` → {district: [东城, 西城], street: [A]}."""
    found: dict[str, list[str]] = {}
    for part in (text or "").replace("；", ";").split(";"):
        if not part.strip():
            continue
        column, sep, values = part.partition("=")
        if not sep or not column.strip():
            raise InvalidInput(f"行筛选“{part.strip()}”应为 字段=值1,值2")
        found.setdefault(column.strip(), []).extend(_split(values))
    return found or None


def _to(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


def _done_text(request: Request, action: str, done: dict[str, Any]) -> str:
    """What a step did, in the page's language: ``已同意，授权已生效：SQ…（已同意）``."""
    t = translator(page_lang(request))
    key = f"sh_done_{action}"
    text = t(key) if t(key) != key else t("sh_done_other")
    failed = [n for n in done.get("notices", []) if not n["ok"]]
    if failed:
        notice = t("sh_notices_failed").replace("{n}", str(len(failed)))
        text += f"{t('sh_paren_open')}{notice}{t('sh_paren_close')}"
    state = t(f"sh_state_{done['state']}")
    return f"{text}{t('sh_colon')}{done['number']}{t('sh_paren_open')}{state}{t('sh_paren_close')}"


def _org_names(web: Web) -> dict[str, str]:
    return {o["code"]: o["name"] for o in web.store.organisations.all() if o.get("name")}


def register(app: FastAPI, web: Web) -> None:
    def workflow() -> Applications:
        return Applications(web.store, web.workspace)

    def page(path: str) -> str:
        return f"/sharing/applications/{path}"

    def decided(request: Request, app_id: str, action: str, step: Any) -> RedirectResponse:
        """Run one decision; its outcome (or why not) as the next page's message."""
        try:
            done = step()
        except (InvalidInput, Conflict) as exc:
            flash(request, exc.message, "error")
            return _to(page(app_id))
        flash(request, _done_text(request, action, done))
        return _to(page(str(done["id"])))

    @app.get(
        "/sharing/apply/{entry_code:path}", response_class=HTMLResponse, include_in_schema=False
    )
    def apply_page(
        request: Request, entry_code: str, who: Principal = guard(ANALYST)
    ) -> HTMLResponse:
        entry = web.directory(who.actor).get(entry_code)
        dataset, columns = workflow().serving_dataset(entry["code"])
        return render(
            request,
            "sharing_apply.html",
            entry=entry,
            dataset=dataset,
            columns=columns,
            not_shared=entry.get("share_type") == ShareType.NOT_SHARED,
            own=entry.get("provider_code") == who.org_code,
            check_days=SharingRules.from_workspace(web.workspace).check_days,
            message=take_flash(request),
        )

    @app.post("/sharing/apply/{entry_code:path}", include_in_schema=False)
    def apply_form(
        request: Request,
        entry_code: str,
        purpose: str = Form(""),
        scenario: str = Form(""),
        columns: Annotated[list[str] | None, Form()] = None,
        period_end: str = Form(""),
        grantees: str = Form(""),
        who: Principal = guard(ANALYST),
    ) -> RedirectResponse:
        try:
            done = workflow().apply(
                who,
                entry_code=entry_code,
                purpose=purpose,
                scenario=scenario,
                columns=columns or [],
                period_end=period_end or None,
                grantees=_split(grantees),
            )
        except NotFound:
            raise
        except (InvalidInput, Conflict) as exc:
            flash(request, exc.message, "error")
            return _to(f"/sharing/apply/{entry_code}")
        flash(request, _done_text(request, "apply", done))
        return _to(page(str(done["id"])))

    @app.get("/sharing/mine", response_class=HTMLResponse, include_in_schema=False)
    def mine_page(request: Request, who: Principal = guard(SIGNED_IN)) -> HTMLResponse:
        return render(
            request,
            "sharing_mine.html",
            applications=workflow().mine(who),
            message=take_flash(request),
        )

    @app.get("/sharing/inbox", response_class=HTMLResponse, include_in_schema=False)
    def inbox_page(request: Request, who: Principal = guard(SIGNED_IN)) -> HTMLResponse:
        found = workflow().inbox(who)
        return render(
            request,
            "sharing_inbox.html",
            office=found["office"],
            provider=found["provider"],
            is_steward=who.has(Role.STEWARD),
            # Only a providing organisation's officers answer (the data office checks, it does
            # not answer for a provider): no provider queue for a steward without that role.
            is_officer=who.has(Role.OFFICER),
            org_name=_org_names(web).get(who.org_code or ""),
            message=take_flash(request),
        )

    @app.get("/sharing/applications/{app_id}", response_class=HTMLResponse, include_in_schema=False)
    def application_page(
        request: Request, app_id: str, who: Principal = guard(SIGNED_IN)
    ) -> HTMLResponse:
        shown = workflow().get(who, app_id)
        asked = set(shown["columns"])
        offered = [c for c in shown["dataset_columns"] if not asked or c["name"] in asked]
        provider_officer = Role.OFFICER in who.roles and who.org_code == shown["provider_org"]
        return render(
            request,
            "sharing_application.html",
            app=shown,
            offered=offered,
            titles={c["name"]: c["title"] for c in shown["dataset_columns"] if c.get("title")},
            orgs=_org_names(web),
            as_admin="answer" in shown["actions"] and not provider_officer,
            message=take_flash(request),
        )

    @app.post("/sharing/applications/{app_id}/check", include_in_schema=False)
    def check_form(
        request: Request,
        app_id: str,
        action: str = Form(...),
        reason: str = Form(""),
        who: Principal = guard(STEWARD),
    ) -> RedirectResponse:
        if action not in ("forward", "approve", "refuse"):
            raise InvalidInput(f"未知的审核操作 {action!r}")
        return decided(
            request,
            app_id,
            action,
            lambda: workflow().check(who, app_id, action=action, reason=reason),  # type: ignore[arg-type]
        )

    @app.post("/sharing/applications/{app_id}/answer", include_in_schema=False)
    def answer_form(
        request: Request,
        app_id: str,
        decision: str = Form(...),
        reason: str = Form(""),
        columns: Annotated[list[str] | None, Form()] = None,
        unmasked: Annotated[list[str] | None, Form()] = None,
        row_filter: str = Form(""),
        expires_at: str = Form(""),
        who: Principal = guard(OFFICER),
    ) -> RedirectResponse:
        return decided(
            request,
            app_id,
            "approve" if decision == "approve" else "refuse",
            lambda: workflow().answer(
                who,
                app_id,
                approve=decision == "approve",
                reason=reason,
                columns=columns or None,
                unmasked=unmasked or [],
                row_filter=_row_filter(row_filter),
                expires_at=expires_at.strip() or None,
            ),
        )

    @app.post("/sharing/applications/{app_id}/escalate", include_in_schema=False)
    def escalate_form(
        request: Request, app_id: str, reason: str = Form(""), who: Principal = guard(SIGNED_IN)
    ) -> RedirectResponse:
        return decided(
            request, app_id, "escalate", lambda: workflow().escalate(who, app_id, reason=reason)
        )

    @app.post("/sharing/applications/{app_id}/settle", include_in_schema=False)
    def settle_form(
        request: Request,
        app_id: str,
        decision: str = Form(...),
        reason: str = Form(""),
        columns: Annotated[list[str] | None, Form()] = None,
        unmasked: Annotated[list[str] | None, Form()] = None,
        expires_at: str = Form(""),
        who: Principal = guard(STEWARD),
    ) -> RedirectResponse:
        return decided(
            request,
            app_id,
            "settle",
            lambda: workflow().settle(
                who,
                app_id,
                approve=decision == "approve",
                reason=reason,
                columns=columns or None,
                unmasked=unmasked or [],
                expires_at=expires_at.strip() or None,
            ),
        )

    @app.post("/sharing/applications/{app_id}/withdraw", include_in_schema=False)
    def withdraw_form(
        request: Request, app_id: str, who: Principal = guard(SIGNED_IN)
    ) -> RedirectResponse:
        return decided(request, app_id, "withdraw", lambda: workflow().withdraw(who, app_id))
