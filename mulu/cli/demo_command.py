"""``mulu demo``: the demo district and its department datasets, loaded (what ``make demo`` runs)."""

from __future__ import annotations

import datetime as dt
import getpass
import time
from typing import Any

import typer

from catalog.policies import LOCAL
from mulu.cli.context import open_directory
from mulu.cli.output import console, print_json, print_problem, print_table
from mulu.cli.policy import acting, requires
from schemas.principal import Principal


# The demo writes its own district into the workspace (whoever can write the files can).
@requires(LOCAL)
def demo(
    ctx: typer.Context,
    seed: int = typer.Option(2024, help="Random seed; the same seed gives the same district."),
    today: str | None = typer.Option(None, help="Pretend today is this date (YYYY-MM-DD)."),
    scale: float = typer.Option(
        1.0, help="Multiply dataset row counts (1.0: 社保卡申领 has 1M rows)."
    ),
    load: bool = typer.Option(
        True, "--load/--no-load", help="Load the datasets after writing them."
    ),
    users: bool = typer.Option(
        True, "--users/--no-users", help="Create the demo users (one or two per role)."
    ),
    port: int = typer.Option(8000, "--port", help="Port `mulu serve` will use, for the hints."),
    as_json: bool = typer.Option(False, "--json", help="JSON output."),
) -> None:
    """Write a realistic district (343 organisations, 35,700 entries, ~12 department datasets) into the workspace and load the datasets into the warehouse."""
    from catalog.demo import build_demo, generate_district, write_demo_datasets
    from catalog.demo.users import create_demo_users

    who = acting(ctx)
    if who.is_anonymous:  # users exist, no identity given: the OS login writes its workspace
        who = Principal.local_admin(getpass.getuser())
    directory, workspace = open_directory(ctx, who)
    started = time.perf_counter()
    day = dt.date.fromisoformat(today) if today else dt.date.today()
    try:
        with console.status("building the demo district …", spinner="dots"):
            district = generate_district(seed, today=day)
            summary = build_demo(directory, seed=seed, district=district)
            datasets = write_demo_datasets(workspace.root, district, seed=seed, scale=scale)
        logins = (
            create_demo_users(
                directory.store, actor=who.actor, entry_codes=[d.entry_code for d in datasets]
            )
            if users
            else None
        )
    finally:
        directory.close()
    summary = {**summary, "workspace": str(workspace.root), "datasets": len(datasets)}
    report = None
    if load:
        from pipelines.runner import run_datasets

        with console.status(f"loading {len(datasets)} datasets …", spinner="dots"):
            report = run_datasets(workspace)
        summary["loads"] = report.datasets
        summary["failures"] = [f.as_dict() for _, f in sorted(report.failures.items())]
    with console.status("indexing the catalogue for search …", spinner="dots"):
        # Now rather than on the first `mulu search` or portal visit (35,700 entries: ~10 s).
        from catalog.search import refresh_index
        from warehouse.store import Store

        with Store.open(workspace) as store:
            summary["indexed"] = refresh_index(store).indexed
    summary["seconds"] = round(time.perf_counter() - started, 2)
    if logins is not None:
        summary["users"] = logins.as_dict()
    if as_json:
        print_json(summary)
    else:
        console.print(
            f"demo district in {workspace.root}: {summary['organisations']} organisations, "
            f"{summary['entries']} entries, {summary['updates']} update events, "
            f"{len(datasets)} datasets ({summary['seconds']} s)"
        )
        if report is not None:
            # Four columns, so that at 80 columns the names and run ids (typed next: mulu sql,
            # mulu quality show RUN) print whole.
            print_table(
                "loads",
                ["dataset", "rows", "status", "quality run"],
                (
                    (n, d.get("rows"), _load_status(d), d.get("quality_run_id"))
                    for n, d in sorted(report.datasets.items())
                ),
            )
            for name, failure in sorted(report.failures.items()):
                print_problem(f"{name} failed:", failure.line())
        if logins is not None:
            _print_logins(logins.as_dict(), port)
        signed_in = (
            f"export MULU_USER=data.office MULU_PASSWORD={logins.as_dict()['password']}; "
            if logins is not None
            else ""
        )
        console.print(
            f"Try: {signed_in}mulu catalog stats · mulu quality runs --failed · "
            "mulu quality show RUN · mulu quality review RUN --accept --note … · "
            'mulu search 低保 · mulu --local-admin sql "select count(*) from '
            'social_security_card_applications" · mulu serve',
            highlight=False,
            markup=False,
        )
    # The demo's blocked loads are meant (they wait for a steward): only failures fail it.
    if report is not None and report.failures:
        raise typer.Exit(report.exit_code)


def _load_status(load: dict[str, Any]) -> str:
    """A load's status and its quality in one word: passed, warned (both published), blocked
    (waits for a steward), else the load's own status."""
    status, quality = load.get("status"), load.get("quality")
    if status == "published" and quality in ("passed", "warned"):
        return str(quality)
    return str(status or quality or "")


def _print_logins(logins: dict[str, Any], port: int) -> None:
    """Who the demo users are and how each logs in: portal, CLI with a password, a token."""
    print_table(
        "演示用户 demo users",
        ["登录名 login", "姓名", "单位 organisation", "角色 role", "演示什么"],
        (
            (
                u["login"] + ("" if u["created"] else " (已有)"),
                u["name"],
                u["org_name"],
                ", ".join(u["roles"]),
                u["does"],
            )
            for u in logins["users"]
        ),
    )
    lines = [
        f"密码 (password, every demo user): {logins['password']}",
        f"门户 portal: mulu serve, then http://127.0.0.1:{port}/login",
        f"命令行 CLI: MULU_PASSWORD={logins['password']} mulu --user data.office quality runs "
        "--pending",
        f"有条件共享 entry to apply for: {logins['provided_entry'] or '-'} "
        f"(portal /sharing/apply/{logins['provided_entry'] or '…'})",
        "本机管理员 local admin: mulu --local-admin … (recorded as local-admin:<OS login>)",
    ]
    if logins["token"]:
        lines.append(
            f"令牌 token of {logins['token_login']} (shown once): "
            f"MULU_TOKEN={logins['token']} mulu sql"
        )
    for line in lines:
        console.print(line, highlight=False, markup=False, soft_wrap=True)
