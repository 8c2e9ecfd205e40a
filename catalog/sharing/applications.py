"""共享申请: the sharing workflow of 国发〔2016〕51号 (issue 13, docs/sharing.md).

States (``state``) and whose turn it is (``step``)::

    submitted  (office)      applied; the data office checks within check_days (2 working days)
    forwarded  (provider)    有条件共享: the provider answers within answer_days (5), or
                             answer_days_unpublished (10) when its dataset is not published yet
    approved   (none)        a grant was made (无条件共享: by the office's check)
    refused    (none)        with a reason, always; the applicant may escalate once
    escalated  (escalation)  the data office decides (settle) within check_days
    withdrawn  (none)        the applicant took it back before a decision

不予共享 entries take no application: the refusal quotes the entry's 共享条件 as its basis. The
entry is read again at every step: once it is 不予共享, forwarding, approving, answering with an
approval, escalating and settling with an approval are refused (409, quoting its 共享条件; a
refusal and a withdrawal still go through), and the office's check follows the entry's current
共享类型 (one changed to 有条件共享 after applying must be forwarded, not approved). The grantees
are checked again at approval: each must still be an active user of the applicant's organisation.

A grant lasts at most ``SharingRules.max_grant_days`` (365): a 使用期限 further away is refused at
apply time; the approval (answer, settle, the office's approve of 无条件共享) may set an earlier
``expires_at`` within the period asked for; without either the grant lasts the maximum.

Every state change is one transaction: the application's row, its event (``application_events``),
the audit log's decision and, on approval, the grant. Notices go out afterwards
(``catalog.sharing.notices``); a failed notice is recorded as a ``notify`` event and never undoes
the decision. Deadlines are working days (``WorkingCalendar``, ``SharingRules``) and each open
step's status uses the freshness words: 按时 / 即将到期 / 逾期.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Literal

from catalog.directory import Directory
from catalog.freshness.scorecard import month_bounds
from catalog.policies import ANALYST, STEWARD
from catalog.sharing.calendar import WorkingCalendar
from catalog.sharing.notices import NoticeOutcome, SharingNotices
from catalog.sharing.rules import SharingRules, deadline_status
from schemas.entry import ShareType, catalogue_now
from schemas.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthenticated
from schemas.principal import Principal
from schemas.roles import Role
from warehouse.store import Store
from warehouse.workspace import Workspace

log = logging.getLogger(__name__)

DEFAULT_GRANT_DAYS = 365  # SharingRules.max_grant_days's default: the longest grant
OPEN_STATES = ("submitted", "forwarded", "escalated")
STATE_NAMES = {
    "submitted": "待数据办审核",
    "forwarded": "待提供方答复",
    "approved": "已同意",
    "refused": "已拒绝",
    "escalated": "已申诉，待数据办裁定",
    "withdrawn": "已撤回",
}
STEP_NAMES = {
    "office": "数据办审核",
    "provider": "提供方答复",
    "escalation": "数据办裁定",
    "none": "已办结",
}
ACTION_NAMES = {
    "apply": "提交申请",
    "forward": "审核通过，转提供方",
    "approve": "同意",
    "refuse": "拒绝",
    "escalate": "申诉",
    "settle": "裁定",
    "withdraw": "撤回",
    "notify": "通知",
}
CheckAction = Literal["forward", "approve", "refuse"]


class ApplicationNotFound(NotFound):
    def __init__(self, key: int | str) -> None:
        super().__init__(f"找不到共享申请 {key} (no such application)")


def _text(value: str | None) -> str:
    return (value or "").strip()


def _iso(moment: dt.datetime) -> str:
    return moment.replace(microsecond=0).isoformat()


def _moment(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


def _naive(moment: dt.datetime) -> dt.datetime:
    """A moment in catalogue time without its zone."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(catalogue_now().tzinfo).replace(tzinfo=None)


def column_title(name: str, source: str | None, description: str | None) -> str | None:
    """A column's Chinese title for people: its source header when that differs from the
    column's name (often the Chinese 源字段名), else its description; None when neither."""
    if source and source.strip() and source.strip() != name:
        return source.strip()
    if description and description.strip():
        return description.strip()
    return None


def column_titles(workspace: Workspace) -> dict[str, dict[str, str]]:
    """{dataset: {column: Chinese title}} of every dataset spec of the workspace."""
    from catalog.datasets import discover_datasets

    plans, _problems = discover_datasets(workspace)
    found: dict[str, dict[str, str]] = {}
    for plan in plans:
        titles = found.setdefault(plan.spec.name, {})
        for c in plan.spec.columns:
            title = column_title(c.name, c.source, c.description)
            if title:
                titles.setdefault(c.name, title)
    return found


def org_label(store: Store, code: str | None) -> str:
    """An organisation as people read it: ``name（code）``, the code alone when unknown."""
    if not code:
        return "—"
    org = store.organisations.get(code)
    return f"{org['name']}（{code}）" if org and org.get("name") else code


