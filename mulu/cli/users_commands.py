"""``mulu users``: users, roles and API tokens (issue 13).

The CLI acts as ``--as LOGIN`` (an active user) or, without it, in local admin mode: as the
OS account, recorded as ``local-admin:<OS login>`` in every change it makes."""

from __future__ import annotations

import getpass
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import typer

from mulu.cli.context import options
from mulu.cli.output import console, print_json, print_table
from schemas.errors import InvalidInput
from warehouse.store import Store

if TYPE_CHECKING:
    from catalog.sharing.users import UserAccounts

app = typer.Typer(help="Users (用户), roles (角色) and API tokens (令牌).")


@app.callback()
def users(
    ctx: typer.Context,
    as_login: str | None = typer.Option(
        None, "--as", help="Act as this user (default: local admin mode, the OS account)."
    ),
) -> None:
    """Users (用户), roles (角色) and API tokens (令牌)."""


@contextmanager
def _accounts(ctx: typer.Context) -> Iterator[tuple[UserAccounts, str]]:
    """The use cases over a store of their own, and the actor (``--as`` or the local admin)."""
    from catalog.sharing.users import UserAccounts

    with Store.open(options(ctx).workspace().ensure()) as store:
        accounts = UserAccounts(store)
        as_login = ctx.parent.params.get("as_login") if ctx.parent is not None else None
        yield accounts, accounts.actor(as_login)


def _read_password(from_stdin: bool) -> str | None:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        return None
    first = getpass.getpass("密码: ")
    if first != getpass.getpass("再次输入密码: "):
        raise InvalidInput("两次输入的密码不一致")
    return first


@app.command("add")
def add(
    ctx: typer.Context,
    login: str = typer.Argument(..., help="Login name (登录名), unique."),
    org: str = typer.Option(..., "--org", help="The user's organisation code (组织代码)."),
    name: str = typer.Option(..., "--name", help="Display name (姓名)."),
    role: list[str] = typer.Option([], "--role", help="admin | steward | officer | analyst."),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from stdin's first line."
    ),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Add a user (prompts for a password when interactive)."""
    password = _read_password(password_stdin)
    with _accounts(ctx) as (accounts, actor):
        user = accounts.add(login, org=org, name=name, roles=role, password=password, actor=actor)
    if as_json:
        print_json(user)
    else:
        console.print(f"added {user['login']} ({', '.join(user['roles']) or 'no role'})")


@app.command("list")
def list_users(ctx: typer.Context, as_json: bool = typer.Option(False, "--json")) -> None:
    """Every user with organisation, roles and state."""
    from schemas.roles import Role

    with _accounts(ctx) as (accounts, _actor):
        rows = accounts.all()
    if as_json:
        print_json(rows)
        return
    print_table(
        "users",
        ["login", "name", "org", "roles", "active", "created"],
        (
            (
                u["login"],
                u["display_name"],
                u["org_code"],
                ", ".join(f"{r} {Role(r).chinese}" for r in u["roles"]),
                "yes" if u["active"] else "disabled",
                f"{u['created_at']} by {u['created_by']}",
            )
            for u in rows
        ),
    )


@app.command("disable")
def disable(ctx: typer.Context, login: str = typer.Argument(...)) -> None:
    """Disable a user: no login, no token works."""
    with _accounts(ctx) as (accounts, actor):
        accounts.disable(login, actor=actor)
    console.print(f"disabled {login}", highlight=False)


@app.command("enable")
def enable(ctx: typer.Context, login: str = typer.Argument(...)) -> None:
    """Enable a disabled user again."""
    with _accounts(ctx) as (accounts, actor):
        accounts.enable(login, actor=actor)
    console.print(f"enabled {login}", highlight=False)


@app.command("grant-role")
def grant_role(
    ctx: typer.Context, login: str = typer.Argument(...), role: str = typer.Argument(...)
) -> None:
    """Give a user a role."""
    with _accounts(ctx) as (accounts, actor):
        user = accounts.grant_role(login, role, actor=actor)
    console.print(f"{login}: {', '.join(user['roles'])}", highlight=False)


@app.command("revoke-role")
def revoke_role(
    ctx: typer.Context, login: str = typer.Argument(...), role: str = typer.Argument(...)
) -> None:
    """Take a role away from a user."""
    with _accounts(ctx) as (accounts, actor):
        user = accounts.revoke_role(login, role, actor=actor)
    console.print(f"{login}: {', '.join(user['roles']) or 'no role'}", highlight=False)


@app.command("token")
def token(
    ctx: typer.Context,
    login: str = typer.Argument(...),
    name: str = typer.Option(..., "--name", help="What the token is for."),
    days: int = typer.Option(90, "--days", help="Days until it expires."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Issue an API token; its secret is printed once and stored nowhere."""
    with _accounts(ctx) as (accounts, actor):
        issued = accounts.issue_token(login, name=name, days=days, actor=actor)
    if as_json:
        print_json(
            {
                "id": issued.id,
                "login": login,
                "name": issued.name,
                "secret": issued.secret,
                "expires_at": issued.expires_at,
            }
        )
        return
    console.print(
        f"token {issued.id} for {login}, expires {issued.expires_at}; the secret is shown only now:",
        highlight=False,
    )
    sys.stdout.write(issued.secret + "\n")


@app.command("tokens")
def tokens(
    ctx: typer.Context,
    login: str = typer.Argument(...),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """A user's tokens (never their secrets)."""
    with _accounts(ctx) as (accounts, _actor):
        rows = accounts.tokens(login)
    if as_json:
        print_json(rows)
        return
    print_table(
        f"tokens of {login}",
        ["id", "name", "created", "expires", "revoked", "last used"],
        (
            (
                t["id"],
                t["name"],
                t["created_at"],
                t["expires_at"],
                t["revoked_at"],
                t["last_used_at"],
            )
            for t in rows
        ),
    )


@app.command("revoke-token")
def revoke_token(ctx: typer.Context, token_id: int = typer.Argument(..., metavar="ID")) -> None:
    """Revoke an API token."""
    with _accounts(ctx) as (accounts, actor):
        accounts.revoke_token(token_id, actor=actor)
    console.print(f"revoked token {token_id}", highlight=False)
