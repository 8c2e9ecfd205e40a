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


def open_directory(ctx: typer.Context) -> tuple[Directory, Workspace]:
    """The directory over a store of its own (close it when done) and its workspace."""
    from catalog.directory import Directory

    opts = options(ctx)
    workspace = opts.workspace()
    return Directory.open(workspace, user=opts.user), workspace


def principal(ctx: typer.Context) -> Principal:
    """Who runs this command (see ``mulu.cli.policy``): ``--token``/``MULU_TOKEN``, ``--user``
    with ``MULU_PASSWORD`` (or a prompt on a terminal), ``--local-admin``; in a workspace with no
    users yet, local mode under ``--user``'s name or the OS login."""
    import getpass
    import sys

    from catalog.sharing.users import UserAccounts
    from schemas.errors import Unauthenticated
    from schemas.roles import Role
    from warehouse.store import Store

    opts = options(ctx)
    if opts.local_admin:
        return Principal.local_admin(getpass.getuser())
    with Store.open(opts.workspace()) as store:
        accounts = UserAccounts(store)
        token = opts.token or os.environ.get("MULU_TOKEN")
        if token:
            user = accounts.authenticate_token(token)
            return accounts.principal(user["login"], via="token")
        if not store.users.all():
            name = opts.user or getpass.getuser()
            return Principal(
                login=name, roles=frozenset({Role.ADMIN}), display_name=name, via="local"
            )
        if opts.user:
            password = os.environ.get("MULU_PASSWORD")
            if password is None and sys.stdin.isatty():
                password = getpass.getpass(f"{opts.user} 的密码 (password): ")
            if password is None:
                raise Unauthenticated(
                    f"--user {opts.user}: 需要密码 (MULU_PASSWORD) 或令牌 (--token)"
                )
            accounts.verify_password(opts.user, password)
            return accounts.principal(opts.user, via="password")
    return Principal.anonymous()
