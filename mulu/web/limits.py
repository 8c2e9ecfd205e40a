"""How much one request may ask of the server, checked before any route runs.

One unauthenticated request once took the server down (a 100 MB ``q`` grew it to 24 GB) or
stalled everyone (a 20 KB ``q``). Every request is now bounded (docs/api.md, "Limits"):

- the query string (everything after ``?``) at most ``MAX_QUERY_STRING`` bytes: 414;
- a request body at most ``MAX_BODY`` bytes: 413, refused from its ``Content-Length`` before
  a byte of it is read, or, for a chunked body, as soon as it grows past the limit;
- a search's ``q`` at most ``catalog.search.MAX_QUERY_CHARS`` characters: 400 (checked by
  the search itself, so the CLI, the REST API, the CKAN API and the portal agree);
- page sizes (``limit``, CKAN ``rows``) by each route, as documented.

``RequestLimits`` is plain ASGI middleware: it answers the refusal itself (JSON ``{"detail"}``
under ``/api/`` and ``/catalog.``, a small page elsewhere) and never buffers more than
``MAX_BODY`` bytes.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from mulu.web.errors import error_page, wants_json

MAX_BODY = 1024 * 1024  # bytes: 1 MiB
MAX_QUERY_STRING = 16 * 1024  # bytes, %-encoded as sent

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class RequestLimits:
    def __init__(
        self, app: ASGIApp, *, max_body: int = MAX_BODY, max_query_string: int = MAX_QUERY_STRING
    ) -> None:
        self.app = app
        self.max_body = max_body
        self.max_query_string = max_query_string

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        query_string = scope.get("query_string", b"")
        if len(query_string) > self.max_query_string:
            await _refuse(
                send,
                path,
                414,
                f"query string too long: {len(query_string):,} bytes "
                f"(at most {self.max_query_string:,})",
            )
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_body:
            await _refuse(send, path, 413, self._too_large(declared))
            return
        if declared is not None:
            await self.app(scope, receive, send)
            return
        # No Content-Length (chunked, or no body at all): read at most the limit, then replay.
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                await self.app(scope, _replay([message], receive), send)
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                await _refuse(send, path, 413, self._too_large(size, at_least=True))
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        await self.app(scope, _replay([body], receive), send)

    def _too_large(self, size: int, *, at_least: bool = False) -> str:
        more = "more than " if at_least else ""
        return f"request body too large: {more}{size:,} bytes (at most {self.max_body:,})"


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A ``receive`` that hands out ``messages``, then the connection's own messages (a
    response streaming a file listens there for the client going away)."""
    pending = list(messages)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed


async def _refuse(send: Send, path: str, status: int, message: str) -> None:
    if wants_json(path):
        body = json.dumps({"detail": message}, ensure_ascii=False).encode()
        media_type = b"application/json"
    else:
        body = bytes(error_page(status, message).body)
        media_type = b"text/html; charset=utf-8"
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", media_type),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": bytes(body)})
