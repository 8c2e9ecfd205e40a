"""``mulu sharing``: the sharing rules' working-day deadlines (工作日, docs/sharing.md)."""

from __future__ import annotations

import datetime as dt

import typer

from catalog.policies import LOCAL
from mulu.cli.context import options
from mulu.cli.output import console, print_json, print_problem
from mulu.cli.policy import requires
from schemas.errors import InvalidInput

app = typer.Typer(help="Sharing (数据共享): working-day deadlines of the sharing rules.")

RULES = ("check", "answer", "answer-unpublished")


@app.command("deadline")
@requires(LOCAL)
def deadline(
    ctx: typer.Context,
    start: str = typer.Option(
        ..., "--from", help="When the clock starts (ISO date or time, catalogue time)."
    ),
    days: int | None = typer.Option(None, "--days", help="Working days (工作日)."),
    rule: str | None = typer.Option(
        None, "--rule", help="Days from the workspace's rules: check | answer | answer-unpublished."
    ),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """The deadline N working days after --from: the end (23:59:59) of the N-th working day
    after its day, following China's holidays and 调休 (provisional beyond the tables)."""
    from catalog.sharing.calendar import WorkingCalendar
    from catalog.sharing.rules import SharingRules

    try:
        moment = dt.datetime.fromisoformat(start)
    except ValueError:
        raise InvalidInput(f"bad time {start!r}: expected ISO, e.g. 2026-09-30T18:00") from None
    workspace = options(ctx).workspace()
    if (days is None) == (rule is None):
        raise InvalidInput("give either --days N or --rule (check | answer | answer-unpublished)")
    if days is None:
        if rule not in RULES:
            raise InvalidInput(f"unknown rule {rule!r}: {' | '.join(RULES)}")
        rules = SharingRules.from_workspace(workspace)
        days = {
            "check": rules.check_days,
            "answer": rules.answer_days,
            "answer-unpublished": rules.answer_days_unpublished,
        }[rule]
    calendar = WorkingCalendar.from_workspace(workspace)
    result = calendar.deadline(moment, days)
    if as_json:
        print_json(
            {
                "from": moment.isoformat(),
                "days": days,
                "deadline": result.at.isoformat(),
                "provisional": result.provisional,
                "warnings": result.warnings,
                "covered_until": calendar.covered_until.isoformat(),
            }
        )
        return
    console.print(f"{days} 个工作日 / working days from {moment:%Y-%m-%d %H:%M}: {result.at}")
    for warning in result.warnings:
        print_problem("暂定 provisional:", warning, style="bold yellow")
