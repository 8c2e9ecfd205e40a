"""``mulu freshness``: every entry's 更新周期 as an SLA; who is late; the monthly scorecard."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Literal

import typer

from catalog.policies import OFFICER, SIGNED_IN, STEWARD
from mulu.cli.context import options
from mulu.cli.output import console, print_json, print_table
from mulu.cli.policy import acting, requires
from schemas.errors import InvalidInput, NotFound
from warehouse.store import Store

app = typer.Typer(
    help="Freshness (更新时效): statuses, reports of updates, the scorecard.",
    invoke_without_command=True,
)


def _moment(text: str | None) -> dt.datetime | None:
    if text is None:
        return None
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            f"bad time {text!r}: expected ISO, e.g. 2026-10-31 or 2026-10-31T18:00"
        ) from None
    return value if len(text) > 10 else value.replace(hour=23, minute=59, second=59)


@app.callback()
@requires(SIGNED_IN)
def freshness(
    ctx: typer.Context,
    org: str | None = typer.Option(None, "--org", help="Only this 提供方 (code or name)."),
    status: str | None = typer.Option(
        None, "--status", help="fresh | due_soon | overdue | never_updated | not_tracked"
    ),
    at: str | None = typer.Option(
        None, "--at", help="Status at this past moment (ISO date or time), from the update history."
    ),
    limit: int | None = typer.Option(None, help="At most this many entries."),
    as_json: bool = typer.Option(False, "--json", help="JSON output."),
) -> None:
    """Every entry's freshness status (most overdue first), or a summary by status."""
    if ctx.invoked_subcommand is not None:
        return
    acting(ctx)
    from catalog.freshness.sla import Status
    from catalog.freshness.sweep import statuses

    if status is not None and status not in {s.value for s in Status}:
        raise InvalidInput(f"unknown status {status!r}: {', '.join(s.value for s in Status)}")
    with Store.open(options(ctx).workspace().ensure()) as store:
        rows = statuses(store, at=_moment(at), org=org, status=status, limit=limit)
    if as_json:
        print_json(rows)
        return
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    print_table(
        "freshness",
        ["status", "状态", "entries"],
        ((s.value, s.chinese, counts.get(s.value, 0)) for s in Status),
    )
    late = [r for r in rows if r["status"] == "overdue"][:20]
    if late:
        print_table(
            "most overdue",
            ["code", "name", "provider", "cycle", "last update", "days late"],
            (
                (
                    r["code"],
                    r["name"],
                    r["provider_name"],
                    r["cycle"],
                    r["last_update"],
                    r["delay_days"],
                )
                for r in late
            ),
        )


@app.command("report")
@requires(OFFICER)
def report(
    ctx: typer.Context,
    code: str = typer.Argument(..., help="信息资源代码 of the entry whose data was updated."),
    at: str | None = typer.Option(None, "--at", help="When (ISO); default now."),
    note: str | None = typer.Option(None, "--note", help="A note kept with the report."),
    as_json: bool = typer.Option(False, "--json", help="JSON output."),
) -> None:
    """A department reports that an entry's data was updated (moves 最近更新时间).

    Officers report for their own organisation's entries, stewards for any; the report records who made it. A time in the future is refused (a date alone means its end, or now for today)."""
    from catalog.freshness.reports import report_update
    from schemas.entry import catalogue_now

    who = acting(ctx)
    when, now = _moment(at), catalogue_now()
    if when is not None and at is not None and len(at) <= 10 and when.date() == now.date():
        when = min(when, now)  # today's date alone: its end is still to come
    with Store.open(options(ctx).workspace().ensure()) as store:
        entry = report_update(store, who, code, at=when, note=note)
    if as_json:
        print_json({"code": entry["code"], "updated_at": entry["updated_at"]})
    else:
        console.print(
            f"{entry['code']} {entry['name']}: 最近更新时间 {entry['updated_at']}", highlight=False
        )


@app.command("scorecard")
@requires(SIGNED_IN)
def scorecard_command(
    ctx: typer.Context,
    month: str | None = typer.Option(None, "--month", help="YYYY-MM; default this month."),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Write CSV, XLSX or HTML (by extension)."
    ),
    limit: int | None = typer.Option(None, help="Only the first N organisations."),
    as_json: bool = typer.Option(False, "--json", help="JSON output."),
) -> None:
    """Organisations ranked by overdue entries and on-time rate for a month."""
    from catalog.freshness.scorecard import export_scorecard, scorecard

    acting(ctx)
    with Store.open(options(ctx).workspace().ensure()) as store:
        rows = scorecard(store, month)
    if limit:
        rows = rows[:limit]
    if output is not None:
        export_scorecard(rows, output)
        console.print(f"wrote {len(rows)} organisations to {output}", highlight=False)
        return
    if as_json:
        print_json(rows)
        return
    print_table(
        f"{rows[0]['month'] if rows else month} 更新及时率",
        ["#", "提供方", "考核", "应更新", "按时", "按时率%", "逾期", "逾期中位天数"],
        (
            (
                r["rank"],
                r["provider_name"],
                r["tracked"],
                r["due"],
                r["on_time"],
                r["on_time_rate"],
                r["overdue"],
                r["median_delay_days"],
            )
            for r in rows
        ),
    )


