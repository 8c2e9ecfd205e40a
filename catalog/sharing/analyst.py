"""Per-user analyst sessions (issue 13): ``mulu sql`` as a signed-in user.

``open_session_for(store, workspace, who)`` opens ``warehouse.analyst.open_granted_session``
over what ``who`` may read now (``Grants.readable``): each dataset a table by its name with only
the granted columns and rows, PII masked unless the grant unmasks it; no lake, no catalogue.

Before every statement the session asks the grants again (nothing cached): a dataset whose
access ended (grant expired or revoked) or changed is dropped at once, with everything the
analyst made in the session (it may hold its rows: tables, views, macros, types, sequences,
variables, prepared statements), and the shell says so. Granted tables are read-only in the
session (no ALTER, RENAME, COMMENT, DROP, INSERT/UPDATE/DELETE, index or replacement; the
analyst's own tables stay free), and nothing keeps values outside a table (SET VARIABLE and
CREATE TYPE … AS ENUM (query) are refused): ``GrantedSession``. Each statement that reads granted
tables is recorded in the audit log, once per table, even when it returns no row
(``AuditLog.access``, channel ``sql``, the rows the statement returned: fetched by the caller, or
written by CREATE … AS / INSERT … SELECT); defining a view or macro is not a read, reading
through it is. A local admin (``--local-admin``, a workspace without users) and a signed-in
admin keep the full session (``warehouse.analyst.open_session``): ``full_session_for``.
"""

from __future__ import annotations

import datetime as dt
import socket
from collections.abc import Callable, Collection

from catalog.sharing.audit import AuditLog
from catalog.sharing.grants import Grants
from schemas.entry import catalogue_now
from schemas.errors import Forbidden, NotFound, Unauthenticated
from schemas.principal import Principal
from schemas.roles import Role
from warehouse.analyst import GrantedSession, StatementRead, open_granted_session
from warehouse.store import Store
from warehouse.workspace import Workspace


def full_session_for(who: Principal) -> bool:
    """True when ``who`` gets today's full session (every table, the catalogue): the local
    admin and signed-in admins."""
    return who.is_local_admin or (not who.is_anonymous and who.has(Role.ADMIN))


def open_session_for(
    store: Store,
    workspace: Workspace,
    who: Principal,
    *,
    clock: Callable[[], dt.datetime] = catalogue_now,
    datasets: Collection[str] | None = None,
) -> GrantedSession:
    """``who``'s session: what they may read now, rechecked before each statement and audited.
    ``clock`` gives now (catalogue time) for both; ``datasets``: copy only these (a one-off
    query's names, ``warehouse.analyst.names_in``), default every one ``who`` may read."""
    if who.is_anonymous:
        raise Unauthenticated("请先登录 (sign in first): mulu --user LOGIN sql")
    grants = Grants(store, workspace, clock=clock)
    readable = grants.readable(who)
    if datasets is not None:
        wanted = {name.lower() for name in datasets}
        readable = [a for a in readable if a.dataset.lower() in wanted]
    session = open_granted_session(workspace, readable)
    audit = AuditLog(store, clock=clock)
    remote = socket.gethostname()

    def recheck(current: GrantedSession) -> None:
        ended: dict[str, str] = {}
        for name, held in current.accesses.items():
            try:
                now = grants.access(who, name)
            except (Forbidden, Unauthenticated, NotFound):
                ended[name] = "授权已到期或已撤销 (expired or revoked)"
                continue
            if (now.columns, now.masked, now.row_filter) != (
                held.columns,
                held.masked,
                held.row_filter,
            ):
                ended[name] = "授权已变更，请重新打开会话 (grant changed: open a new session)"
        if ended:
            current.drop_datasets(ended, "；".join(sorted(set(ended.values()))))

    def record(current: GrantedSession, read: StatementRead) -> None:
        for name in read.tables:
            access = current.accesses.get(name)
            if access is None:
                continue
            audit.access(
                who,
                channel="sql",
                dataset=access.dataset,
                columns=access.columns,
                rows=read.rows,
                grant_id=access.grant_id,
                purpose=access.purpose,
                entry_code=access.entry_code,
                remote=remote,
                detail={"basis": access.basis, "statement": read.sql.strip()[:500]},
            )

    session.before_statement = recheck
    session.after_statement = record
    return session
