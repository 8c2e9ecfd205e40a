"""Mulu's one exception hierarchy (every layer raises these; each maps once to an HTTP status
and a CLI exit code, in ``mulu.web.errors`` and ``mulu.cli.output``).

    MuluError                       anything Mulu reports to a user (exit 1, HTTP 500)
    ├── NotFound                    no such entry, organisation, run, dataset … (exit 3, 404)
    ├── InvalidInput                bad file, row, field, option or spec (exit 2, 400)
    ├── Conflict                    the state forbids it now: decided already, newer load … (4, 409)
    ├── Forbidden                   the actor may not do this (exit 5, 403)
    │   ├── Unauthenticated         no valid identity: sign in first (exit 5, 401)
    │   └── TooManyAttempts         too many failed logins: wait (exit 5, 429, Retry-After)
    └── Unavailable                 a needed part is missing or busy: extension, lake … (6, 503)

Two CLI statuses are outcomes, not error kinds: 7 ``mulu run`` blocked a load and held it for
a steward; 8 ``mulu catalog import`` read part of a file that then broke off
(``catalog.importing.importer.ImportBrokeOff``, an InvalidInput after which something was
written).

The message is what the user reads: one line naming the thing (file, row, column, code) and the
reason, in Chinese where the users read Chinese. Subclasses in other modules (``SpecError``,
``LoadError`` …) only add detail; they inherit status and exit code from these.
"""

from __future__ import annotations


class MuluError(Exception):
    """Base of every error Mulu reports to a user."""

    http_status = 500
    exit_code = 1

    @property
    def message(self) -> str:
        return str(self)


class NotFound(MuluError):
    """找不到: the named thing does not exist."""

    http_status = 404
    exit_code = 3


class InvalidInput(MuluError, ValueError):
    """输入有误: a file, record, field or option is not acceptable."""

    http_status = 400
    exit_code = 2


class Conflict(MuluError):
    """状态冲突: the request is valid but the current state forbids it."""

    http_status = 409
    exit_code = 4


class Forbidden(MuluError):
    """无权限: the actor may not do this."""

    http_status = 403
    exit_code = 5


class Unauthenticated(Forbidden):
    """未登录: the request names no valid identity (no session, token or password), or a bad one.
    HTTP 401; the CLI exits 5 like any refusal."""

    http_status = 401


class TooManyAttempts(Forbidden):
    """尝试次数过多: too many failed logins for this login or from this address; retry after
    ``retry_after`` seconds (HTTP 429 with a ``Retry-After`` header)."""

    http_status = 429

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unavailable(MuluError):
    """暂不可用: a part Mulu needs is missing, closed or busy."""

    http_status = 503
    exit_code = 6
