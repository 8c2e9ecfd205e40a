"""CKAN's ``datastore_search`` over Mulu's granted reads (issue 13), so CKAN tools read data too.

``resource_id`` is a dataset's name, an entry's 信息资源代码 (``301005/000012`` or the package
name ``301005-000012``) or one of the resource ids ``package_show`` lists for the entry
(``301005/000012#0``): each is the dataset serving the entry. What the caller reads is decided
as on every channel by ``catalog.sharing.grants.Grants`` (``mulu.web.api.data.resolve_access``):
the caller is the user of the CKAN token (``Authorization: <token>``); without a grant the
action fails with CKAN's ``Authorization Error`` (``ckanapi.NotAuthorized``). Each call is one
row of the audit log, channel ``ckan``.

Parameters (CKAN 2.10's names): ``limit`` (default 100, at most 32,000), ``offset``, ``fields``
(a list or comma-separated text: some of the granted columns), ``filters`` (``{column: value or
[values]}``, on granted columns shown in clear only: a filter on a masked column would tell its
clear values), ``records_format`` ``objects`` (default) or ``lists``, ``include_total``. ``q``,
``sort``, ``distinct`` and the csv/tsv formats are refused with a Validation Error rather than
silently ignored. The answer: ``fields`` (``_id`` first: the row's position in the granted
view), ``records``, ``total``, ``limit``, ``offset`` and ``_links`` (``start``, ``next``).
"""

from __future__ import annotations

import dataclasses
import json
import urllib.parse
from collections.abc import Callable
from typing import Any

from fastapi import Request

from catalog.directory import Directory
from catalog.sharing.audit import AuditLog
from mulu.web.api.data import json_value, remote_of, resolve_access
from mulu.web.deps import Web
from schemas.access import DataAccess
from schemas.errors import InvalidInput
from schemas.principal import Principal
from warehouse import granted

DEFAULT_LIMIT = 100
MAX_LIMIT = granted.MAX_PAGE  # CKAN's ckan.datastore.search.rows_max default, 32,000
UNSUPPORTED = ("q", "sort", "distinct", "plain", "language", "full_text")
_ACTION_PATH = "/api/3/action/datastore_search"


def ckan_type(duckdb_type: str) -> str:
    """CKAN DataStore's field type for a column's DuckDB type."""
    kind = duckdb_type.upper()
    if kind in ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT") or kind.startswith("U"):
        return "int"
    if kind.startswith("DECIMAL"):
        return "numeric"
    if kind in ("FLOAT", "DOUBLE", "REAL"):
        return "float8"
    if kind == "BOOLEAN":
        return "bool"
    if kind == "DATE":
        return "date"
    if kind.startswith("TIMESTAMP"):
        return "timestamp"
    if kind.startswith("TIME"):
        return "time"
    if kind.endswith("]") or kind.startswith(("STRUCT", "MAP", "JSON")):
        return "json"
    return "text"


def _natural(params: dict[str, Any], key: str, default: int, most: int) -> int:
    value = params.get(key, default)
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        raise InvalidInput(f"{key}: Invalid integer") from None
    if number < 0:
        raise InvalidInput(f"{key}: Must be a natural number")
    return min(number, most)


def _flag(params: dict[str, Any], key: str, default: bool) -> bool:
    value = params.get(key)
    if value is None:
        return default
    return str(value).lower() in ("true", "1", "yes")


def _names(value: Any, key: str) -> list[str]:
    """``fields``: a JSON list, a list, or comma-separated text."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except ValueError:
                raise InvalidInput(f"{key}: not a list of field names") from None
        else:
            value = [part.strip() for part in text.split(",") if part.strip()]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidInput(f"{key}: expected a list of field names")
    return list(dict.fromkeys(value))


def _filters(value: Any) -> dict[str, list[str]]:
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else {}
        except ValueError:
            raise InvalidInput("filters: not a JSON object") from None
    if not isinstance(value, dict):
        raise InvalidInput('filters: expected an object such as {"column": "value"}')
    found: dict[str, list[str]] = {}
    for column, allowed in value.items():
        values = allowed if isinstance(allowed, list) else [allowed]
        if not all(isinstance(v, str | int | float | bool) for v in values):
            raise InvalidInput(f"filters: {column}: expected a value or a list of values")
        found[str(column)] = [str(v) for v in values]
    return found


def narrowed(access: DataAccess, params: dict[str, Any]) -> DataAccess:
    """``access`` narrowed by the call's ``fields`` and ``filters`` (never widened)."""
    columns = access.columns
    if params.get("fields") not in (None, "", []):
        wanted = _names(params["fields"], "fields")
        unknown = [c for c in wanted if c not in access.columns]
        if unknown:
            raise InvalidInput(f'fields: field "{unknown[0]}" not in resource')
        columns = tuple(wanted)
    extra: list[tuple[str, tuple[str, ...]]] = []
    for column, values in _filters(params.get("filters") or {}).items():
        if column not in access.columns:
            raise InvalidInput(f'filters: field "{column}" not in resource')
        if column in access.masked:
            raise InvalidInput(
                f"filters: {column} 已脱敏，不能按其取值筛选 (a masked field cannot be filtered)"
            )
        extra.append((column, tuple(values)))
    return dataclasses.replace(access, columns=columns, row_filter=access.row_filter + tuple(extra))


