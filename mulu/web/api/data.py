"""REST: the data of a dataset, as far as the caller may read it (issue 13).

``GET /api/data/{dataset}?offset=&limit=`` a page of rows (JSON); ``GET
/api/data/{dataset}/download.{csv|xlsx|parquet}`` the whole granted view, streamed. ``dataset``
is a dataset's name, or an entry's 信息资源代码 in CKAN's package-name form
(``301005-000012``): the dataset serving that entry.

Every route is public at the route (``guard(PUBLIC)``); what the caller reads is decided by
``catalog.sharing.grants.Grants.access`` — the providing organisation's own users everything in
clear, a grant's columns (PII masked unless the grant unmasks it), open data (无条件开放) to
anyone with PII masked, else 401 (anonymous) or 403. The rows come from
``warehouse.granted``. Every read is one row of the audit log (channel ``rest``; a download
``download``, written once the stream ended, with the rows actually sent and whether it
finished).
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import math
import urllib.parse
import uuid
from collections.abc import AsyncIterator
from typing import Any, Literal

import anyio
from fastapi import FastAPI, Query, Request
from fastapi.concurrency import iterate_in_threadpool, run_in_threadpool
from fastapi.responses import StreamingResponse

from catalog.policies import PUBLIC, can_see_entry
from catalog.sharing.audit import AuditLog
from catalog.sharing.grants import Grants
from mulu.web.auth import guard
from mulu.web.deps import Web
from schemas.access import DataAccess
from schemas.errors import Forbidden, NotFound, Unauthenticated
from schemas.principal import Principal
from warehouse import granted

PAGE_ROWS = 100
NOT_OPEN = "请先登录：该数据不是开放数据 (sign in first: not open data)"
MAX_ROWS = 1000  # the most rows one REST page returns
# Public at the route: the grant decides (resolve_access). One dependency object for every route.
ANYONE = guard(PUBLIC)


def remote_of(request: Request) -> str | None:
    """The client's address, as the audit log records it."""
    return request.client.host if request.client else None


def resolve_access(web: Web, who: Principal, key: str) -> DataAccess:
    """What ``who`` may read of the dataset named ``key``: a dataset's name, else an entry's
    信息资源代码 (``/`` or ``-``), else a CKAN resource id of the entry (``<code>#<n>``).

    A dataset or entry the caller may not even see (``catalog.policies.can_see_entry``: the
    public sees open entries only; a dataset serving no entry is no one's open data) is
    answered exactly as one that does not exist, and a 401 names no dataset: an anonymous
    caller cannot tell hidden entries and datasets from missing ones."""
    grants = Grants(web.store, web.workspace)
    name = key.split("#", 1)[0].strip()
    missing = NotFound(f"没有名为 {key!r} 的数据集或目录 (no such dataset or entry)")
    info = grants.datasets().get(name)
    try:
        if info is not None:
            entry = web.store.entries.get(info.entry_code) if info.entry_code else None
            if (entry is None and who.is_anonymous) or (entry and not can_see_entry(who, entry)):
                raise missing
            return grants.access(who, name)
        try:
            entry = web.directory().get(name)
        except NotFound:
            raise missing from None
        if not can_see_entry(who, entry):
            raise missing
        return grants.access_for_entry(who, entry["code"])
    except Unauthenticated:
        _denied(web, who, name, NOT_OPEN)
        raise Unauthenticated(NOT_OPEN) from None
    except Forbidden as exc:
        _denied(web, who, name, exc.message)
        raise


def _denied(web: Web, who: Principal, dataset: str, reason: str) -> None:
    """A refused read is in the audit log too (who tried which data, from where)."""
    AuditLog(web.store).event(who, "access_denied", dataset=dataset, reason=reason)


