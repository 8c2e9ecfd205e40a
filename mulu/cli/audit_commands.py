"""``mulu audit``: the audit log (审计日志, issue 13) for the data office: list with filters,
verify the hash chain, export. Every command needs the steward role, and looking at or
exporting the log is itself recorded (``audit_view``, ``audit_verify``, ``audit_export``).

``mulu audit verify`` exits 0 when every hash and link holds and 1 when the chain is broken
(the problems are printed, the first broken seq first)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from catalog.policies import STEWARD
from mulu.cli.context import options
from mulu.cli.output import console, errors, print_json, print_table
from mulu.cli.policy import acting, requires
from schemas.errors import InvalidInput
from warehouse.store import Store

if TYPE_CHECKING:
    from catalog.sharing.audit import AuditLog

app = typer.Typer(
    help="The audit log (审计日志): every data access and decision, hash-chained.",
    no_args_is_help=True,
)

ENTRY_HEADER = "seq 渠道 / 时间 / 谁 / 单位"
BROKEN_EXIT = 1  # ``mulu audit verify``: the chain is broken

JSON_OPTION = typer.Option(False, "--json", help="JSON output.")
ACTOR = typer.Option(None, "--actor", help="Who acted (登录名).")
DATASET = typer.Option(None, "--dataset", help="Dataset name (数据集).")
ACTION = typer.Option(
    None,
    "--action",
    help="access, application_apply … application_withdraw, grant, revoke, login, "
    "login_failed, logout, audit_view, audit_verify, audit_export.",
)
CHANNEL = typer.Option(None, "--channel", help="portal, rest, download, ckan, sql or cli.")
SINCE = typer.Option(None, "--since", help="From this date/time on (2026-12-01 or ISO time).")
UNTIL = typer.Option(None, "--until", help="Up to this date (the whole day) or time.")


@contextmanager
def _audit(ctx: typer.Context) -> Iterator[AuditLog]:
    from catalog.sharing.audit import AuditLog, checkpoint_path

    workspace = options(ctx).workspace().ensure()
    with Store.open(workspace) as store:
        yield AuditLog(store, checkpoint=checkpoint_path(workspace.root))


def _filters(
    actor: str | None,
    dataset: str | None,
    action: str | None,
    channel: str | None,
    since: str | None,
    until: str | None,
) -> dict[str, Any]:
    from catalog.sharing.audit import check_filters

    check_filters(action=action, channel=channel)
    given = {
        "actor": actor,
        "dataset": dataset,
        "action": action,
        "channel": channel,
        "since": since,
        "until": until,
    }
    return {k: v for k, v in given.items() if v}


@app.command("list")
@requires(STEWARD)
def list_entries(
    ctx: typer.Context,
    actor: str | None = ACTOR,
    dataset: str | None = DATASET,
    action: str | None = ACTION,
    channel: str | None = CHANNEL,
    since: str | None = SINCE,
    until: str | None = UNTIL,
    limit: int = typer.Option(50, "--limit", min=1, max=10_000, help="At most this many rows."),
    offset: int = typer.Option(0, "--offset", min=0, help="Skip this many (newest first)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """The newest audit entries matching the filters (审计记录)."""
    who = acting(ctx)
    filters = _filters(actor, dataset, action, channel, since, until)
    with _audit(ctx) as log:
        rows = log.entries(limit=limit, offset=offset, **filters)
        total = log.count(**filters)
        log.event(
            who,
            "audit_view",
            channel="cli",
            remote=socket.gethostname(),
            filters=filters,
            shown=len(rows),
        )
    if as_json:
        print_json({"total": total, "offset": offset, "entries": rows})
        return
    # Two lines a cell, so that times, logins, actions and dataset names print whole at 80
    # columns; the columns read and the detail (JSON) wrap.
    # Lines within a cell, so that times, logins, actions and dataset names print whole at 80
    # columns; the columns read and the detail (JSON) wrap.
    print_table(
        f"审计日志 audit log: {len(rows)} of {total}",
        [ENTRY_HEADER, "动作 action / 数据集 / 行数", "列 / 详情"],
        (
            (
                "\n".join(
                    (
                        f"#{row['seq']} {row['channel'] or ''}".strip(),
                        str(row["at"]),
                        str(row["actor"]),
                        str(row["actor_org"] or ""),
                    )
                ).strip(),
                "\n".join(
                    str(part)
                    for part in (
                        row["action"],
                        row["dataset"] or row["entry_code"],
                        None if row["rows"] is None else f"{row['rows']} 行",
                    )
                    if part is not None
                ),
                "\n".join(
                    part
                    for part in (
                        ", ".join(row["columns"]) if isinstance(row["columns"], list) else "",
                        _detail(row["detail"]),
                    )
                    if part
                ),
            )
            for row in rows
        ),
        wrap=("列 / 详情",),
        keep=(ENTRY_HEADER,),
    )


def _detail(detail: Any) -> str:
    """An entry's detail as key=value pairs (values other than text as compact JSON, Chinese
    as written), not a Python dict."""
    if not isinstance(detail, dict) or not detail:
        return "" if not detail else json.dumps(detail, ensure_ascii=False, default=str)
    return " ".join(
        f"{key}={value if isinstance(value, str) else _compact(value)}"
        for key, value in sorted(detail.items())
    )


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


@app.command("verify")
@requires(STEWARD)
def verify(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """Recompute the hash chain; exit 1 and name the first broken seq when it does not hold."""
    who = acting(ctx)
    with _audit(ctx) as log:
        check = log.verify()
        log.event(
            who,
            "audit_verify",
            channel="cli",
            remote=socket.gethostname(),
            ok=check.ok,
            checked=check.checked,
            first_broken=check.first_broken,
        )
    if as_json:
        print_json(check.as_dict())
    elif check.ok:
        console.print(
            f"审计日志完整 (audit chain intact): {check.checked} 条, "
            f"最后 seq {check.last_seq}, hash {check.last_hash}",
            highlight=False,
        )
    else:
        errors.print(
            f"审计日志被篡改 (audit chain broken) at seq {check.first_broken}; "
            f"{check.checked} 条已检查:",
            style="bold red",
            highlight=False,
        )
        for problem in check.problems:
            errors.print(f"  {problem}", highlight=False, markup=False)
    if not check.ok:
        raise typer.Exit(BROKEN_EXIT)


@app.command("export")
@requires(STEWARD)
def export(
    ctx: typer.Context,
    path: Path = typer.Argument(..., help="File to write (.csv or .jsonl)."),
    fmt: str | None = typer.Option(
        None, "--format", help="csv (UTF-8 with BOM, opens in Excel) or jsonl; default: by suffix."
    ),
    actor: str | None = ACTOR,
    dataset: str | None = DATASET,
    action: str | None = ACTION,
    channel: str | None = CHANNEL,
    since: str | None = SINCE,
    until: str | None = UNTIL,
    as_json: bool = JSON_OPTION,
) -> None:
    """Write the matching entries, oldest first, hashes included (a copy can be checked)."""
    who = acting(ctx)
    chosen = (fmt or path.suffix.lstrip(".") or "csv").lower()
    if chosen not in ("csv", "jsonl"):
        raise InvalidInput(f"导出格式只能是 csv 或 jsonl：{chosen!r} (csv or jsonl)")
    filters = _filters(actor, dataset, action, channel, since, until)
    with _audit(ctx) as log:
        count = log.export(path, chosen, **filters)  # type: ignore[arg-type]
        log.event(
            who,
            "audit_export",
            channel="cli",
            remote=socket.gethostname(),
            filters=filters,
            format=chosen,
            rows=count,
            path=str(path),
        )
    if as_json:
        print_json({"path": str(path), "format": chosen, "rows": count})
    else:
        console.print(f"exported {count} entries to {path}", highlight=False)
