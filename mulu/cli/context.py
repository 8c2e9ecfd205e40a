"""Options every command shares (workspace, user), read once per invocation."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from schemas.principal import Principal
from warehouse.workspace import Workspace

if TYPE_CHECKING:  # imported where used: `mulu --help` stays fast
    from catalog.directory import Directory


@dataclass
class Options:
    home: Path | None = None
    user: str | None = None
    token: str | None = None
    local_admin: bool = False
    acting: Principal | None = None  # who acts, once checked (``principal``)

    def workspace(self) -> Workspace:
        if self.home is not None:
            return Workspace(self.home.resolve())
        return Workspace.from_env()


def set_options(
    ctx: typer.Context,
    home: Path | None = typer.Option(
        None, "--home", help="Workspace folder (default: $MULU_HOME, else ./.mulu)."
    ),
    user: str | None = typer.Option(
        None,
        "--user",
        help="Who is acting: a login, with its password in $MULU_PASSWORD or asked for "
        "(default: $MULU_USER). Before the workspace has users: a name recorded in history.",
    ),
    token: str | None = typer.Option(
        None, "--token", help="Act as this API token's user (default: $MULU_TOKEN)."
    ),
    local_admin: bool = typer.Option(
        False,
        "--local-admin",
        help="Act as the local admin (local-admin:<OS login>): whoever can write the "
        "workspace's files. Explicit, recorded as such.",
    ),
) -> None:
    ctx.obj = Options(
        home=home, user=user or os.environ.get("MULU_USER"), token=token, local_admin=local_admin
    )


def options(ctx: typer.Context) -> Options:
    found = ctx.find_root().obj
    return found if isinstance(found, Options) else Options()


def open_directory(ctx: typer.Context, who: Principal) -> tuple[Directory, Workspace]:
    """The directory over a store of its own (close it when done) and its workspace; changes
    are recorded as ``who.actor`` (an anonymous principal, as for the local demo: the OS
    login or ``$MULU_USER``, as before users existed)."""
    from catalog.directory import Directory

    workspace = options(ctx).workspace()
    user = None if who.is_anonymous else who.actor
    return Directory.open(workspace, user=user), workspace


SIGN_IN_HINT = (
    "请用 --user 登录名（密码放在 MULU_PASSWORD 或在终端输入）、--token 令牌（或 MULU_TOKEN），"
    "或以本机管理员身份 --local-admin 运行 (sign in with --user, --token or --local-admin)"
)


def principal(ctx: typer.Context, *, required: bool = True) -> Principal:
    """Who runs this command (see ``mulu.cli.policy``), in this order: ``--local-admin``;
    ``--token``/``MULU_TOKEN``; a workspace with no users yet: local mode, an admin named by
    ``--user`` or the OS login (as before users existed); ``--user`` with ``MULU_PASSWORD`` (or
    a prompt, on a terminal only); else anonymous.

    Credentials given are always checked (a wrong password or token exits 5). A ``--user``
    without a password is refused when the command needs an identity (``required``) and read
    as anonymous otherwise. Computed once per invocation."""
    import socket

    opts = options(ctx)
    if opts.acting is None:
        opts.acting = _principal(opts, required=required).at(
            channel="cli", remote=socket.gethostname()
        )
    return opts.acting


def _principal(opts: Options, *, required: bool) -> Principal:
    import getpass
    import sys

    from schemas.errors import Unauthenticated

    if opts.local_admin:
        return Principal.local_admin(getpass.getuser())
    workspace = opts.workspace()
    token = opts.token or os.environ.get("MULU_TOKEN")
    from warehouse.store.opening import store_exists

    # No store yet, so no users: local mode (a PostgreSQL store is always there to ask).
    if not store_exists(workspace):
        if token:
            raise Unauthenticated(f"令牌无效：工作区 {workspace.root} 还没有用户 (invalid token)")
        return _local(opts)
    from catalog.sharing.users import UserAccounts
    from warehouse.store import Store

    with Store.open(workspace) as store:
        accounts = UserAccounts(store)
        if token:
            user = accounts.authenticate_token(token)
            return accounts.principal(user["login"], via="token")
        if not store.users.all():
            return _local(opts)
        if opts.user:
            password = os.environ.get("MULU_PASSWORD")
            if password is None and sys.stdin.isatty() and required:
                password = getpass.getpass(f"{opts.user} 的密码 (password): ")
            if password is None:
                if not required:
                    return Principal.anonymous()
                raise Unauthenticated(
                    f"--user {opts.user}：需要密码（MULU_PASSWORD，或在终端输入）或令牌 "
                    "--token (password or token required)"
                )
            import socket

            from catalog.sharing.sessions import PortalSessions

            # The portal's rate limits and audit apply to the CLI's passwords too.
            PortalSessions(store).check_password(
                opts.user, password, remote=f"cli:{socket.gethostname()}", channel="cli"
            )
            return accounts.principal(opts.user, via="password")
    return Principal.anonymous()


def _local(opts: Options) -> Principal:
    """Local mode (no users yet): whoever can write the workspace's files, as admin."""
    import getpass

    from schemas.roles import Role

    name = opts.user or getpass.getuser()
    return Principal(login=name, roles=frozenset({Role.ADMIN}), display_name=name, via="local")