def _period_end(value: dt.date | dt.datetime | str | None) -> dt.datetime | None:
    """使用期限 as a moment: a date means the end of that day."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = (
                dt.date.fromisoformat(value.strip())
                if len(value.strip()) == 10
                else dt.datetime.fromisoformat(value.strip())
            )
        except ValueError:
            raise InvalidInput(
                f"使用期限“{value}”不是日期（应为 YYYY-MM-DD）(bad period end)"
            ) from None
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None) if value.tzinfo is None else value
    return dt.datetime.combine(value, dt.time(23, 59, 59))


class Applications:
    """The workflow's use cases. Each takes the acting ``Principal`` and checks its own rule."""

    def __init__(
        self,
        store: Store,
        workspace: Workspace,
        *,
        clock: Callable[[], dt.datetime] = catalogue_now,
        notices: SharingNotices | None = None,
    ) -> None:
        self.store = store
        self.workspace = workspace
        self.clock = clock
        self.notices = notices if notices is not None else SharingNotices.from_env(store)

    # --- helpers ---------------------------------------------------------------------------
    def _now(self) -> dt.datetime:
        now = self.clock()
        if now.tzinfo is not None:
            now = now.astimezone(catalogue_now().tzinfo).replace(tzinfo=None)
        return now.replace(microsecond=0)

    def rules(self) -> SharingRules:
        return SharingRules.from_workspace(self.workspace)

    def calendar(self) -> WorkingCalendar:
        return WorkingCalendar.from_workspace(self.workspace)

    def _entry(self, code: str) -> dict[str, Any]:
        return Directory(self.store).get(code)

    def serving_dataset(self, entry_code: str) -> tuple[str | None, list[dict[str, Any]]]:
        """The dataset serving an entry (the first spec naming it) and its columns (name,
        source, description, pii); (None, []) when no spec names the entry."""
        from catalog.datasets import discover_datasets

        plans, _problems = discover_datasets(self.workspace)
        for plan in plans:
            if plan.spec.entry_code == entry_code:
                columns = [
                    {
                        "name": c.name,
                        "source": c.source or c.name,
                        "description": c.description,
                        "title": column_title(c.name, c.source, c.description),
                        "pii": str(c.pii) if c.pii else None,
                    }
                    for c in plan.spec.columns
                ]
                return plan.spec.name, columns
        return None, []

    def _current_share_type(self, app: dict[str, Any], doing: str) -> str:
        """The entry's 共享类型 now; Conflict (quoting its 共享条件) when it is 不予共享."""
        try:
            entry = self._entry(app["entry_code"])
        except NotFound:
            raise Conflict(
                f"资源 {app['entry_code']} 已不在目录中，无法{doing} (the entry is gone)"
            ) from None
        share_type = str(entry.get("share_type") or "")
        if share_type == ShareType.NOT_SHARED:
            basis = _text(entry.get("share_condition")) or "目录未注明依据"
            raise Conflict(
                f"资源 {entry['code']}（{entry.get('name')}）已改为不予共享，无法{doing}申请 "
                f"{app['number']}。依据：{basis} (the entry is now not shared)"
            )
        return share_type

    def _expiry(
        self, app: dict[str, Any], expires_at: dt.date | dt.datetime | str | None
    ) -> dt.datetime:
        """The grant's expiry: ``expires_at`` when given (in the future, not after the 使用期限
        asked for nor the longest grant), else the 使用期限, else the longest grant."""
        now = self._now()
        longest = now + dt.timedelta(days=self.rules().max_grant_days)
        period = _moment(app.get("period_end"))
        limit = min(period, longest) if period is not None else longest
        chosen = _period_end(expires_at)
        if chosen is None:
            return limit
        chosen = _naive(chosen)
        if chosen <= now:
            raise InvalidInput(f"授权到期日 {chosen:%Y-%m-%d} 已过 (expiry is in the past)")
        if chosen > limit:
            asked = (
                "申请的使用期限" if period is not None and period <= longest else "共享授权最长期限"
            )
            raise InvalidInput(
                f"授权到期日 {chosen:%Y-%m-%d} 晚于{asked}（{limit:%Y-%m-%d}）"
                "(expiry beyond the period asked for)"
            )
        return chosen

    def _published(self, dataset: str | None) -> bool:
        return dataset is not None and self.store.loads.last_published(dataset) is not None

    def _stored(self, app_id: int | str) -> dict[str, Any]:
        found: dict[str, Any] | None = None
        if isinstance(app_id, int) or str(app_id).strip().isdigit():
            found = self.store.applications.get(int(app_id))
        else:
            found = self.store.applications.by_number(str(app_id).strip().upper())
        if found is None:
            raise ApplicationNotFound(app_id)
        return found

    def _deadline(self, start: dt.datetime, days: int) -> str:
        return _iso(self.calendar().deadline(start, days).at)

    def _on_time(self, app: dict[str, Any], now: dt.datetime) -> bool:
        due = _moment(app.get("due_at"))
        return due is None or now <= due

    def _change(
        self,
        who: Principal,
        app: dict[str, Any],
        action: str,
        *,
        to_state: str,
        step: str,
        due_at: str | None,
        reason: str | None = None,
        detail: Mapping[str, Any] | None = None,
        grant: Callable[[], list[dict[str, Any]]] | None = None,
        decision: bool = False,
    ) -> dict[str, Any]:
        """One state change: row, event, audit and (``grant``) the grants, in one transaction."""
        from catalog.sharing.audit import AuditLog

        now = self._now()
        stamp = _iso(now)
        info: dict[str, Any] = {"step": app["step"], "number": app["number"], **(detail or {})}
        if decision:
            info["on_time"] = self._on_time(app, now)
            info["step_due_at"] = app.get("due_at")
        with self.store.transaction():
            current = self._stored(app["id"])
            if current["state"] != app["state"]:
                raise Conflict(
                    f"申请 {app['number']} 已是“{STATE_NAMES.get(current['state'])}”，"
                    "无法再办理此步骤 (the application moved meanwhile)"
                )
            changes: dict[str, Any] = {
                "state": to_state,
                "step": step,
                "step_started_at": stamp,
                "due_at": due_at,
                "updated_at": stamp,
            }
            if decision:
                changes.update(decided_at=stamp, decided_by=who.actor, reason=reason)
            grants = grant() if grant is not None else []
            if grants:
                changes["grant_id"] = grants[0]["id"]
                changes["dataset"] = grants[0].get("dataset") or app.get("dataset")
                info["grant_id"] = grants[0]["id"]
                info["grant_ids"] = [g["id"] for g in grants]
            if not self.store.applications.update(app["id"], changes, expect_state=app["state"]):
                raise Conflict(
                    f"申请 {app['number']} 已被他人办理 (the application moved meanwhile)"
                )
            self.store.applications.add_event(
                {
                    "application_id": app["id"],
                    "action": action,
                    "from_state": app["state"] if action != "apply" else None,
                    "to_state": to_state,
                    "actor": who.actor,
                    "at": stamp,
                    "reason": reason,
                    "due_at": due_at,
                    "detail": info,
                }
            )
            AuditLog(self.store).decision(
                who,
                action=f"application_{action}",
                application_id=app["id"],
                grant_id=info.get("grant_id"),
                entry_code=app["entry_code"],
                dataset=app.get("dataset"),
                reason=reason,
                detail={
                    "number": app["number"],
                    "from": app["state"],
                    "to": to_state,
                    **({"acting_as": info["acting_as"]} if "acting_as" in info else {}),
                },
            )
        return self._stored(app["id"])

    def _notify(
        self, who: Principal, app: dict[str, Any], action: str, previous_step: str | None = None
    ) -> list[NoticeOutcome]:
        """Tell the next actor; record each attempt as a ``notify`` event; never raise."""
        try:
            shown = {**self._view(app), "_previous_step": previous_step}
            outcomes = self.notices.send(shown, action)
        except Exception as exc:  # a notice never undoes the decision
            log.exception("sharing notice for %s failed", app["number"])
            outcomes = [NoticeOutcome("?", "?", "?", False, f"{type(exc).__name__}: {exc}")]
        for outcome in outcomes:
            try:
                self.store.applications.add_event(
                    {
                        "application_id": app["id"],
                        "action": "notify",
                        "from_state": app["state"],
                        "to_state": app["state"],
                        "actor": who.actor,
                        "at": _iso(self._now()),
                        "reason": outcome.error,
                        "detail": outcome.as_dict(),
                    }
                )
            except Exception:
                log.exception("recording the notice of %s failed", app["number"])
            if not outcome.ok:
                log.warning(
                    "sharing notice %s to %s (%s) failed: %s",
                    app["number"],
                    outcome.recipient,
                    outcome.channel,
                    outcome.error,
                )
        return outcomes

    def _grants(
        self,
        who: Principal,
        app: dict[str, Any],
        *,
        columns: Sequence[str],
        unmasked: Sequence[str] = (),
        row_filter: Mapping[str, Sequence[str]] | None = None,
        expires_at: dt.date | dt.datetime | str | None = None,
    ) -> Callable[[], list[dict[str, Any]]]:
        dataset, spec_columns = self.serving_dataset(app["entry_code"])
        if dataset is None:
            raise Conflict(
                f"资源 {app['entry_code']} 尚无接入的数据集，须先接入并发布后才能同意共享 "
                "(no dataset serves this entry yet)"
            )
        names = {c["name"] for c in spec_columns}
        for label, given in (("字段", columns), ("明文字段", unmasked)):
            unknown = [c for c in given if c not in names]
            if unknown:
                raise InvalidInput(
                    f"{label} {'、'.join(unknown)} 不是数据集 {dataset} 的字段 (unknown columns)"
                )
        if row_filter:
            unknown = [c for c in row_filter if c not in names]
            if unknown:
                raise InvalidInput(f"行筛选字段 {'、'.join(unknown)} 不是数据集 {dataset} 的字段")
        if columns and any(c not in columns for c in unmasked):
            raise InvalidInput("明文字段须在同意共享的字段之中 (unmasked columns must be granted)")
        expires = self._expiry(app, expires_at)
        logins = list(app.get("grantees") or [])
        stale = []
        for login in logins:
            user = self.store.users.get(login)
            if user is None or not user["active"] or user["org_code"] != app["applicant_org"]:
                stale.append(login)
        if stale:
            raise Conflict(
                f"被授权人 {'、'.join(stale)} 已不是申请单位"
                f"{org_label(self.store, app['applicant_org'])}的有效用户"
                "（已停用、已删除或调离），不能同意此申请；请拒绝并请申请人重新申请 "
                "(a grantee is no longer an active user of the applicant's organisation)"
            )

        def create() -> list[dict[str, Any]]:
            from catalog.sharing.grants import Grants

            grants = Grants(self.store, self.workspace, clock=self.clock)
            common: dict[str, Any] = {
                "dataset": dataset,
                "purpose": app["purpose"],
                "expires_at": expires,
                "columns": list(columns),
                "unmasked": list(unmasked),
                "row_filter": dict(row_filter) if row_filter else None,
                "application_id": app["id"],
                "check_policy": False,
            }
            if logins:
                return [grants.create(who, grantee_login=login, **common) for login in logins]
            return [grants.create(who, grantee_org=app["applicant_org"], **common)]

        return create

    # --- separation of duties (国发〔2016〕51号) ----------------------------------------------
    def _last_actor(
        self, app: dict[str, Any], *actions: str, to_state: str | None = None
    ) -> str | None:
        found = None
        for e in self.store.applications.events(app["id"]):
            if e["action"] in actions and (to_state is None or e["to_state"] == to_state):
                found = e["actor"]
        return found

    def _refuser(self, app: dict[str, Any]) -> str | None:
        """Who gave the refusal the open escalation appeals."""
        found = None
        for e in self.store.applications.events(app["id"]):
            if e["to_state"] == "refused" and e["action"] in ("refuse", "settle"):
                found = e["actor"]
            if e["action"] == "escalate":
                break
        return found

    def _not_own(self, who: Principal, app: dict[str, Any], doing: str) -> None:
        """The applicant never checks, answers or settles their own application."""
        if who.actor == app["applicant"]:
            raise Forbidden(
                f"{who.actor} 是申请 {app['number']} 的申请人，不能{doing}自己的申请，"
                "须由他人办理 (not on one's own application)"
            )

    def _provider_officer(self, who: Principal, app: dict[str, Any]) -> bool:
        return Role.OFFICER in who.roles and who.org_code == app["provider_org"]

    def _answer_refusal(self, who: Principal, app: dict[str, Any]) -> str | None:
        """Why ``who`` may not answer ``app`` for its provider; None when they may."""
        if who.is_anonymous:
            return "请先登录 (sign in first)"
        if who.actor == app["applicant"]:
            return (
                f"{who.actor} 是申请 {app['number']} 的申请人，不能答复自己的申请 "
                "(not on one's own application)"
            )
        provider = org_label(self.store, app["provider_org"])
        if Role.ADMIN not in who.roles and not self._provider_officer(who, app):
            if who.has(Role.STEWARD) and who.org_code != app["provider_org"]:
                return (
                    f"{who.actor} 无权限：答复须由提供方{provider}的部门联络员办理；"
                    "数据办负责审核和裁定，不能代替提供方答复（国发〔2016〕51号）"
                    "(only the provider's officers answer)"
                )
            return (
                f"{who.actor} 无权限：答复须由提供方{provider}的部门联络员办理 "
                "(only the provider's officers answer)"
            )
        if self._last_actor(app, "forward") == who.actor:
            return (
                f"{who.actor} 已在数据办审核环节办理本申请，不能再代表提供方答复，"
                "审核与答复须由不同人员办理 (whoever checked it may not answer it)"
            )
        return None

    def _acting_as(self, who: Principal, app: dict[str, Any]) -> dict[str, Any]:
        """An answer by an admin who is not the provider's officer says so."""
        if self._provider_officer(who, app):
            return {}
        return {"acting_as": "admin"}

    # --- use cases -------------------------------------------------------------------------
    def apply(
        self,
        who: Principal,
        *,
        entry_code: str,
        purpose: str,
        scenario: str,
        columns: Sequence[str] = (),
        period_end: dt.date | dt.datetime | str | None = None,
        grantees: Sequence[str] = (),
    ) -> dict[str, Any]:
        """提交共享申请 for an entry of another organisation."""
        ANALYST.check(who)
        if not who.org_code:
            raise Forbidden(f"{who.actor} 不属于任何单位，无法提出共享申请 (no organisation)")
        entry = self._entry(entry_code)
        share_type = str(entry.get("share_type") or "")
        if share_type == ShareType.NOT_SHARED:
            basis = _text(entry.get("share_condition")) or "目录未注明依据"
            raise Forbidden(
                f"资源 {entry['code']}（{entry['name']}）为不予共享，不受理共享申请。"
                f"依据：{basis} (not shared: no application)"
            )
        provider = entry.get("provider_code")
        if not provider:
            raise Conflict(
                f"资源 {entry['code']} 未注明提供方代码，无法受理申请 (no provider code)"
            )
        if provider == who.org_code:
            raise Forbidden(
                f"资源 {entry['code']} 由本单位{org_label(self.store, who.org_code)}提供，"
                "可直接使用，无需申请 "
                "(own organisation's resource)"
            )
        purpose, scenario = _text(purpose), _text(scenario)
        if not purpose:
            raise InvalidInput("请填写用途 (purpose is required)")
        if not scenario:
            raise InvalidInput("请填写应用场景 (scenario is required)")
        dataset, spec_columns = self.serving_dataset(entry["code"])
        columns = list(dict.fromkeys(c.strip() for c in columns if c and c.strip()))
        if spec_columns:
            names = {c["name"] for c in spec_columns}
            unknown = [c for c in columns if c not in names]
            if unknown:
                raise InvalidInput(
                    f"字段 {'、'.join(unknown)} 不是数据集 {dataset} 的字段 (unknown columns)"
                )
        now = self._now()
        end = _period_end(period_end)
        if end is not None and end <= now:
            raise InvalidInput(f"使用期限 {end:%Y-%m-%d} 已过 (period end is in the past)")
        longest = self.rules().max_grant_days
        if end is not None and _naive(end) > now + dt.timedelta(days=longest):
            raise InvalidInput(
                f"使用期限 {end:%Y-%m-%d} 超过共享授权最长期限 {longest} 天"
                f"（最晚 {now + dt.timedelta(days=longest):%Y-%m-%d}）(period end beyond the longest grant)"
            )
        logins = list(dict.fromkeys(g.strip() for g in grantees if g and g.strip()))
        for login in logins:
            user = self.store.users.get(login)
            if user is None or not user["active"] or user["org_code"] != who.org_code:
                raise InvalidInput(
                    f"被授权人 {login} 不是本单位{org_label(self.store, who.org_code)}"
                    "的有效用户 (grantee)"
                )
        rules = self.rules()
        stamp = _iso(now)
        due = self._deadline(now, rules.check_days)
        from catalog.sharing.audit import AuditLog

        with self.store.transaction():
            # Checked under the write lock: two applies at once cannot both find none open.
            for open_app in self.store.applications.find(
                applicant=who.login, entry_code=entry["code"], states=OPEN_STATES
            ):
                raise Conflict(
                    f"已有办理中的申请 {open_app['number']}（{STATE_NAMES[open_app['state']]}），"
                    "请勿重复申请 (an application is already open)"
                )
            app = self.store.applications.insert(
                {
                    "entry_code": entry["code"],
                    "dataset": dataset,
                    "columns": columns,
                    "purpose": purpose,
                    "scenario": scenario,
                    "period_end": _iso(end) if end else None,
                    "applicant": who.actor,
                    "applicant_org": who.org_code,
                    "grantees": logins,
                    "provider_org": provider,
                    "share_type": share_type,
                    "state": "submitted",
                    "step": "office",
                    "step_started_at": stamp,
                    "due_at": due,
                    "created_at": stamp,
                    "updated_at": stamp,
                },
                number_prefix=f"SQ{now:%Y%m%d}-",
            )
            self.store.applications.add_event(
                {
                    "application_id": app["id"],
                    "action": "apply",
                    "from_state": None,
                    "to_state": "submitted",
                    "actor": who.actor,
                    "at": stamp,
                    "due_at": due,
                    "detail": {"number": app["number"], "step": "office"},
                }
            )
            AuditLog(self.store).decision(
                who,
                action="application_apply",
                application_id=app["id"],
                entry_code=entry["code"],
                dataset=dataset,
                detail={"number": app["number"], "to": "submitted"},
            )
        return self._done(who, app, "apply")

    def check(
        self,
        who: Principal,
        app_id: int | str,
        *,
        action: CheckAction,
        reason: str | None = None,
        expires_at: dt.date | dt.datetime | str | None = None,
    ) -> dict[str, Any]:
        """数据办审核: forward (有条件共享), approve (无条件共享: the grant is made, expiring at
        ``expires_at`` when given) or refuse."""
        STEWARD.check(who)
        app = self._stored(app_id)
        self._not_own(who, app, "审核")
        if app["state"] != "submitted":
            raise Conflict(
                f"申请 {app['number']} 为“{STATE_NAMES[app['state']]}”，不在审核环节 (not awaiting a check)"
            )
        reason = _text(reason) or None
        if action != "refuse":
            doing = "同意" if action == "approve" else "转提供方"
            share_type = self._current_share_type(app, doing)
            conditional = share_type == ShareType.CONDITIONAL
            if action == "approve" and conditional and app["share_type"] != share_type:
                raise Conflict(
                    f"资源 {app['entry_code']} 在申请后已改为有条件共享，数据办不能直接同意，"
                    "请转提供方答复 (now conditional: forward it instead)"
                )
        if action == "refuse":
            if not reason:
                raise InvalidInput("拒绝须说明理由 (a refusal needs a reason)")
            changed = self._change(
                who,
                app,
                "refuse",
                to_state="refused",
                step="none",
                due_at=None,
                reason=reason,
                decision=True,
            )
            return self._done(who, changed, "refuse")
        if action == "forward":
            if not conditional:
                raise InvalidInput(
                    "无条件共享经数据办审核即可同意，无需转提供方 (unconditional: approve directly)"
                )
            dataset, _ = self.serving_dataset(app["entry_code"])
            published = self._published(dataset)
            days = self.rules().answer_days_for(published)
            changed = self._change(
                who,
                app,
                "forward",
                to_state="forwarded",
                step="provider",
                due_at=self._deadline(self._now(), days),
                reason=reason,
                detail={"published": published, "answer_days": days, "dataset": dataset},
            )
            return self._done(who, changed, "forward")
        if action == "approve":
            if conditional:
                raise InvalidInput(
                    "有条件共享须转提供方答复，数据办不能直接同意 (conditional: forward it)"
                )
            grant = self._grants(who, app, columns=app["columns"], expires_at=expires_at)
            changed = self._change(
                who,
                app,
                "approve",
                to_state="approved",
                step="none",
                due_at=None,
                reason=reason,
                grant=grant,
                decision=True,
            )
            return self._done(who, changed, "approve")
        raise InvalidInput(f"未知的审核操作 {action!r}：forward | approve | refuse")

    def answer(
        self,
        who: Principal,
        app_id: int | str,
        *,
        approve: bool,
        reason: str | None = None,
        columns: Sequence[str] | None = None,
        unmasked: Sequence[str] = (),
        row_filter: Mapping[str, Sequence[str]] | None = None,
        expires_at: dt.date | dt.datetime | str | None = None,
    ) -> dict[str, Any]:
        """提供方答复: approve (a column subset, PII shown in clear, a row filter, an expiry
        within the 使用期限 asked for) or refuse with a reason. Only by an officer of the
        providing organisation (国发〔2016〕51号: the provider answers, the data office checks and
        settles): a steward of another organisation may not, nor the applicant, nor whoever
        checked it at the office; a 系统管理员 may, recorded as acting as admin."""
        if who.is_anonymous:
            raise Unauthenticated("请先登录 (sign in first)")
        app = self._stored(app_id)
        refusal = self._answer_refusal(who, app)
        if refusal:
            raise Forbidden(refusal)
        if app["state"] != "forwarded":
            raise Conflict(
                f"申请 {app['number']} 为“{STATE_NAMES[app['state']]}”，不在提供方答复环节"
                " (not awaiting the provider's answer)"
            )
        reason = _text(reason) or None
        if not approve:
            if not reason:
                raise InvalidInput("拒绝须说明理由 (a refusal needs a reason)")
            changed = self._change(
                who,
                app,
                "refuse",
                to_state="refused",
                step="none",
                due_at=None,
                reason=reason,
                decision=True,
                detail=self._acting_as(who, app),
            )
            return self._done(who, changed, "refuse")
        self._current_share_type(app, "同意")
        chosen = list(dict.fromkeys(columns)) if columns else list(app["columns"])
        if app["columns"] and columns:
            extra = [c for c in chosen if c not in app["columns"]]
            if extra:
                raise InvalidInput(
                    f"字段 {'、'.join(extra)} 不在申请的字段之中 (not among the columns asked for)"
                )
        grant = self._grants(
            who,
            app,
            columns=chosen,
            unmasked=list(unmasked),
            row_filter=row_filter,
            expires_at=expires_at,
        )
        changed = self._change(
            who,
            app,
            "approve",
            to_state="approved",
            step="none",
            due_at=None,
            reason=reason,
            grant=grant,
            decision=True,
            detail={
                "columns": chosen,
                "unmasked": list(unmasked),
                "row_filter": dict(row_filter) if row_filter else None,
                **self._acting_as(who, app),
            },
        )
        return self._done(who, changed, "approve")

    def escalate(self, who: Principal, app_id: int | str, *, reason: str) -> dict[str, Any]:
        """申诉: the applicant asks the data office to decide a refusal (once)."""
        if who.is_anonymous:
            raise Unauthenticated("请先登录 (sign in first)")
        app = self._stored(app_id)
        if who.actor != app["applicant"]:
            raise Forbidden(f"{who.actor} 无权限：只有申请人可以申诉 (applicant only)")
        if app["state"] != "refused":
            raise Conflict(f"申请 {app['number']} 未被拒绝，无需申诉 (only a refusal is escalated)")
        if any(e["action"] == "escalate" for e in self.store.applications.events(app["id"])):
            raise Conflict(f"申请 {app['number']} 已申诉并裁定过 (escalated once already)")
        reason = _text(reason)
        if not reason:
            raise InvalidInput("申诉须说明理由 (an escalation needs a reason)")
        self._current_share_type(app, "申诉")
        due = self._deadline(self._now(), self.rules().check_days)
        changed = self._change(
            who,
            app,
            "escalate",
            to_state="escalated",
            step="escalation",
            due_at=due,
            reason=reason,
        )
        return self._done(who, changed, "escalate")

    def settle(
        self,
        who: Principal,
        app_id: int | str,
        *,
        approve: bool,
        reason: str,
        columns: Sequence[str] | None = None,
        unmasked: Sequence[str] = (),
        expires_at: dt.date | dt.datetime | str | None = None,
    ) -> dict[str, Any]:
        """数据办裁定 an escalation: approve (the grant is made, expiring at ``expires_at``
        when given) or uphold the refusal; a reason either way."""
        STEWARD.check(who)
        app = self._stored(app_id)
        self._not_own(who, app, "裁定")
        if app["state"] != "escalated":
            raise Conflict(f"申请 {app['number']} 不在申诉裁定环节 (not escalated)")
        refuser = self._refuser(app)
        if refuser is not None and refuser == who.actor:
            raise Forbidden(
                f"{who.actor} 作出了被申诉的拒绝，不能裁定针对自己决定的申诉，"
                "请由数据办其他人员裁定 (whoever refused may not settle the appeal against it)"
            )
        reason = _text(reason)
        if not reason:
            raise InvalidInput("裁定须说明理由 (a decision needs a reason)")
        if not approve:
            changed = self._change(
                who,
                app,
                "settle",
                to_state="refused",
                step="none",
                due_at=None,
                reason=reason,
                decision=True,
                detail={"approve": False},
            )
            return self._done(who, changed, "settle")
        self._current_share_type(app, "同意")
        chosen = list(dict.fromkeys(columns)) if columns else list(app["columns"])
        grant = self._grants(
            who, app, columns=chosen, unmasked=list(unmasked), expires_at=expires_at
        )
        changed = self._change(
            who,
            app,
            "settle",
            to_state="approved",
            step="none",
            due_at=None,
            reason=reason,
            grant=grant,
            decision=True,
            detail={"approve": True, "columns": chosen},
        )
        return self._done(who, changed, "settle")

    def withdraw(self, who: Principal, app_id: int | str) -> dict[str, Any]:
        """撤回: the applicant takes back an application not yet decided."""
        if who.is_anonymous:
            raise Unauthenticated("请先登录 (sign in first)")
        app = self._stored(app_id)
        if who.actor != app["applicant"]:
            raise Forbidden(f"{who.actor} 无权限：只有申请人可以撤回 (applicant only)")
        if app["state"] not in OPEN_STATES:
            raise Conflict(
                f"申请 {app['number']} 为“{STATE_NAMES[app['state']]}”，已办结，无法撤回 (closed)"
            )
        changed = self._change(who, app, "withdraw", to_state="withdrawn", step="none", due_at=None)
        return self._done(who, changed, "withdraw", app["step"])

    def _done(
        self, who: Principal, app: dict[str, Any], action: str, previous_step: str | None = None
    ) -> dict[str, Any]:
        outcomes = self._notify(who, app, action, previous_step)
        view = self.get(who, app["id"]) if self._may_see(who, app) else self._view(app)
        view["notices"] = [o.as_dict() for o in outcomes]
        return view

    # --- reads -----------------------------------------------------------------------------
    def _may_see(self, who: Principal, app: dict[str, Any]) -> bool:
        return (
            who.has(Role.STEWARD)
            or who.actor == app["applicant"]
            or (
                who.org_code is not None
                and who.org_code in (app["applicant_org"], app["provider_org"])
            )
        )

    def get(self, who: Principal, app_id: int | str) -> dict[str, Any]:
        """One application with its history, the open step's deadline status and what ``who``
        may do next (``actions``). The applicant's and the provider's organisations and the
        data office see it."""
        if who.is_anonymous:
            raise Unauthenticated("请先登录 (sign in first)")
        app = self._stored(app_id)
        if not self._may_see(who, app):
            raise Forbidden(f"{who.actor} 无权限查看申请 {app['number']} (not yours)")
        view = self._view(app)
        view["history"] = [
            {
                **e,
                "action_name": ACTION_NAMES.get(e["action"], e["action"]),
                "to_state_name": STATE_NAMES.get(e["to_state"], e["to_state"]),
            }
            for e in self.store.applications.events(app["id"])
        ]
        view["actions"] = self.actions(who, app)
        view["dataset_columns"] = self.serving_dataset(app["entry_code"])[1]
        view["granted"] = self._granted(app, view["history"])
        return view

    def _granted(
        self, app: dict[str, Any], history: Sequence[Mapping[str, Any]]
    ) -> list[dict[str, Any]]:
        """The grants the approval made (each with its ``status`` now): what was decided."""
        from catalog.sharing.grants import Grants

        if not app.get("grant_id"):
            return []
        ids: list[int] = [int(app["grant_id"])]
        for e in history:
            detail = e.get("detail") or {}
            if e["action"] in ("approve", "settle") and isinstance(detail, Mapping):
                ids = [int(i) for i in detail.get("grant_ids") or ids]
        grants = Grants(self.store, self.workspace, clock=self.clock)
        found = []
        for grant_id in dict.fromkeys(ids):
            try:
                found.append(grants.get(grant_id))
            except NotFound:
                continue
        return found

    def actions(self, who: Principal, app: dict[str, Any]) -> list[str]:
        """What ``who`` may do to ``app`` now: check | answer | escalate | settle | withdraw."""
        found = []
        state = app["state"]
        own = who.actor == app["applicant"]
        if state == "submitted" and who.has(Role.STEWARD) and not own:
            found.append("check")
        if state == "forwarded" and self._answer_refusal(who, app) is None:
            found.append("answer")
        if (
            state == "escalated"
            and who.has(Role.STEWARD)
            and not own
            and self._refuser(app) != who.actor
        ):
            found.append("settle")
        if who.actor == app["applicant"]:
            if state == "refused" and not any(
                e["action"] == "escalate" for e in self.store.applications.events(app["id"])
            ):
                found.append("escalate")
            if state in OPEN_STATES:
                found.append("withdraw")
        return found

    def _view(self, app: dict[str, Any]) -> dict[str, Any]:
        view = dict(app)
        view["state_name"] = STATE_NAMES.get(app["state"], app["state"])
        view["step_name"] = STEP_NAMES.get(app["step"], app["step"])
        try:
            entry = self._entry(app["entry_code"])
            view["entry_name"] = entry.get("name")
            view["provider_name"] = entry.get("provider_name")
            view["entry_share_type"] = entry.get("share_type")  # now; share_type: when applied
        except NotFound:
            view["entry_name"] = view["provider_name"] = view["entry_share_type"] = None
        orgs = self.store.organisations
        applicant_org = orgs.get(app["applicant_org"])
        view["applicant_org_name"] = applicant_org["name"] if applicant_org else None
        provider_org = orgs.get(app["provider_org"])
        view["provider_org_name"] = provider_org["name"] if provider_org else None
        view["deadline"] = self._deadline_view(app)
        return view

    def _deadline_view(self, app: dict[str, Any]) -> dict[str, Any] | None:
        due = _moment(app.get("due_at"))
        if due is None or app["state"] not in OPEN_STATES:
            return None
        now = self._now()
        status = deadline_status(due, now)
        started = _moment(app.get("step_started_at")) or now
        calendar = self.calendar()
        warnings = calendar.warnings_between(started, due)
        return {
            "due_at": app["due_at"],
            "status": status.value,
            "status_name": status.chinese,
            "working_days_left": calendar.working_days_between(now, due),
            "provisional": bool(warnings),
            "warnings": warnings,
        }

    def mine(self, who: Principal) -> list[dict[str, Any]]:
        """我的申请: the applications ``who`` made, newest first."""
        if who.is_anonymous:
            raise Unauthenticated("请先登录 (sign in first)")
        return [self._view(a) for a in self.store.applications.find(applicant=who.actor)]

    def inbox(self, who: Principal) -> dict[str, list[dict[str, Any]]]:
        """待办: ``office`` (stewards: applications to check and escalations to settle) and
        ``provider`` (the officers of a providing organisation: applications forwarded to it;
        the data office's stewards answer nothing for a provider), oldest
        deadline first."""
        if who.is_anonymous:
            raise Unauthenticated("请先登录 (sign in first)")
        apps = self.store.applications

        def ordered(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
            return sorted(
                (self._view(a) for a in rows), key=lambda a: (a.get("due_at") or "", a["id"])
            )

        office: list[dict[str, Any]] = []
        if who.has(Role.STEWARD):
            office = ordered(apps.find(states=("submitted", "escalated")))
        provider: list[dict[str, Any]] = []
        if who.has(Role.OFFICER) and who.org_code:
            provider = ordered(apps.find(provider_org=who.org_code, states=("forwarded",)))
        return {"office": office, "provider": provider}

    def statistics(self, month: str) -> list[dict[str, Any]]:
        """共享统计 of a month per providing organisation: received, answered,
        answered_on_time (and its rate), refused, refused_with_reason, shared (grants made)."""
        return sharing_statistics(self.store, month)


def sharing_statistics(store: Store, month: str) -> list[dict[str, Any]]:
    """See ``Applications.statistics``; rows carry ``provider_code``/``provider_name``."""
    start, end = month_bounds(month)
    rows = []
    for row in store.applications.statistics(start.isoformat(), end.isoformat()):
        org = store.organisations.get(row["provider_org"])
        answered = row["answered"]
        rows.append(
            {
                "month": month,
                "provider_code": row["provider_org"],
                "provider_name": org["name"] if org else row["provider_org"],
                **{k: v for k, v in row.items() if k != "provider_org"},
                "answered_on_time_rate": (
                    round(100.0 * row["answered_on_time"] / answered, 1) if answered else None
                ),
            }
        )
    return rows
