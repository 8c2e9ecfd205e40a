"""``mulu sharing``: the sharing rules' working-day deadlines (工作日, docs/sharing.md)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import typer

from catalog.policies import ANALYST, LOCAL, OFFICER, SIGNED_IN, STEWARD
from mulu.cli.context import options
from mulu.cli.output import console, print_json, print_problem, print_table
from mulu.cli.policy import acting, requires
from schemas.errors import InvalidInput
from schemas.roles import Role
from warehouse.store import Store

if TYPE_CHECKING:
    from catalog.sharing.applications import Applications

app = typer.Typer(
    help="Sharing (数据共享): applications (共享申请) and the rules' working-day deadlines."
)

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
    as_json: bool = typer.Option(False, "--json", help="JSON output."),
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


# --- 共享申请: the application workflow (issue 13, catalog.sharing.applications) ------------


@contextmanager
def _workflow(ctx: typer.Context) -> Iterator[Applications]:
    from catalog.sharing.applications import Applications

    workspace = options(ctx).workspace().ensure()
    with Store.open(workspace) as store:
        yield Applications(store, workspace)


def _split(values: list[str] | None) -> list[str]:
    """``--columns a,b --columns c`` → [a, b, c]."""
    found: list[str] = []
    for value in values or []:
        found += [v.strip() for v in value.replace("，", ",").split(",") if v.strip()]
    return found


def _row_filter(values: list[str] | None) -> dict[str, list[str]] | None:
    """``--row-filter district=东城,西城`` → {district: [东城, 西城]}."""
    found: dict[str, list[str]] = {}
    for value in values or []:
        column, sep, allowed = value.partition("=")
        if not sep or not column.strip():
            raise InvalidInput(f"行筛选 {value!r} 应为 字段=值1,值2 (column=v1,v2)")
        found.setdefault(column.strip(), []).extend(_split([allowed]))
    return found or None


def _deadline_text(app: dict[str, Any]) -> str:
    deadline = app.get("deadline")
    if not deadline:
        return ""
    text = f"{deadline['due_at'].replace('T', ' ')}（{deadline['status_name']}）"
    return text + ("，暂定" if deadline.get("provisional") else "")


def _rows(apps: list[dict[str, Any]]) -> list[list[Any]]:
    return [
        [
            a["id"],
            a["number"],
            a.get("entry_name") or a["entry_code"],
            a.get("provider_name") or a["provider_org"],
            a["applicant"],
            a["state_name"],
            _deadline_text(a),
        ]
        for a in apps
    ]


HEADER = ("ID", "申请编号", "资源", "提供方", "申请人", "状态", "办理时限")


def _show(app: dict[str, Any], as_json: bool, done: str | None = None) -> None:
    if as_json:
        print_json(app)
        return
    if done:
        console.print(f"{done}：{app['number']}，当前状态：{app['state_name']}", highlight=False)
    lines = [
        f"申请编号：{app['number']}（ID {app['id']}）",
        f"资源：{app.get('entry_name') or ''}（{app['entry_code']}），数据集：{app.get('dataset') or '尚无'}",
        f"提供方：{app.get('provider_name') or app['provider_org']}，共享类型：{app['share_type']}",
        f"申请人：{app['applicant']}（{app.get('applicant_org_name') or app['applicant_org']}）",
        f"用途：{app['purpose']}；应用场景：{app['scenario']}",
        f"申请字段：{'、'.join(app['columns']) or '全部'}；"
        f"使用期限：{(app.get('period_end') or '')[:10] or '未填写（按最长授权期限）'}",
        f"状态：{app['state_name']}（{app['step_name']}）",
    ]
    if app.get("deadline"):
        lines.append(f"办理时限：{_deadline_text(app)}")
        lines += [f"  注意：{w}" for w in app["deadline"].get("warnings", [])]
    if app.get("reason"):
        lines.append(f"理由：{app['reason']}")
    if app.get("grant_id"):
        lines.append(f"授权编号：{app['grant_id']}")
    for grant in app.get("granted", []):
        row_filter = "；".join(
            f"{c} ∈ {'/'.join(v)}" for c, v in (grant.get("row_filter") or {}).items()
        )
        lines.append(
            f"批准内容（授权 {grant['id']}）：字段 {'、'.join(grant['columns']) or '全部'}；"
            f"明文 {'、'.join(grant['unmasked']) or '无'}；行筛选 {row_filter or '全部行'}；"
            f"到期 {str(grant['expires_at']).replace('T', ' ')}"
        )
    for line in lines:
        console.print(line, highlight=False, markup=False)
    if app.get("history"):
        print_table(
            "办理记录",
            ("时间", "操作", "办理人", "状态", "理由", "下一时限"),
            [
                [
                    e["at"],
                    e["action_name"],
                    e["actor"],
                    e["to_state_name"],
                    e["reason"],
                    e["due_at"],
                ]
                for e in app["history"]
            ],
        )
    for notice in app.get("notices", []):
        if not notice["ok"]:
            print_problem(
                "通知未发出 notice failed:",
                f"{notice['channel']} {notice['recipient']}: {notice['error']}",
                "bold yellow",
            )


@app.command("apply")
@requires(ANALYST)
def apply_command(
    ctx: typer.Context,
    entry_code: str = typer.Argument(..., help="信息资源代码 of the entry."),
    purpose: str = typer.Option(..., "--purpose", help="用途."),
    scenario: str = typer.Option(..., "--scenario", help="应用场景."),
    columns: list[str] | None = typer.Option(
        None, "--columns", help="字段 (comma-separated); default all."
    ),
    period_end: str | None = typer.Option(
        None, "--until", help="使用期限 YYYY-MM-DD; default one year."
    ),
    grantees: list[str] | None = typer.Option(
        None,
        "--grantee",
        help="被授权人 login of your organisation; default the whole organisation.",
    ),
    as_json: bool = typer.Option(False, "--json", help="JSON output."),
) -> None:
    """提交共享申请 (apply for another organisation's resource)."""
    who = acting(ctx)
    with _workflow(ctx) as workflow:
        app = workflow.apply(
            who,
            entry_code=entry_code,
            purpose=purpose,
            scenario=scenario,
            columns=_split(columns),
            period_end=period_end,
            grantees=_split(grantees),
        )
    _show(app, as_json, "已提交共享申请")


@app.command("applications")
@requires(SIGNED_IN)
def applications_command(
    ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help="JSON output.")
) -> None:
    """我的申请 (the applications you made)."""
    who = acting(ctx)
    with _workflow(ctx) as workflow:
        apps = workflow.mine(who)
    if as_json:
        print_json(apps)
        return
    print_table(f"我的申请（{who.actor}）", HEADER, _rows(apps))


