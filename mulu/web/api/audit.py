"""REST: the audit log (审计日志, issue 13) for the data office (steward): entries with filters
and paging, the hash chain's check, and a streamed export. Looking is itself recorded
(``audit_view``, ``audit_verify``, ``audit_export``, channel ``rest``)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import FastAPI, Query, Request
from fastapi.responses import StreamingResponse

from catalog.policies import STEWARD
from catalog.sharing.audit import AuditLog, checkpoint_path
from mulu.web.auth import guard, remote_of
from mulu.web.deps import Web
from schemas.entry import catalogue_now
from schemas.principal import Principal


def filters_of(
    actor: str | None,
    actor_org: str | None,
    dataset: str | None,
    entry_code: str | None,
    action: str | None,
    channel: str | None,
    grant_id: int | None,
    since: str | None,
    until: str | None,
) -> dict[str, Any]:
    given = {
        "actor": actor,
        "actor_org": actor_org,
        "dataset": dataset,
        "entry_code": entry_code,
        "action": action,
        "channel": channel,
        "grant_id": grant_id,
        "since": since,
        "until": until,
    }
    return {k: v for k, v in given.items() if v is not None and v != ""}


def register(app: FastAPI, web: Web) -> None:
    log = AuditLog(web.store, checkpoint=checkpoint_path(web.workspace.root))

    @app.get("/api/audit", tags=["audit"])
    def audit_entries(
        request: Request,
        actor: str | None = None,
        actor_org: str | None = None,
        dataset: str | None = None,
        entry_code: str | None = None,
        action: str | None = None,
        channel: str | None = None,
        grant_id: int | None = None,
        since: str | None = Query(None, description="2026-12-01 or an ISO time, inclusive"),
        until: str | None = Query(None, description="a date (the whole day) or an ISO time"),
        limit: int = Query(100, ge=1, le=1000),
        offset: int = Query(0, ge=0),
        who: Principal = guard(STEWARD),
    ) -> dict[str, Any]:
        """Audit entries, newest first (steward). Each has every column, ``columns`` as a list
        and ``detail`` as an object, and its ``prev_hash``/``hash``."""
        filters = filters_of(
            actor, actor_org, dataset, entry_code, action, channel, grant_id, since, until
        )
        entries = log.entries(limit=limit, offset=offset, **filters)
        total = log.count(**filters)
        log.event(
            who,
            "audit_view",
            channel="rest",
            remote=remote_of(request),
            filters=filters,
            shown=len(entries),
        )
        return {"total": total, "offset": offset, "limit": limit, "entries": entries}

    @app.get("/api/audit/verify", tags=["audit"])
    def audit_verify(request: Request, who: Principal = guard(STEWARD)) -> dict[str, Any]:
        """Recompute the hash chain: ``ok``, how many rows were ``checked``, the
        ``first_broken`` seq and the ``problems`` (Chinese, English in parentheses)."""
        check = log.verify()
        log.event(
            who,
            "audit_verify",
            channel="rest",
            remote=remote_of(request),
            ok=check.ok,
            checked=check.checked,
            first_broken=check.first_broken,
        )
        return check.as_dict()

    @app.get("/api/audit/export", tags=["audit"])
    def audit_export(
        request: Request,
        format: Literal["csv", "jsonl"] = "jsonl",
        actor: str | None = None,
        actor_org: str | None = None,
        dataset: str | None = None,
        entry_code: str | None = None,
        action: str | None = None,
        channel: str | None = None,
        grant_id: int | None = None,
        since: str | None = None,
        until: str | None = None,
        who: Principal = guard(STEWARD),
    ) -> StreamingResponse:
        """The matching entries, oldest first, streamed as JSON lines or CSV (UTF-8 with BOM),
        hashes included."""
        filters = filters_of(
            actor, actor_org, dataset, entry_code, action, channel, grant_id, since, until
        )
        return export_response(log, who, format, filters, channel="rest", remote=remote_of(request))


def export_response(
    log: AuditLog,
    who: Principal,
    fmt: Literal["csv", "jsonl"],
    filters: dict[str, Any],
    *,
    channel: str,
    remote: str,
) -> StreamingResponse:
    """Check the filters, record the export, then stream it."""
    body = log.stream(fmt, **filters)  # checks since/until before anything is recorded
    count = log.count(**filters)
    log.event(
        who,
        "audit_export",
        channel=channel,
        remote=remote,
        filters=filters,
        format=fmt,
        rows=count,
    )
    stamp = catalogue_now().strftime("%Y%m%d-%H%M%S")
    media = "text/csv; charset=utf-8" if fmt == "csv" else "application/x-ndjson; charset=utf-8"
    return StreamingResponse(
        body,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="audit-{stamp}.{fmt}"'},
    )
