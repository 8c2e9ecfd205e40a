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

import functools
import json
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from catalog.directory import Directory, EntryNotFound, OrganisationNotFound
from catalog.policies import PUBLIC, can_see_entry, visible_open_types
from catalog.search import public
from catalog.search.index import Refresher
from catalog.search.query import MAX_QUERY_CHARS
from mulu.web.api import ckan_datastore
from mulu.web.auth import guard
from mulu.web.deps import Web
from schemas.errors import Conflict, Forbidden, InvalidInput, MuluError, NotFound
from schemas.principal import Principal

API_HELP = "https://docs.ckan.org/en/2.10/api/ (subset served by Mulu)"
_EXTRAS = (
    ("update_cycle", "更新周期"),
    ("share_type", "共享类型"),
    ("share_condition", "共享条件"),
    ("share_method", "共享方式"),
    ("open_type", "开放属性"),
    ("category_name", "信息资源分类"),
    ("published_at", "发布日期"),
    ("updated_at", "最近更新时间"),
)
_FACETS = {"organization": "organisation", "res_format": "format", "tags": None, "groups": None}
MAX_ROWS = 1000  # package_search rows above it are cut to it, as CKAN's search.rows_max does


def package_name(code: str) -> str:
    return code.replace("/", "-")


def org_name(code: str) -> str:
    return code.lower()


def organization_dict(org: dict[str, Any], package_count: int | None = None) -> dict[str, Any]:
    found = {
        "id": org["code"],
        "name": org_name(org["code"]),
        "title": org["name"],
        "display_name": org["name"],
        "type": "organization",
        "is_organization": True,
        "state": "active",
        "description": "",
        "image_url": "",
        "created": org.get("created_at"),
    }
    if package_count is not None:
        found["package_count"] = package_count
    return found


def package_dict(entry: dict[str, Any]) -> dict[str, Any]:
    org = {
        "id": entry["provider_code"],
        "name": org_name(entry["provider_code"]),
        "title": entry["provider_name"],
        "type": "organization",
        "is_organization": True,
        "state": "active",
    }
    resources = [
        {
            "id": f"{entry['code']}#{i}",
            "name": f"{entry['name']} ({fmt})",
            "format": fmt.upper(),
            "url": entry.get("landing_page") or "",
            "package_id": entry["code"],
            "position": i,
        }
        for i, fmt in enumerate(entry.get("formats") or [])
    ]
    return {
        "id": entry["code"],
        "name": package_name(entry["code"]),
        "title": entry["name"],
        "notes": entry.get("summary") or "",
        "type": "dataset",
        "private": False,
        "state": "active" if entry.get("status", "active") == "active" else "deleted",
        "owner_org": entry["provider_code"],
        "organization": org,
        "metadata_created": entry.get("created_at"),
        "metadata_modified": entry.get("modified_at"),
        "url": entry.get("landing_page") or "",
        "license_id": "",
        "tags": [
            {"name": t, "display_name": t, "state": "active"} for t in entry.get("tags") or []
        ],
        "resources": resources,
        "num_resources": len(resources),
        "num_tags": len(entry.get("tags") or []),
        "extras": [
            {"key": key, "value": str(entry[key])}
            for key, _ in _EXTRAS
            if entry.get(key) not in (None, "")
        ],
        "data_items": entry.get("data_items") or [],
    }


# --- actions -------------------------------------------------------------------------------
# Each action takes the directory (over the app's store) and the request's parameters. Errors
# are Mulu's own (NotFound, InvalidInput …); ``_envelope`` turns them into CKAN's. The actions
# that show entries also take the caller (``who``, anonymous unless told) and show the public
# open entries only (开放属性, ``catalog.search.public``): a hidden package is "Not found".
ANONYMOUS = Principal.anonymous()
Refresh = bool | Refresher


def _entry(directory: Directory, key: str, who: Principal = ANONYMOUS) -> dict[str, Any]:
    """The active entry whose code is ``key`` (``-`` for ``/`` accepted), if ``who`` sees it."""
    try:
        entry = directory.get(key)
    except EntryNotFound:
        raise NotFound("Not found") from None
    if entry["status"] != "active" or not can_see_entry(who, entry):
        raise NotFound("Not found")
    return entry


def _org(directory: Directory, key: str) -> dict[str, Any]:
    try:
        return directory.organisation(key)
    except OrganisationNotFound:
        raise NotFound("Not found") from None