@app.command("show")
@requires(SIGNED_IN)
def show_command(
    ctx: typer.Context,
    application: str = typer.Argument(..., help="ID or 申请编号."),
    as_json: bool = typer.Option(False, "--json", help="JSON output."),
) -> None:
    """一件申请及其办理记录 (one application with its history)."""
    who = acting(ctx)
    with _workflow(ctx) as workflow:
        app = workflow.get(who, application)
    _show(app, as_json)


@app.command("inbox")
@requires(OFFICER)
def inbox_command(
    ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help="JSON output.")
) -> None:
    """待办：数据办的审核与裁定，提供方的答复 (the data office's and the provider's queues)."""
    who = acting(ctx)
    with _workflow(ctx) as workflow:
        found = workflow.inbox(who)
        from catalog.sharing.applications import org_label

        mine = org_label(workflow.store, who.org_code)
    if as_json:
        print_json(found)
        return
    if who.has(Role.STEWARD):
        print_table("数据办待办（审核、申诉裁定）", HEADER, _rows(found["office"]))
    if who.has(Role.OFFICER):  # only a providing organisation's officers answer
        print_table(f"本单位作为提供方待答复：{mine}", HEADER, _rows(found["provider"]))


@app.command("check")
@requires(STEWARD)
def check_command(
    ctx: typer.Context,
    application: str = typer.Argument(..., help="ID or 申请编号."),
    action: str = typer.Option(
        ..., "--action", help="forward (转提供方) | approve (同意) | refuse (拒绝)."
    ),
    reason: str | None = typer.Option(None, "--reason", help="理由 (required to refuse)."),
    until: str | None = typer.Option(
        None, "--until", help="授权到期日 YYYY-MM-DD（不晚于申请的使用期限）."
    ),
    as_json: bool = typer.Option(False, "--json", help="JSON output."),
) -> None:
    """数据办审核 (the data office checks an application)."""
    who = acting(ctx)
    if action not in ("forward", "approve", "refuse"):
        raise InvalidInput(f"--action 应为 forward | approve | refuse，而不是 {action!r}")
    with _workflow(ctx) as workflow:
        app = workflow.check(
            who,
            application,
            action=action,  # type: ignore[arg-type]
            reason=reason,
            expires_at=until,
        )
    _show(app, as_json, "已审核")


