"""A CKAN Action API subset, so CKAN clients (``ckanapi``) work against Mulu unchanged.

``/api/action/<action>`` and ``/api/3/action/<action>``, GET (query parameters) or POST (JSON
or form body), answering ``{"help", "success", "result"}`` or ``{"success": false, "error":
{"__type", "message"}}`` with CKAN's status codes. Actions: ``package_list``,
``package_show``, ``package_search``, ``organization_list``, ``organization_show``,
``status_show``.

Mapping: an entry is a package (``name`` = its 信息资源代码 with ``-`` for ``/``, ``id`` = the
code), its 提供方 the organization (``name`` = the lower-cased 提供方代码), 信息资源格式 its
resources, tags its tags, and the GB/T 21063 fields without a CKAN twin are ``extras``.
"""

from __future__ import annotations

import json
import re
import sqlite3
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from mulu.web.deps import Web, thread_connection
from warehouse.catalog_store import row_to_entry

API_HELP = "https://docs.ckan.org/en/2.10/api/ (subset served by Mulu)"
_EXTRAS = (("update_cycle", "更新周期"), ("share_type", "共享类型"),
           ("share_condition", "共享条件"), ("share_method", "共享方式"),
           ("open_type", "开放属性"), ("category_name", "信息资源分类"),
           ("published_at", "发布日期"), ("updated_at", "最近更新时间"))
_FACETS = {"organization": "organisation", "res_format": "format", "tags": None,
           "groups": None}


class ActionError(Exception):
    def __init__(self, status: int, kind: str, message: str) -> None:
        super().__init__(message)
        self.status, self.kind, self.message = status, kind, message


def package_name(code: str) -> str:
    return code.replace("/", "-")


def org_name(code: str) -> str:
    return code.lower()


def organization_dict(org: dict[str, Any], package_count: int | None = None) -> dict[str, Any]:
    found = {"id": org["code"], "name": org_name(org["code"]), "title": org["name"],
             "display_name": org["name"], "type": "organization", "is_organization": True,
             "state": "active", "description": "", "image_url": "",
             "created": org.get("created_at")}
    if package_count is not None:
        found["package_count"] = package_count
    return found


def package_dict(entry: dict[str, Any]) -> dict[str, Any]:
    org = {"id": entry["provider_code"], "name": org_name(entry["provider_code"]),
           "title": entry["provider_name"], "type": "organization",
           "is_organization": True, "state": "active"}
    resources = [{"id": f"{entry['code']}#{i}", "name": f"{entry['name']} ({fmt})",
                  "format": fmt.upper(), "url": entry.get("landing_page") or "",
                  "package_id": entry["code"], "position": i}
                 for i, fmt in enumerate(entry.get("formats") or [])]
    return {
        "id": entry["code"], "name": package_name(entry["code"]), "title": entry["name"],
        "notes": entry.get("summary") or "", "type": "dataset", "private": False,
        "state": "active" if entry.get("status", "active") == "active" else "deleted",
        "owner_org": entry["provider_code"], "organization": org,
        "metadata_created": entry.get("created_at"),
        "metadata_modified": entry.get("modified_at"),
        "url": entry.get("landing_page") or "", "license_id": "",
        "tags": [{"name": t, "display_name": t, "state": "active"}
                 for t in entry.get("tags") or []],
        "resources": resources, "num_resources": len(resources),
        "num_tags": len(entry.get("tags") or []),
        "extras": [{"key": key, "value": str(entry[key])}
                   for key, _ in _EXTRAS if entry.get(key) not in (None, "")],
        "data_items": entry.get("data_items") or [],
    }


# --- actions -------------------------------------------------------------------------------
def _entry(con: sqlite3.Connection, key: str) -> dict[str, Any]:
    for candidate in (key, key.replace("-", "/", 1)):
        row = con.execute("SELECT * FROM entries WHERE code = ? AND status = 'active'",
                          (candidate,)).fetchone()
        if row is not None:
            return row_to_entry(row)
    raise ActionError(404, "Not Found Error", "Not found")


def _org(con: sqlite3.Connection, key: str) -> dict[str, Any]:
    row = con.execute("SELECT * FROM organisations WHERE code = ? OR lower(code) = ? OR name = ? "
                      "LIMIT 1", (key, key.lower(), key)).fetchone()
    if row is None:
        raise ActionError(404, "Not Found Error", "Not found")
    return dict(row)


def _int(params: dict[str, Any], key: str, default: int, most: int) -> int:
    value = params.get(key, default)
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ActionError(409, "Validation Error", f"{key}: Invalid integer") from None
    if number < 0:
        raise ActionError(409, "Validation Error", f"{key}: Must be a natural number")
    return min(number, most)


def package_list(con: sqlite3.Connection, params: dict[str, Any]) -> list[str]:
    limit, offset = params.get("limit"), _int(params, "offset", 0, 10**9)
    sql = "SELECT code FROM entries WHERE status = 'active' ORDER BY code"
    args: list[Any] = []
    if limit is not None:
        sql += " LIMIT ? OFFSET ?"
        args = [_int(params, "limit", 0, 10**9), offset]
    return [package_name(code) for (code,) in con.execute(sql, args)]