def _int(params: dict[str, Any], key: str, default: int, most: int) -> int:
    value = params.get(key, default)
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        raise InvalidInput(f"{key}: Invalid integer") from None
    if number < 0:
        raise InvalidInput(f"{key}: Must be a natural number")
    return min(number, most)


def _flag(params: dict[str, Any], key: str) -> bool:
    return str(params.get(key, "false")).lower() in ("true", "1")


def _facet_fields(params: dict[str, Any]) -> list[str]:
    """``facet.field``: a JSON list of field names (a bare name is taken as one)."""
    fields: Any = params.get("facet.field") or "[]"
    if isinstance(fields, str):
        try:
            fields = json.loads(fields)
        except json.JSONDecodeError:
            fields = [fields]
        except (RecursionError, ValueError):  # nested too deeply, a number too long …
            raise InvalidInput("facet.field: not a list of field names") from None
    if isinstance(fields, str):
        fields = [fields]
    if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
        raise InvalidInput(
            'facet.field: expected a list of field names, such as ["organization", "res_format"]'
        )
    return fields


def package_list(
    directory: Directory,
    params: dict[str, Any],
    *,
    who: Principal = ANONYMOUS,
    refresh: Refresh = True,
) -> list[str]:
    limit = None if params.get("limit") is None else _int(params, "limit", 0, 10**9)
    offset = _int(params, "offset", 0, 10**9)
    codes = public.code_list(directory.store, who, limit=limit, offset=offset, refresh=refresh)
    return [package_name(code) for code in codes]


def package_show(
    directory: Directory,
    params: dict[str, Any],
    *,
    who: Principal = ANONYMOUS,
    refresh: Refresh = True,
) -> dict[str, Any]:
    key = params.get("id") or params.get("name_or_id")
    if not key:
        raise InvalidInput("id: Missing value")
    return package_dict(_entry(directory, str(key), who))


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


def package_search(
    directory: Directory,
    params: dict[str, Any],
    *,
    who: Principal = ANONYMOUS,
    refresh: Refresh = True,
) -> dict[str, Any]:
    from catalog.search import search

    rows = _int(params, "rows", 10, MAX_ROWS)
    start = _int(params, "start", 0, 10**9)
    facet_fields = _facet_fields(params)
    query = str(params.get("q") or "").strip()
    if query in ("*:*", "*"):
        query = ""
    filters = _fq_filters(str(params.get("fq") or ""))
    if "organisation_code" in filters:
        filters["organisation"] = _org(directory, filters.pop("organisation_code"))["name"]
    result = search(
        directory.store,
        query,
        facets=filters or None,
        limit=rows,
        offset=start,
        refresh=refresh,
        visible=visible_open_types(who),
    )
    codes = [hit.code for hit in result.hits]
    found = directory.store.entries.by("code", codes)
    search_facets: dict[str, dict[str, Any]] = {}
    for field in facet_fields:
        ours = _FACETS.get(field)
        values = result.facets.get(ours, []) if ours else []
        search_facets[field] = {
            "title": field,
            "items": [{"name": str(v), "display_name": str(v), "count": n} for v, n in values],
        }
    return {
        "count": result.total,
        "sort": "score desc, metadata_modified desc",
        "results": [
            package_dict(found[c]) for c in codes if c in found and can_see_entry(who, found[c])
        ],
        "facets": {
            f: {i["name"]: i["count"] for i in s["items"]} for f, s in search_facets.items()
        },
        "search_facets": search_facets,
    }


def organization_list(
    directory: Directory,
    params: dict[str, Any],
    *,
    who: Principal = ANONYMOUS,
    refresh: Refresh = True,
) -> list[Any]:
    orgs = public.organisations_with_counts(directory.store, who, refresh=refresh)
    if _flag(params, "all_fields"):
        return [organization_dict(o, o["entries"]) for o in orgs]
    return [org_name(o["code"]) for o in orgs]


def organization_show(
    directory: Directory,
    params: dict[str, Any],
    *,
    who: Principal = ANONYMOUS,
    refresh: Refresh = True,
) -> dict[str, Any]:
    key = params.get("id")
    if not key:
        raise InvalidInput("id: Missing value")
    org = _org(directory, str(key))
    store = directory.store
    count = public.organisation_count(store, who, org["code"], refresh=refresh)
    found = organization_dict(org, count)
    if _flag(params, "include_datasets"):
        page = public.entry_page(store, who, provider=org["code"], limit=1000, refresh=refresh)
        found["packages"] = [package_dict(e) for e in page.entries]
    return found


