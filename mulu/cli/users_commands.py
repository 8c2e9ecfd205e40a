"""``mulu users``: users, roles and API tokens (issue 13).

The CLI acts as the root identity (``mulu --user LOGIN`` with its password, ``--token``, or
``--local-admin``; ``mulu users whoami`` says who). Managing users needs 系统管理员 (admin); a
user lists, issues and revokes their own tokens and sets their own password. Bootstrap: a
workspace with no users runs in local mode (admin), which adds the first user, normally an
admin; from then on every command needs an identity (or ``--local-admin``)."""

from __future__ import annotations

import getpass
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import typer

from catalog.policies import ADMIN, LOCAL, SIGNED_IN, STEWARD
from mulu.cli.context import SIGN_IN_HINT, options
from mulu.cli.output import console, print_json, print_problem, print_table
from mulu.cli.policy import acting, requires
from schemas.errors import InvalidInput
from schemas.principal import LOCAL_ADMIN_PREFIX, Principal
from warehouse.store import Store
from warehouse.store.opening import store_exists

if TYPE_CHECKING:
    from catalog.sharing.users import UserAccounts

app = typer.Typer(help="Users (用户), roles (角色) and API tokens (令牌).")


@app.callback()
def users(
    ctx: typer.Context,
    as_login: str | None = typer.Option(
        None,
        "--as",
        hidden=True,
        help="Deprecated: `mulu --user LOGIN users …` (the same, with the password).",
    ),
) -> None:
    """Users (用户), roles (角色) and API tokens (令牌)."""
    if as_login is not None:  # the old option, now the root identity (password and all)
        options(ctx).user = as_login
        print_problem(
            "已弃用 deprecated:",
            f"--as 改为 mulu --user {as_login} users …（密码放在 MULU_PASSWORD）",
            "bold yellow",
        )


@contextmanager
def _accounts(ctx: typer.Context) -> Iterator[UserAccounts]:
    """The use cases over a store of their own."""
    from catalog.sharing.users import UserAccounts

    with Store.open(options(ctx).workspace().ensure()) as store:
        yield UserAccounts(store)


def _self_or_admin(who: Principal, login: str) -> None:
    """One's own account (tokens, password), or anyone's for an admin."""
    if who.login != login:
        ADMIN.check(who)


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
@requires(ADMIN)
def add(
    ctx: typer.Context,
    login: str = typer.Argument(..., help="Login name (登录名), unique."),
    org: str = typer.Option(..., "--org", help="The user's organisation code (组织代码)."),
    name: str = typer.Option(..., "--name", help="Display name (姓名)."),
    role: list[str] = typer.Option([], "--role", help="admin | steward | officer | analyst."),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from stdin's first line."
    ),
    as_json: bool = typer.Option(False, "--json", help="JSON output."),
) -> None:
    """Add a user (prompts for a password when interactive).

    The first user ends local mode: from then on commands need --user, --token or --local-admin, so make the first user an admin (--role admin)."""
    who = acting(ctx)
    password = _read_password(password_stdin)
    with _accounts(ctx) as accounts:
        first = not accounts.all()
        user = accounts.add(
            login, org=org, name=name, roles=role, password=password, actor=who.actor
        )
    if as_json:
        print_json(user)
    else:
        console.print(
            f"added {user['login']} ({', '.join(user['roles']) or 'no role'})", highlight=False
        )
    if first:
        print_problem(
            "第一个用户 first user:",
            "本地模式结束：此后的命令需要身份。"
            + SIGN_IN_HINT
            + (
                ""
                if "admin" in user["roles"]
                else "。注意：还没有系统管理员 (admin)，用 --local-admin 添加"
            ),
            "bold yellow",
        )


@app.command("list")
@requires(STEWARD)  # the data office sees who is who (grants name logins); admin too
def list_users(
    ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help="JSON output.")
) -> None:
    """Every user with organisation, roles and state."""
    from schemas.roles import Role

    acting(ctx)
    with _accounts(ctx) as accounts:
        rows = accounts.all()
    if as_json:
        print_json(rows)
        return
    print_table(
        "users",
        ["login / name", "org", "roles", "active", "created / by"],
        (
            (
                f"{u['login']}\n{u['display_name']}",
                u["org_code"],
                ", ".join(f"{r} {Role(r).chinese}" for r in u["roles"]),
                "yes" if u["active"] else "no",
                f"{u['created_at']}\n{u['created_by']}",
            )
            for u in rows
        ),
    )


@app.command("disable")
@requires(ADMIN)
def disable(ctx: typer.Context, login: str = typer.Argument(...)) -> None:
    """Disable a user: no login, no token works."""
    who = acting(ctx)
    with _accounts(ctx) as accounts:
        accounts.disable(login, actor=who.actor)
    console.print(f"disabled {login}", highlight=False)


@app.command("enable")
@requires(ADMIN)
def enable(ctx: typer.Context, login: str = typer.Argument(...)) -> None:
    """Enable a disabled user again."""
    who = acting(ctx)
    with _accounts(ctx) as accounts:
        accounts.enable(login, actor=who.actor)
    console.print(f"enabled {login}", highlight=False)


@app.command("grant-role")
@requires(ADMIN)
def grant_role(
    ctx: typer.Context, login: str = typer.Argument(...), role: str = typer.Argument(...)
) -> None:
    """Give a user a role."""
    who = acting(ctx)
    with _accounts(ctx) as accounts:
        user = accounts.grant_role(login, role, actor=who.actor)
    console.print(f"{login}: {', '.join(user['roles'])}", highlight=False)