def json_value(value: Any) -> Any:
    """A value read from the lake as JSON: dates and times as ISO text, a decimal as a number
    when a float holds it exactly (else as text, every digit kept), a non-finite float as
    text, bytes as base64."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, decimal.Decimal):
        if value.is_finite():
            number = float(value)
            if decimal.Decimal(repr(number)) == value:
                return number
        return str(value)
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, uuid.UUID | dt.timedelta):
        return str(value)
    return str(value)


def access_summary(access: DataAccess) -> dict[str, Any]:
    """What the caller is told of the basis of a read."""
    return {
        "dataset": access.dataset,
        "entry_code": access.entry_code,
        "basis": access.basis,
        "grant_id": access.grant_id,
        "purpose": access.purpose,
        "expires_at": access.expires_at,
        "masked": [c for c in access.columns if c in access.masked],
    }


def content_disposition(title: str, fallback: str) -> str:
    """``attachment`` with an ASCII ``filename`` and the real (Chinese) name in ``filename*``,
    UTF-8 as RFC 5987/6266 say."""
    plain = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\;' else "_" for c in fallback
    )
    return (
        f"attachment; filename=\"{plain}\"; filename*=UTF-8''{urllib.parse.quote(title, safe='')}"
    )


def register(app: FastAPI, web: Web) -> None:
    store = web.store

    @app.get("/api/data/{dataset}", tags=["data"])
    def data_page(
        request: Request,
        dataset: str,
        offset: int = Query(0, ge=0),
        limit: int = Query(PAGE_ROWS, ge=0, le=MAX_ROWS),
        who: Principal = ANYONE,
    ) -> dict[str, Any]:
        """A page of the rows ``who`` may read (stable order), the view's total and the
        offset of the next page (null after the last)."""
        access = resolve_access(web, who, dataset)
        page = granted.read_page(web.workspace, access, offset=offset, limit=limit)
        AuditLog(store).access(
            who,
            channel="rest",
            dataset=access.dataset,
            columns=page.columns,
            rows=len(page.rows),
            grant_id=access.grant_id,
            purpose=access.purpose,
            entry_code=access.entry_code,
            remote=remote_of(request),
            detail={"offset": offset, "limit": limit, "basis": access.basis},
        )
        after = offset + len(page.rows)
        return {
            **access_summary(access),
            "masked": [c for c in page.columns if c in access.masked],
            "columns": page.columns,
            "types": page.types,
            "offset": offset,
            "limit": limit,
            "total": page.total,
            "next": after if after < page.total and page.rows else None,
            "rows": [[json_value(v) for v in row] for row in page.rows],
        }

    @app.get("/api/data/{dataset}/download.{fmt}", tags=["data"])
    async def data_download(
        request: Request,
        dataset: str,
        fmt: Literal["csv", "xlsx", "parquet"],
        who: Principal = ANYONE,
    ) -> StreamingResponse:
        """The whole granted view as CSV (UTF-8 with BOM), Excel or Parquet, streamed."""
        access = await run_in_threadpool(resolve_access, web, who, dataset)
        pieces = await run_in_threadpool(granted.stream, web.workspace, access, fmt)
        title = access.dataset
        if access.entry_code:
            entry = await run_in_threadpool(store.entries.get, access.entry_code)
            if entry:
                title = str(entry["name"])
        remote = remote_of(request)

        def record() -> None:
            pieces.close()
            AuditLog(store).access(
                who,
                channel="download",
                dataset=access.dataset,
                columns=pieces.columns,
                rows=pieces.rows,
                grant_id=access.grant_id,
                purpose=access.purpose,
                entry_code=access.entry_code,
                remote=remote,
                detail={"format": fmt, "basis": access.basis, "complete": pieces.finished},
            )

        async def body() -> AsyncIterator[bytes]:
            try:
                async for piece in iterate_in_threadpool(pieces):
                    yield piece
            finally:  # finished, failed or the client went away: recorded once, all the same
                with anyio.CancelScope(shield=True):
                    await run_in_threadpool(record)

        return StreamingResponse(
            body(),
            media_type=granted.MEDIA_TYPES[fmt],
            headers={
                "Content-Disposition": content_disposition(
                    f"{title}.{fmt}", f"{access.dataset}.{fmt}"
                ),
                "Cache-Control": "no-store",
            },
        )