def package_show(con: sqlite3.Connection, params: dict[str, Any]) -> dict[str, Any]:
    key = params.get("id") or params.get("name_or_id")
    if not key:
        raise ActionError(409, "Validation Error", "id: Missing value")
    return package_dict(_entry(con, str(key)))


def _fq_filters(fq: str) -> dict[str, str]:
    """``organization:xxx res_format:CSV`` → search facets (other fq clauses are ignored)."""
    filters = {}
    for field, value in re.findall(r'(\w+):("[^"]*"|\S+)', fq or ""):
        value = value.strip('"')
        if field == "organization":
            filters["organisation_code"] = value
        elif field == "res_format":
            filters["format"] = value.lower()
    return filters


def package_search(con: sqlite3.Connection, params: dict[str, Any]) -> dict[str, Any]:
    from catalog.search import search

    rows = _int(params, "rows", 10, 1000)
    start = _int(params, "start", 0, 10**9)
    query = str(params.get("q") or "").strip()
    if query in ("*:*", "*"):
        query = ""
    filters = _fq_filters(str(params.get("fq") or ""))
    if "organisation_code" in filters:
        filters["organisation"] = _org(con, filters.pop("organisation_code"))["name"]
    result = search(con, query, facets=filters or None, limit=rows, offset=start)
    codes = [hit.code for hit in result.hits]
    found = {}
    if codes:
        marks = ",".join("?" * len(codes))
        found = {r["code"]: row_to_entry(r) for r in con.execute(
            f"SELECT * FROM entries WHERE code IN ({marks})", codes)}
    facet_fields = params.get("facet.field") or "[]"
    if isinstance(facet_fields, str):
        try:
            facet_fields = json.loads(facet_fields)
        except json.JSONDecodeError:
            facet_fields = [facet_fields]
    search_facets = {}
    for field in facet_fields:
        ours = _FACETS.get(field)
        values = result.facets.get(ours, []) if ours else []
        search_facets[field] = {"title": field, "items": [
            {"name": str(v), "display_name": str(v), "count": n} for v, n in values]}
    return {"count": result.total, "sort": "score desc, metadata_modified desc",
            "results": [package_dict(found[c]) for c in codes if c in found],
            "facets": {f: {i["name"]: i["count"] for i in s["items"]}
                       for f, s in search_facets.items()},
            "search_facets": search_facets}


def organization_list(con: sqlite3.Connection, params: dict[str, Any]) -> list[Any]:
    counts = dict(con.execute("SELECT provider_code, count(*) FROM entries "
                              "WHERE status = 'active' GROUP BY 1").fetchall())
    orgs = [dict(r) for r in con.execute("SELECT * FROM organisations ORDER BY code")]
    all_fields = str(params.get("all_fields", "false")).lower() in ("true", "1")
    if all_fields:
        return [organization_dict(o, counts.get(o["code"], 0)) for o in orgs]
    return [org_name(o["code"]) for o in orgs]


def organization_show(con: sqlite3.Connection, params: dict[str, Any]) -> dict[str, Any]:
    key = params.get("id")
    if not key:
        raise ActionError(409, "Validation Error", "id: Missing value")
    org = _org(con, str(key))
    count = con.execute("SELECT count(*) FROM entries WHERE provider_code = ? AND "
                        "status = 'active'", (org["code"],)).fetchone()[0]
    found = organization_dict(org, count)
    if str(params.get("include_datasets", "false")).lower() in ("true", "1"):
        found["packages"] = [package_dict(row_to_entry(r)) for r in con.execute(
            "SELECT * FROM entries WHERE provider_code = ? AND status = 'active' "
            "ORDER BY code LIMIT 1000", (org["code"],))]
    return found


def status_show(con: sqlite3.Connection, params: dict[str, Any]) -> dict[str, Any]:
    return {"ckan_version": "2.10.0", "site_title": "Mulu 目录", "site_url": "",
            "site_description": "政务信息资源目录 (Mulu)", "extensions": ["mulu"]}


ACTIONS = {f.__name__: f for f in (package_list, package_show, package_search,
                                   organization_list, organization_show, status_show)}


def register(app: FastAPI, web: Web) -> None:
    workspace = web.workspace
    async def action(name: str, request: Request) -> JSONResponse:
        params: dict[str, Any] = dict(request.query_params)
        if request.method == "POST":
            body = await request.body()
            kind = request.headers.get("content-type", "")
            if body and "json" in kind:
                try:
                    params.update(json.loads(body))
                except json.JSONDecodeError:
                    return _error(400, "Validation Error", "bad JSON body", name)
            elif body:
                params.update(dict(await request.form()))
        handler = ACTIONS.get(name)
        if handler is None:
            return _error(400, "Bad request", f"Action name not known: {name}", name)
        try:
            result = handler(thread_connection(workspace), params)
        except ActionError as exc:
            return _error(exc.status, exc.kind, exc.message, name)
        return JSONResponse({"help": f"{API_HELP}#{name}", "success": True, "result": result})

    for prefix in ("/api/action/{name}", "/api/3/action/{name}"):
        app.add_api_route(prefix, action, methods=["GET", "POST"], tags=["ckan"])


def _error(status: int, kind: str, message: str, name: str) -> JSONResponse:
    return JSONResponse({"help": f"{API_HELP}#{name}", "success": False,
                         "error": {"__type": kind, "message": message}}, status_code=status)
