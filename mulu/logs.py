"""The web tier's logs (issue 14): a request id on every request, access lines, and JSON lines
for log collectors.

``RequestLog`` (ASGI middleware, the outermost of ``mulu.web.app``) gives each request an id —
the client's or proxy's ``X-Request-ID`` when it is a plain token of at most 128 characters
(letters, digits, ``.``, ``_``, ``:``, ``-``), else a new random one — echoes it in the response's
``X-Request-ID`` and, when the response is done, logs one access line on the ``mulu.access``
logger: method, path (never the query string), status, duration_ms, the signed-in user's
login when there is one, and the client's address.

``JsonFormatter`` writes each log record as one JSON object on one line: ``time`` (UTC, ISO
8601 with milliseconds), ``level``, ``logger``, ``message``, ``pid``, and, for a record logged
while a request is being answered (in any thread working for it), ``request_id``, ``method``,
``path`` and ``user``; an access line adds ``status``, ``duration_ms`` and ``client``; an
exception adds ``exception`` (its traceback). No header, cookie, token, password or query
string is ever put in a line by this module.

``log_config(format)`` is the logging configuration ``mulu serve`` hands uvicorn (each worker
process applies it): ``json`` — app, server and access lines as JSON at INFO; ``text`` — the
quiet default of a laptop (warnings and errors only, as plain text).
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

FORMATS = ("text", "json")
REQUEST_ID_HEADER = "x-request-id"
_GOOD_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
ACCESS_LOGGER = "mulu.access"
# Extra fields an access line carries (``logger.info(..., extra={...})``).
ACCESS_FIELDS = ("status", "duration_ms", "client")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# The request being answered: its id, method, path and the scope's state (where the
# authentication middleware puts the principal). Context variables follow the request into
# the worker threads that run its routes (anyio copies the context).
_request: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "mulu_request", default=None
)
_access = logging.getLogger(ACCESS_LOGGER)


def request_id_of(value: str | None) -> str:
    """The id to use: ``value`` when it is a plain token, else a new one."""
    if value and _GOOD_ID.match(value):
        return value
    return uuid.uuid4().hex


def current_request_id() -> str | None:
    found = _request.get()
    return None if found is None else str(found["request_id"])


def _user(state: Any) -> str | None:
    principal = state.get("principal") if isinstance(state, dict) else None
    login = getattr(principal, "login", None)
    return login if isinstance(login, str) else None


class RequestLog:
    """See the module doc."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent_id = None
        for name, value in scope.get("headers", ()):
            if name == b"x-request-id":
                sent_id = value.decode("latin-1")
                break
        request_id = request_id_of(sent_id)
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        context = {
            "request_id": request_id,
            "method": scope.get("method", ""),
            "path": scope.get("path", ""),
            "state": state,
        }
        token = _request.set(context)
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = [
                    (k, v) for k, v in message.get("headers", ()) if k.lower() != b"x-request-id"
                ]
                headers.append((b"x-request-id", request_id.encode("latin-1")))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception:
            _access.exception(
                "%s %s failed",
                context["method"],
                context["path"],
                extra=_extra(scope, 500, started),
            )
            raise
        else:
            if _access.isEnabledFor(logging.INFO):
                _access.info(
                    "%s %s %s",
                    context["method"],
                    context["path"],
                    status,
                    extra=_extra(scope, status, started),
                )
        finally:
            _request.reset(token)


def _extra(scope: Scope, status: int, started: float) -> dict[str, Any]:
    client = scope.get("client")
    return {
        "status": status,
        "duration_ms": round((time.perf_counter() - started) * 1000, 2),
        "client": client[0] if client else None,
    }


class JsonFormatter(logging.Formatter):
    """One JSON object a line; see the module doc."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        context = _request.get()
        if context is not None:
            out["request_id"] = context["request_id"]
            out["method"] = context["method"]
            out["path"] = context["path"]
            user = _user(context["state"])
            if user is not None:
                out["user"] = user
        for field in ACCESS_FIELDS:
            value = record.__dict__.get(field)
            if value is not None:
                out[field] = value
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def check_format(value: str | None) -> str:
    """``text`` or ``json`` (None: text); ValueError otherwise."""
    chosen = (value or "text").strip().lower()
    if chosen not in FORMATS:
        raise ValueError(f"log format: expected text or json, got {value!r}")
    return chosen


def log_config(log_format: str) -> dict[str, Any]:
    """The ``logging.config.dictConfig`` of a server process (uvicorn's ``log_config``)."""
    chosen = check_format(log_format)
    level = "INFO" if chosen == "json" else "WARNING"
    formatter: dict[str, Any] = (
        {"()": f"{__name__}.JsonFormatter"}
        if chosen == "json"
        else {"format": "%(asctime)s %(levelname)s %(name)s [%(process)d]: %(message)s"}
    )
    handler = {"class": "logging.StreamHandler", "formatter": "mulu", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"mulu": formatter},
        "handlers": {"mulu": handler},
        "root": {"handlers": ["mulu"], "level": level},
        "loggers": {
            # uvicorn's own handlers go: its lines reach the root's handler, formatted alike.
            "uvicorn": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.error": {"handlers": [], "level": level, "propagate": True},
            # Mulu's access lines (RequestLog) carry the request id and the user; uvicorn's not.
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
            ACCESS_LOGGER: {"level": level},
        },
    }
