"""The data office's audit page (``/audit``, issue 13): the audit log with filters (a GET form),
paging, the hash chain's status and a CSV export (``/audit/export.csv``) of what the filters
select. Steward only; looking and exporting are themselves recorded (channel ``portal``)."""

from __future__ import annotations

import urllib.parse
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, StreamingResponse

from catalog.policies import STEWARD
from catalog.sharing.audit import CHANNELS, AuditLog, checkpoint_path
from mulu.web.auth import guard, remote_of
from mulu.web.deps import Web
from mulu.web.portal.render import render
from schemas.entry import catalogue_now
from schemas.errors import InvalidInput
from schemas.principal import Principal

PAGE_SIZE = 50
AUTO_VERIFY_MAX = 5_000  # ~0.25 s; a longer log is checked on request (the button)
FILTER_NAMES = ("actor", "actor_org", "dataset", "action", "channel", "since", "until")
ACTIONS = (
    "access",
    "login",
    "login_failed",
    "logout",
    "application_apply",
    "application_forward",
    "application_approve",
    "application_refuse",
    "application_escalate",
    "application_settle",
    "application_withdraw",
    "grant",
    "revoke",
    "audit_view",
    "audit_verify",
    "audit_export",
)


def _filters(request: Request) -> dict[str, Any]:
    params = request.query_params
    return {name: params[name].strip() for name in FILTER_NAMES if params.get(name, "").strip()}


def _page(request: Request) -> int:
    try:
        return max(1, int(request.query_params.get("page", "1")))
    except ValueError:
        return 1


def _query(filters: dict[str, Any], **more: Any) -> str:
    return urllib.parse.urlencode({**filters, **{k: v for k, v in more.items() if v}})


def register(app: FastAPI, web: Web) -> None:
    log = AuditLog(web.store, checkpoint=checkpoint_path(web.workspace.root))

    @app.get("/audit", response_class=HTMLResponse, include_in_schema=False)
    def audit_page(request: Request, who: Principal = guard(STEWARD)) -> HTMLResponse:
        filters = _filters(request)
        page = _page(request)
        problem = None
        try:
            entries = log.entries(limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE, **filters)
            total = log.count(**filters)
        except InvalidInput as error:
            problem, entries, total = error.message, [], 0
        everything = log.count()
        check = None
        if request.query_params.get("verify") or everything <= AUTO_VERIFY_MAX:
            check = log.verify()
        log.event(
            who,
            "audit_view",
            channel="portal",
            remote=remote_of(request),
            filters=filters,
            shown=len(entries),
            verified=check is not None,
        )
        lang = request.query_params.get("lang", "")
        pages = max(1, -(-total // PAGE_SIZE))
        return render(
            request,
            "audit.html",
            entries=entries,
            total=total,
            page=page,
            pages=pages,
            filters=filters,
            problem=problem,
            check=check,
            checkpoint=log.saved_checkpoint() if check is None else None,
            channels=CHANNELS,
            actions=ACTIONS,
            prev_url=f"/audit?{_query(filters, page=page - 1, lang=lang)}" if page > 1 else None,
            next_url=(
                f"/audit?{_query(filters, page=page + 1, lang=lang)}" if page < pages else None
            ),
            verify_url=f"/audit?{_query(filters, page=page, verify=1, lang=lang)}",
            export_url=f"/audit/export.csv?{_query(filters)}",
            orgs={o["code"]: o["name"] for o in web.store.organisations.all() if o.get("name")},
        )

    @app.get("/audit/export.csv", include_in_schema=False)
    def audit_export_csv(request: Request, who: Principal = guard(STEWARD)) -> StreamingResponse:
        filters = _filters(request)
        body = log.stream("csv", **filters)  # a bad date is refused here, before recording
        count = log.count(**filters)
        log.event(
            who,
            "audit_export",
            channel="portal",
            remote=remote_of(request),
            filters=filters,
            format="csv",
            rows=count,
        )
        stamp = catalogue_now().strftime("%Y%m%d-%H%M%S")
        return StreamingResponse(
            body,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="audit-{stamp}.csv"'},
        )