@app.command("policy")
@requires(SIGNED_IN)  # listing; setting or removing an override needs a steward (below)
def policy(
    ctx: typer.Context,
    code: str | None = typer.Argument(None, help="Entry code, or organisation code with --org."),
    org: bool = typer.Option(False, "--org", help="CODE is an organisation (提供方代码)."),
    cycle: str | None = typer.Option(None, help="Agreed 更新周期, overriding the entry's."),
    grace: str | None = typer.Option(None, help="Grace after the deadline, e.g. 5d, 36h."),
    soon: str | None = typer.Option(None, help="Due-soon window before the deadline, e.g. 3d."),
    remove: bool = typer.Option(False, "--remove", help="Drop the override."),
    as_json: bool = typer.Option(False, "--json", help="JSON output."),
) -> None:
    """Set (or list, without CODE) SLA overrides per entry or organisation.

    Listing: any signed-in user; setting or removing: a steward (数据管理员)."""
    who = acting(ctx)
    if code is not None:
        STEWARD.check(who)
    with Store.open(options(ctx).workspace().ensure()) as store:
        _policy(
            store,
            code,
            org=org,
            cycle=cycle,
            grace=grace,
            soon=soon,
            remove=remove,
            as_json=as_json,
            user=who.actor,
        )


def _policy(
    store: Store,
    code: str | None,
    *,
    org: bool,
    cycle: str | None,
    grace: str | None,
    soon: str | None,
    remove: bool,
    as_json: bool,
    user: str,
) -> None:
    from catalog.freshness.policies import (
        list_policies,
        parse_duration,
        remove_policy,
        set_policy,
    )

    if code is None:
        found = list_policies(store)
        if as_json:
            print_json(found)
        else:
            print_table(
                "freshness policies",
                ["scope", "code", "cycle", "grace h", "soon h", "set by", "set at"],
                (
                    (
                        p["scope"],
                        p["code"],
                        p["cycle"],
                        p["grace_hours"],
                        p["soon_hours"],
                        p["set_by"],
                        p["set_at"],
                    )
                    for p in found
                ),
            )
        return
    scope: Literal["entry", "organisation"] = "organisation" if org else "entry"
    if remove:
        if not remove_policy(store, scope, code):
            raise NotFound(f"no policy for {scope} {code}")
        console.print(f"removed the policy of {scope} {code}", highlight=False)
        return
    saved = set_policy(
        store,
        scope,
        code,
        user=user,
        cycle=cycle,
        grace=parse_duration(grace) if grace else None,
        soon=parse_duration(soon) if soon else None,
    )
    if as_json:
        print_json(saved)
    else:
        console.print(
            f"{scope} {code}: cycle {saved['cycle'] or '(its own)'}, grace "
            f"{saved['grace_hours'] or 'default'} h, due soon "
            f"{saved['soon_hours'] or 'default'} h",
            highlight=False,
        )


@app.command("notify")
@requires(STEWARD)
def notify(
    ctx: typer.Context,
    email: bool = typer.Option(False, "--email", help="Email each organisation's contact."),
    webhook: str | None = typer.Option(
        None, "--webhook", metavar="URL", help="POST one JSON notice per organisation here."
    ),
    org: str | None = typer.Option(None, "--org", help="Only this 提供方 (code or name)."),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Show what would be sent; send and record nothing."
    ),
    smtp_host: str | None = typer.Option(
        None, envvar="MULU_SMTP_HOST", help="SMTP server for --email."
    ),
    smtp_port: int = typer.Option(25, envvar="MULU_SMTP_PORT", help="SMTP port."),
    smtp_user: str | None = typer.Option(
        None, envvar="MULU_SMTP_USER", help="SMTP login, if the server needs one."
    ),
    smtp_password: str | None = typer.Option(
        None, envvar="MULU_SMTP_PASSWORD", help="SMTP password (better: the environment)."
    ),
    starttls: bool = typer.Option(
        False, "--starttls", envvar="MULU_SMTP_STARTTLS", help="Use STARTTLS."
    ),
    sender: str | None = typer.Option(
        None, "--from", envvar="MULU_SMTP_FROM", help="From address of the emails."
    ),
    as_json: bool = typer.Option(False, "--json", help="JSON output."),
) -> None:
    """Overdue and due-soon notices, one per organisation, never the same one twice."""
    acting(ctx)
    from catalog.freshness.mailer import EmailSettings
    from catalog.freshness.notices import plan_notices
    from catalog.freshness.notify import NotifySettings, send_notices

    channels = {"email"} if email else set()
    if webhook:
        channels.add("webhook")
    if not channels:
        raise InvalidInput("choose --email and/or --webhook URL")
    settings = NotifySettings(
        email=EmailSettings(
            host=smtp_host,
            port=smtp_port,
            sender=sender,
            user=smtp_user,
            password=smtp_password,
            starttls=starttls,
        ),
        dry_run=dry_run,
    )
    with Store.open(options(ctx).workspace().ensure()) as store:
        plan = plan_notices(store, channels=channels, webhook_url=webhook, org=org)
        result = send_notices(store, plan, settings)
    failed = [f"{n.channel}:{n.org_name}: {why}" for n, why in result.failed]
    summary = {
        "dry_run": dry_run,
        "notices": len(plan),
        "sent": [f"{n.channel}:{n.org_name}" for n in result.sent],
        "failed": failed,
        "skipped": len(result.skipped),
        "without_email": [o.org_name for o in plan.without_email],
    }
    if as_json:
        print_json({**summary, "messages": result.messages if dry_run else []})
    else:
        for message in result.messages if dry_run else []:
            console.print(message["content"], highlight=False, markup=False)
        console.print(
            f"{'would send' if dry_run else 'sent'} "
            f"{len(plan) if dry_run else len(result.sent)} notice(s); "
            f"{len(result.failed)} failed; {len(result.skipped)} already sent; "
            f"{len(plan.without_email)} organisation(s) without contact_email",
            highlight=False,
        )
        for line in failed:
            console.print(f"[red]failed[/] {line}", highlight=False)
    if not result.ok:
        raise typer.Exit(2)