def _link(resource_id: str, offset: int, limit: int, extra: dict[str, Any]) -> str:
    query = {"resource_id": resource_id, **extra, "limit": limit}
    if offset:
        query["offset"] = offset
    return f"{_ACTION_PATH}?{urllib.parse.urlencode(query)}"


def datastore_search(
    web: Web, who: Principal, params: dict[str, Any], *, remote: str | None = None
) -> dict[str, Any]:
    """CKAN's ``datastore_search`` result for ``who`` (the module's docstring)."""
    resource_id = str(params.get("resource_id") or params.get("id") or "").strip()
    if not resource_id:
        raise InvalidInput("resource_id: Missing value")
    for key in UNSUPPORTED:
        if params.get(key) not in (None, "", [], {}):
            raise InvalidInput(f"{key}: not supported by Mulu's datastore_search")
    records_format = str(params.get("records_format") or "objects")
    if records_format not in ("objects", "lists"):
        raise InvalidInput("records_format: Mulu answers objects or lists")
    limit = _natural(params, "limit", DEFAULT_LIMIT, MAX_LIMIT)
    offset = _natural(params, "offset", 0, 10**12)
    access = narrowed(resolve_access(web, who, resource_id), params)
    page = granted.read_page(web.workspace, access, offset=offset, limit=limit)
    AuditLog(web.store).access(
        who,
        channel="ckan",
        dataset=access.dataset,
        columns=page.columns,
        rows=len(page.rows),
        grant_id=access.grant_id,
        purpose=access.purpose,
        entry_code=access.entry_code,
        remote=remote,
        detail={
            "action": "datastore_search",
            "resource_id": resource_id,
            "offset": offset,
            "limit": limit,
            "basis": access.basis,
        },
    )
    fields = [{"id": "_id", "type": "int"}] + [
        {
            "id": column,
            "type": ckan_type(kind),
            "info": {"notes": "已脱敏 (masked)"} if column in access.masked else {},
        }
        for column, kind in zip(page.columns, page.types, strict=True)
    ]
    rows = [[offset + i + 1, *(json_value(v) for v in row)] for i, row in enumerate(page.rows)]
    names = ["_id", *page.columns]
    records: list[Any] = (
        rows if records_format == "lists" else [dict(zip(names, row, strict=True)) for row in rows]
    )
    kept = {k: params[k] for k in ("fields", "filters", "records_format") if params.get(k)}
    kept = {
        k: v if isinstance(v, str) else json.dumps(v, ensure_ascii=False) for k, v in kept.items()
    }
    found: dict[str, Any] = {
        "resource_id": resource_id,
        "fields": fields,
        "records": records,
        "records_format": records_format,
        "limit": limit,
        "offset": offset,
        "_links": {
            "start": _link(resource_id, 0, limit, kept),
            "next": _link(resource_id, offset + limit, limit, kept),
        },
    }
    if _flag(params, "include_total", True):
        found["total"] = page.total
        found["total_was_estimated"] = False
    found["mulu"] = {
        "dataset": access.dataset,
        "basis": access.basis,
        "grant_id": access.grant_id,
        "masked": [c for c in page.columns if c in access.masked],
    }
    return found


def action(web: Web, who: Principal, request: Request) -> Callable[[Directory, dict], Any]:
    """The handler ``mulu.web.api.ckan`` calls for ``datastore_search``: (directory, params)
    like its other actions, reading as ``who``."""
    remote = remote_of(request)

    def handler(directory: Directory, params: dict[str, Any]) -> dict[str, Any]:
        return datastore_search(web, who, params, remote=remote)

    return handler