def status_show(directory: Directory, params: dict[str, Any]) -> dict[str, Any]:
    return {
        "ckan_version": "2.10.0",
        "site_title": "Mulu 目录",
        "site_url": "",
        "site_description": "政务信息资源目录 (Mulu)",
        "extensions": ["mulu"],
    }


# The actions that show entries or count them: told who asks.
SHOWING = frozenset(
    {"package_list", "package_show", "package_search", "organization_list", "organization_show"}
)
ACTIONS = {
    f.__name__: f
    for f in (
        package_list,
        package_show,
        package_search,
        organization_list,
        organization_show,
        status_show,
    )
}


def _envelope(exc: MuluError) -> tuple[int, str]:
    """CKAN's status and ``__type`` for a Mulu error (what ``ckanapi`` turns back into its
    NotFound, ValidationError, NotAuthorized)."""
    if isinstance(exc, NotFound):
        return 404, "Not Found Error"
    if isinstance(exc, Forbidden):
        return 403, "Authorization Error"
    if isinstance(exc, InvalidInput | Conflict):
        return 409, "Validation Error"
    return exc.http_status, "Internal Server Error"


async def _params(request: Request) -> dict[str, Any]:
    """Query parameters, then a POST's JSON object or form fields over them."""
    params: dict[str, Any] = dict(request.query_params)
    if request.method != "POST":
        return params
    body = await request.body()
    if not body:
        return params
    if "json" not in request.headers.get("content-type", ""):
        params.update(dict(await request.form()))
        return params
    try:
        parsed = json.loads(body)
    except RecursionError:
        raise InvalidInput("bad JSON body: nested too deeply") from None
    except ValueError:  # not JSON, not UTF-8, a number too long to convert
        raise InvalidInput("bad JSON body") from None
    if not isinstance(parsed, dict):
        raise InvalidInput("bad JSON body: expected an object of parameters")
    params.update(parsed)
    return params


def _check_sizes(params: dict[str, Any]) -> None:
    """A search text longer than the search takes is refused before anything runs."""
    query = params.get("q")
    if isinstance(query, str) and len(query) > MAX_QUERY_CHARS:
        raise InvalidInput(f"q: too long: {len(query):,} characters (at most {MAX_QUERY_CHARS})")


def register(app: FastAPI, web: Web) -> None:
    # Searches and the public's lists answer from the index as it is while the server's
    # refresher indexes changes (``refresh=web.refresher``, given with the caller below).
    handlers: dict[str, Any] = dict(ACTIONS)

    # Every action reads (PUBLIC); a token (``Authorization: <token>`` or ``X-CKAN-API-Key``)
    # makes the caller that user: the auth middleware puts it on the request, a bad token is
    # refused there (401) before any action runs.
    async def action(
        name: str,
        request: Request,
        who: Principal = guard(PUBLIC),
    ) -> JSONResponse:
        # The body is at most limits.MAX_BODY (1 MiB): reading and parsing it here is short.
        try:
            params = await _params(request)
            _check_sizes(params)
        except InvalidInput as exc:
            return _error(400, "Bad request", exc.message, name)
        handler = handlers.get(name)
        if name == "datastore_search":  # data: the caller's grant decides (ckan_datastore)
            handler = ckan_datastore.action(web, who, request)
        elif name in SHOWING:  # entries as the caller sees them (the public: open ones)
            handler = functools.partial(handlers[name], who=who, refresh=web.refresher)
        if handler is None:
            return _error(400, "Bad request", f"Action name not known: {name}", name)
        try:
            result = await run_in_threadpool(handler, web.directory(), params)
        except MuluError as exc:
            return _error(*_envelope(exc), exc.message, name)
        return JSONResponse({"help": f"{API_HELP}#{name}", "success": True, "result": result})

    # One route per method: OpenAPI needs a distinct operation id for each.
    for prefix in ("/api/action/{name}", "/api/3/action/{name}"):
        for method in ("GET", "POST"):
            app.add_api_route(prefix, action, methods=[method], tags=["ckan"])


def _error(status: int, kind: str, message: str, name: str) -> JSONResponse:
    return JSONResponse(
        {
            "help": f"{API_HELP}#{name}",
            "success": False,
            "error": {"__type": kind, "message": message},
        },
        status_code=status,
    )