@app.command("answer")
@requires(OFFICER)
def answer_command(
    ctx: typer.Context,
    application: str = typer.Argument(..., help="ID or 申请编号."),
    approve: bool = typer.Option(False, "--approve", help="同意."),
    refuse: bool = typer.Option(False, "--refuse", help="拒绝 (needs --reason)."),
    reason: str | None = typer.Option(None, "--reason", help="理由."),
    columns: list[str] | None = typer.Option(
        None, "--columns", help="同意的字段 (default those asked for)."
    ),
    unmasked: list[str] | None = typer.Option(None, "--unmasked", help="以明文提供的个人信息字段."),
    row_filter: list[str] | None = typer.Option(None, "--row-filter", help="行筛选 column=v1,v2."),
    until: str | None = typer.Option(
        None, "--until", help="授权到期日 YYYY-MM-DD（不晚于申请的使用期限）."
    ),
    as_json: bool = typer.Option(False, "--json", help="JSON output."),
) -> None:
    """提供方答复 (the provider approves or refuses with a reason)."""
    who = acting(ctx)
    if approve == refuse:
        raise InvalidInput("请选择 --approve 或 --refuse 之一")
    with _workflow(ctx) as workflow:
        app = workflow.answer(
            who,
            application,
            approve=approve,
            reason=reason,
            columns=_split(columns) or None,
            unmasked=_split(unmasked),
            row_filter=_row_filter(row_filter),
            expires_at=until,
        )
    _show(app, as_json, "已答复")


@app.command("escalate")
@requires(SIGNED_IN)
def escalate_command(
    ctx: typer.Context,
    application: str = typer.Argument(..., help="ID or 申请编号."),
    reason: str = typer.Option(..., "--reason", help="申诉理由."),
    as_json: bool = typer.Option(False, "--json", help="JSON output."),
) -> None:
    """申诉 (the applicant asks the data office to decide a refusal)."""
    who = acting(ctx)
    with _workflow(ctx) as workflow:
        app = workflow.escalate(who, application, reason=reason)
    _show(app, as_json, "已申诉")


@app.command("settle")
@requires(STEWARD)
def settle_command(
    ctx: typer.Context,
    application: str = typer.Argument(..., help="ID or 申请编号."),
    approve: bool = typer.Option(False, "--approve", help="同意共享."),
    refuse: bool = typer.Option(False, "--refuse", help="维持拒绝."),
    reason: str = typer.Option(..., "--reason", help="裁定理由."),
    columns: list[str] | None = typer.Option(None, "--columns", help="同意的字段."),
    unmasked: list[str] | None = typer.Option(None, "--unmasked", help="以明文提供的个人信息字段."),
    until: str | None = typer.Option(
        None, "--until", help="授权到期日 YYYY-MM-DD（不晚于申请的使用期限）."
    ),
    as_json: bool = typer.Option(False, "--json", help="JSON output."),
) -> None:
    """数据办裁定申诉 (the data office decides an escalation)."""
    who = acting(ctx)
    if approve == refuse:
        raise InvalidInput("请选择 --approve 或 --refuse 之一")
    with _workflow(ctx) as workflow:
        app = workflow.settle(
            who,
            application,
            approve=approve,
            reason=reason,
            columns=_split(columns) or None,
            unmasked=_split(unmasked),
            expires_at=until,
        )
    _show(app, as_json, "已裁定")


@app.command("withdraw")
@requires(SIGNED_IN)
def withdraw_command(
    ctx: typer.Context,
    application: str = typer.Argument(..., help="ID or 申请编号."),
    as_json: bool = typer.Option(False, "--json", help="JSON output."),
) -> None:
    """撤回申请 (the applicant withdraws an open application)."""
    who = acting(ctx)
    with _workflow(ctx) as workflow:
        app = workflow.withdraw(who, application)
    _show(app, as_json, "已撤回")


STATS_HEADER = {
    "provider_code": "提供方代码",
    "provider_name": "提供方",
    "received": "收到申请",
    "answered": "已答复",
    "answered_on_time": "按时答复",
    "answered_on_time_rate": "按时答复率(%)",
    "refused": "拒绝",
    "refused_with_reason": "说明理由的拒绝",
    "shared": "共享授权",
}


@app.command("stats")
@requires(SIGNED_IN)
def stats_command(
    ctx: typer.Context,
    month: str | None = typer.Option(None, "--month", help="YYYY-MM; default this month."),
    as_json: bool = typer.Option(False, "--json", help="JSON output."),
) -> None:
    """共享统计：每个提供方当月收到、按时答复、说明理由的拒绝与共享授权数."""
    from schemas.entry import catalogue_now

    acting(ctx)
    month = month or catalogue_now().strftime("%Y-%m")
    with _workflow(ctx) as workflow:
        rows = workflow.statistics(month)
    if as_json:
        print_json(rows)
        return
    print_table(
        f"{month} 共享统计",
        list(STATS_HEADER.values()),
        [[r.get(k) for k in STATS_HEADER] for r in rows],
    )
