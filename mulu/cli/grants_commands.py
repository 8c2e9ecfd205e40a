"""``mulu grants``: 共享授权 (issue 13): who may read which dataset's columns, until when.

``add`` and ``revoke`` and ``list`` (every grant) are the data office's (steward); ``mine`` lists
the grants to the acting user or their organisation. Every grant and revocation is recorded in
the audit log (``catalog.sharing.grants``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer

from catalog.policies import SIGNED_IN, STEWARD
from mulu.cli.context import options
from mulu.cli.output import console, print_json, print_table
from mulu.cli.policy import acting, requires
from schemas.errors import InvalidInput

app = typer.Typer(
    help="Grants (共享授权): dataset × columns × grantee × purpose × expiry.",
    no_args_is_help=True,
)
JSON_OUTPUT = typer.Option(False, "--json", help="JSON output.")


@contextmanager
def _grants(ctx: typer.Context) -> Iterator[Any]:
    from catalog.sharing.grants import Grants
    from warehouse.store import Store

    workspace = options(ctx).workspace()
    with Store.open(workspace) as store:
        yield Grants(store, workspace)


def _row_filter(values: list[str]) -> dict[str, list[str]]:
    """``column=v1,v2`` options as {column: [v1, v2]} (repeat a column to add values)."""
    found: dict[str, list[str]] = {}
    for text in values:
        column, sep, allowed = text.partition("=")
        if not sep or not column.strip() or not allowed.strip():
            raise InvalidInput(f"--row-filter {text!r}: 写成 字段=值1,值2 (column=value1,value2)")
        found.setdefault(column.strip(), []).extend(
            v.strip() for v in allowed.split(",") if v.strip()
        )
    return found


def _split(values: list[str]) -> list[str]:
    """``--columns a,b --columns c`` → [a, b, c] (as ``mulu sharing answer`` takes them)."""
    found: list[str] = []
    for value in values:
        found += [v.strip() for v in value.replace("，", ",").split(",") if v.strip()]
    return found


def _expiry(days: int | None, until: str | None) -> dt.datetime:
    from schemas.entry import catalogue_now

    if (days is None) == (until is None):
        raise InvalidInput("请给出 --days 或 --until 之一 (give --days or --until)")
    if days is not None:
        return catalogue_now() + dt.timedelta(days=days)
    assert until is not None
    try:
        parsed = dt.datetime.fromisoformat(until)
    except ValueError:
        raise InvalidInput(f"--until {until!r}: 日期格式 YYYY-MM-DD[THH:MM]") from None
    if len(until) <= 10:  # a date alone: the end of that day
        parsed = parsed.replace(hour=23, minute=59, second=59)
    return parsed


def _show(grants: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        print_json(grants)
        return
    # Two lines a cell, so that the dataset, the grantee and the expiry print whole at 80
    # columns; what is granted wraps.
    print_table(
        None,
        ["id", "dataset / grantee", "授权内容 granted", "expires / status"],
        (
            (
                g["id"],
                f"{g['dataset']}\n{g['grantee_login'] or g['grantee_org']}",
                _granted(g),
                f"{g['expires_at']}\n{g['status']}",
            )
            for g in grants
        ),
        wrap=("授权内容 granted",),
    )


def _granted(grant: dict[str, Any]) -> str:
    lines = [f"列 columns: {', '.join(grant['columns']) or '全部 all'}"]
    if grant["unmasked"]:
        lines.append(f"明文 unmasked: {', '.join(grant['unmasked'])}")
    if grant["row_filter"]:
        shown = "; ".join(f"{c}∈{'/'.join(v)}" for c, v in grant["row_filter"].items())
        lines.append(f"行 rows: {shown}")
    return "\n".join(lines)


@app.command("add")
@requires(STEWARD)
def add(
    ctx: typer.Context,
    dataset: str = typer.Argument(..., help="The dataset (its spec's name)."),
    login: str | None = typer.Option(None, "--login", help="Grant to this user."),
    org: str | None = typer.Option(None, "--org", help="Or to this organisation (code)."),
    purpose: str = typer.Option(..., "--purpose", help="用途 (required)."),
    days: int | None = typer.Option(None, "--days", min=1, help="Expires after this many days."),
    until: str | None = typer.Option(None, "--until", help="Or at this time (YYYY-MM-DD[THH:MM])."),
    columns: list[str] = typer.Option(
        [], "--columns", help="Granted columns: a,b or repeated (default: all)."
    ),
    unmasked: list[str] = typer.Option(
        [], "--unmasked", help="PII columns shown in clear: a,b (default: every PII column masked)."
    ),
    row_filter: list[str] = typer.Option(
        [], "--row-filter", help="Rows whose column is one of the values: column=v1,v2."
    ),
    column: list[str] = typer.Option([], "--column", hidden=True),  # the old spelling
    old_filter: list[str] = typer.Option([], "--filter", hidden=True),  # the old spelling
    as_json: bool = JSON_OUTPUT,
) -> None:
    """Grant a user or an organisation read access to a dataset (steward)."""
    who = acting(ctx)
    with _grants(ctx) as grants:
        grant = grants.create(
            who,
            dataset=dataset,
            purpose=purpose,
            expires_at=_expiry(days, until),
            grantee_login=login,
            grantee_org=org,
            columns=_split([*columns, *column]),
            unmasked=_split(unmasked),
            row_filter=_row_filter([*row_filter, *old_filter]),
        )
    if as_json:
        print_json(grant)
    else:
        console.print(f"授权 {grant['id']} 已创建 (granted), 到期 {grant['expires_at']}")


@app.command("list")
@requires(STEWARD)
def list_grants(
    ctx: typer.Context,
    login: str | None = typer.Option(None, "--login", help="Grants to this user."),
    org: str | None = typer.Option(None, "--org", help="Grants to this organisation."),
    dataset: str | None = typer.Option(None, "--dataset", help="Grants of this dataset."),
    live: bool = typer.Option(False, "--live", help="Only grants in force now."),
    as_json: bool = JSON_OUTPUT,
) -> None:
    """Every grant, newest first (steward)."""
    acting(ctx)
    with _grants(ctx) as grants:
        found = grants.list(login=login, org=org, dataset=dataset, live_only=live)
    _show(found, as_json)


@app.command("mine")
@requires(SIGNED_IN)
def mine(ctx: typer.Context, as_json: bool = JSON_OUTPUT) -> None:
    """The grants to you or your organisation."""
    who = acting(ctx)
    with _grants(ctx) as grants:
        found = grants.mine(who)
    _show(found, as_json)


@app.command("revoke")
@requires(STEWARD)
def revoke(
    ctx: typer.Context,
    grant_id: int = typer.Argument(..., help="The grant's id."),
    reason: str = typer.Option(..., "--reason", help="Why (required, recorded)."),
    as_json: bool = JSON_OUTPUT,
) -> None:
    """End a grant now (steward); open analyst sessions lose its table at their next statement."""
    who = acting(ctx)
    with _grants(ctx) as grants:
        grant = grants.revoke(who, grant_id, reason=reason)
    if as_json:
        print_json(grant)
    else:
        console.print(f"授权 {grant['id']} 已撤销 (revoked)")