@app.command("revoke-role")
@requires(ADMIN)
def revoke_role(
    ctx: typer.Context, login: str = typer.Argument(...), role: str = typer.Argument(...)
) -> None:
    """Take a role away from a user."""
    who = acting(ctx)
    with _accounts(ctx) as accounts:
        user = accounts.revoke_role(login, role, actor=who.actor)
    console.print(f"{login}: {', '.join(user['roles']) or 'no role'}", highlight=False)


@app.command("password")
@requires(SIGNED_IN)  # one's own; anyone's for an admin
def password(
    ctx: typer.Context,
    login: str | None = typer.Argument(None, help="Whose (default: oneself)."),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the new password from stdin's first line."
    ),
) -> None:
    """Set a password (prompts twice when interactive)."""
    who = acting(ctx)
    login = login or who.actor
    _self_or_admin(who, login)
    new = _read_password(password_stdin)
    if new is None:
        raise InvalidInput("没有读到新密码：用 --password-stdin 或在终端运行")
    with _accounts(ctx) as accounts:
        accounts.set_password(login, new, actor=who.actor)
    console.print(f"password of {login} set", highlight=False)


@app.command("token")
@requires(SIGNED_IN)  # one's own; anyone's for an admin
def token(
    ctx: typer.Context,
    login: str | None = typer.Argument(None, help="Whose (default: oneself)."),
    name: str = typer.Option(..., "--name", help="What the token is for."),
    days: int = typer.Option(90, "--days", help="Days until it expires."),
    as_json: bool = typer.Option(False, "--json", help="JSON output."),
) -> None:
    """Issue an API token; its secret is printed once and stored nowhere."""
    who = acting(ctx)
    login = login or who.actor
    _self_or_admin(who, login)
    with _accounts(ctx) as accounts:
        issued = accounts.issue_token(login, name=name, days=days, actor=who.actor)
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
@requires(SIGNED_IN)  # one's own; anyone's for an admin
def tokens(
    ctx: typer.Context,
    login: str | None = typer.Argument(None, help="Whose (default: oneself)."),
    as_json: bool = typer.Option(False, "--json", help="JSON output."),
) -> None:
    """A user's tokens (never their secrets)."""
    who = acting(ctx)
    login = login or who.actor
    _self_or_admin(who, login)
    with _accounts(ctx) as accounts:
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
@requires(SIGNED_IN)  # one's own; anyone's for an admin
def revoke_token(ctx: typer.Context, token_id: int = typer.Argument(..., metavar="ID")) -> None:
    """Revoke an API token."""
    from schemas.errors import NotFound

    who = acting(ctx)
    with _accounts(ctx) as accounts:
        found = accounts.store.users.token(token_id)
        if found is None:
            raise NotFound(f"没有编号为 {token_id} 的令牌")
        _self_or_admin(who, found["login"])
        accounts.revoke_token(token_id, actor=who.actor)
    console.print(f"revoked token {token_id}", highlight=False)


VIA = {
    "password": "密码 (password, --user)",
    "token": "令牌 (API token, --token / MULU_TOKEN)",
    "local": "本机 (local)",
    "session": "会话 (web session)",
    "oidc": "单点登录 (OIDC)",
    "anonymous": "匿名 (anonymous)",
}


@app.command("whoami")
@requires(LOCAL)
def whoami(
    ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help="JSON output.")
) -> None:
    """Who the CLI acts as, how (token, password, local), with which roles, for which organisation."""
    who = acting(ctx)
    shown = describe(ctx, who)
    if as_json:
        print_json(shown)
        return
    roles = "、".join(f"{r['chinese']} {r['role']}" for r in shown["roles"]) or "-"
    org = f"{shown['org_name'] or ''} {shown['org_code'] or ''}".strip() or "-"
    for label, value in (
        ("身份 acting as", shown["actor"]),
        ("方式 via", VIA.get(shown["via"], shown["via"])),
        ("模式 mode", shown["mode"]),
        ("角色 roles", roles),
        ("单位 organisation", org),
    ):
        console.print(f"{label}: {value}", highlight=False, markup=False, soft_wrap=True)
    if who.is_anonymous:
        print_problem("提示 hint:", SIGN_IN_HINT, "bold yellow")


def describe(ctx: typer.Context, who: Principal) -> dict[str, Any]:
    """``who`` as ``whoami`` shows it: actor, via, mode, roles, organisation."""
    org_name = None
    workspace = options(ctx).workspace()
    if who.org_code and store_exists(workspace):
        with Store.open(workspace) as store:
            found = store.organisations.get(who.org_code)
            org_name = found["name"] if found else None
    if who.is_anonymous:
        mode = "匿名：工作区已有用户，未给身份 (anonymous: the workspace has users, no identity)"
    elif who.login and who.login.startswith(LOCAL_ADMIN_PREFIX):
        mode = "本机管理员 --local-admin (explicit local admin)"
    elif who.via == "local":
        mode = "本地模式：工作区还没有用户，以管理员身份 (local mode: no users yet, admin)"
    else:
        mode = "已登录用户 (signed-in user)"
    return {
        "actor": who.actor,
        "login": who.login,
        "display_name": who.display_name,
        "via": who.via,
        "mode": mode,
        "roles": [{"role": r.value, "chinese": r.chinese} for r in sorted(who.roles)],
        "org_code": who.org_code,
        "org_name": org_name,
    }
