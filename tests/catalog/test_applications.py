"""The sharing workflow (共享申请, issue 13) on a real store and workspace with a real dataset
spec: apply → forward → the provider approves a column subset → the grant; refusals need a
reason; escalation and settlement; deadlines across the 2026 Spring Festival; who may act;
不予共享 refused with its legal basis; the monthly statistics and the scorecard's columns."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import pytest
from sharing_workflow_fixtures import (
    APPLICANT,
    LEGAL_BASIS,
    OFFICE,
    PROVIDER,
    Clock,
    District,
    build_district,
    publish,
)

from catalog.directory import Directory
from catalog.freshness.scorecard import scorecard
from catalog.sharing.applications import Applications
from catalog.sharing.audit import AuditLog
from catalog.sharing.grants import Grants
from catalog.sharing.notices import NoticeSettings, SharingNotices
from catalog.sharing.rules import SharingRules
from catalog.sharing.users import UserAccounts
from schemas.errors import Conflict, Forbidden, InvalidInput, Unauthenticated
from schemas.principal import Principal
from warehouse.store import Store
from warehouse.workspace import Workspace

pytestmark = pytest.mark.both_stores

# Friday before the 2026 Spring Festival (holiday Feb 15–23; 调休 Saturdays Feb 14 and Feb 28).
FRI = dt.datetime(2026, 2, 13, 10, 0)


@pytest.fixture
def district(workspace: Workspace, tmp_path: Path):
    with Store.open(workspace) as store:
        yield build_district(workspace, store, tmp_path / "sources")


@pytest.fixture
def clock() -> Clock:
    return Clock(FRI)


@pytest.fixture
def apps(district: District, clock: Clock) -> Applications:
    # No channel configured: nothing is sent (the notices have their own tests).
    return Applications(
        district.store,
        district.workspace,
        clock=clock,
        notices=SharingNotices(district.store, NoticeSettings()),
    )


def test_conditional_flow_across_spring_festival_to_a_grant_of_a_column_subset(
    district: District, apps: Applications, clock: Clock
):
    who = district.who
    app = apps.apply(
        who["zj_analyst"],
        entry_code=district.entries["conditional"],
        purpose="住房保障资格审核",
        scenario="公租房申请人家庭收入核验",
        columns=["person_name", "id_card_no", "household_size", "monthly_allowance"],
        period_end="2026-12-31",
    )
    assert app["number"] == "SQ20260213-0001"
    assert (app["state"], app["step"], app["dataset"]) == ("submitted", "office", district.dataset)
    # 2 working days from Friday Feb 13: Sat Feb 14 (调休 working day), then Tue Feb 24.
    assert app["due_at"] == "2026-02-24T23:59:59"
    assert app["deadline"]["status"] == "on_time"
    second = apps.apply(
        who["zj_officer"],
        entry_code=district.entries["unconditional"],
        purpose="核验",
        scenario="窗口办事",
    )
    assert second["number"] == "SQ20260213-0002"

    # Only the data office checks; the provider cannot answer before the forward.
    with pytest.raises(Forbidden):
        apps.check(who["mz_officer"], app["id"], action="forward")
    with pytest.raises(Conflict):
        apps.answer(who["mz_officer"], app["id"], approve=True)
    with pytest.raises(InvalidInput):  # a conditional entry goes to the provider
        apps.check(who["office"], app["id"], action="approve")

    clock.now = dt.datetime(2026, 2, 24, 9, 0)  # the check's last day: due soon
    assert apps.get(who["office"], app["id"])["deadline"]["status"] == "due_soon"
    assert [a["number"] for a in apps.inbox(who["office"])["office"]] == [
        app["number"],
        second["number"],
    ]
    forwarded = apps.check(who["office"], app["id"], action="forward")
    # Not published yet: 10 working days from Tue Feb 24, Sat Feb 28 (调休) counted → Mar 9.
    assert (forwarded["state"], forwarded["due_at"]) == ("forwarded", "2026-03-09T23:59:59")
    assert [a["id"] for a in apps.inbox(who["mz_officer"])["provider"]] == [app["id"]]
    assert apps.inbox(who["zj_officer"]) == {"office": [], "provider": []}

    # Another organisation's officer and the provider's analyst may not answer.
    with pytest.raises(Forbidden):
        apps.answer(who["sw_officer"], app["id"], approve=True)
    with pytest.raises(Forbidden):
        apps.answer(who["mz_analyst"], app["id"], approve=True)
    with pytest.raises(InvalidInput):  # not asked for
        apps.answer(who["mz_officer"], app["id"], approve=True, columns=["approved_on"])

    clock.now = dt.datetime(2026, 3, 2, 16, 0)
    done = apps.answer(
        who["mz_officer"],
        app["id"],
        approve=True,
        columns=["person_name", "id_card_no", "household_size"],
        unmasked=["person_name"],
    )
    assert (done["state"], done["step"], done["due_at"]) == ("approved", "none", None)
    assert done["decided_by"] == "mz_officer"
    assert done["deadline"] is None
    grant = Grants(district.store, district.workspace, clock=clock).get(done["grant_id"])
    assert grant["dataset"] == district.dataset
    assert grant["grantee_org"] == APPLICANT
    assert grant["grantee_login"] is None
    assert list(grant["columns"]) == ["person_name", "id_card_no", "household_size"]
    assert list(grant["unmasked"]) == ["person_name"]
    assert grant["application_id"] == app["id"]
    assert str(grant["expires_at"]).startswith("2026-12-31")
    # The applicant's organisation reads exactly those columns now, the ID card masked.
    access = Grants(district.store, district.workspace, clock=clock).access(
        who["zj_analyst"], district.dataset
    )
    assert list(access.columns) == ["person_name", "id_card_no", "household_size"]
    assert "id_card_no" in access.masked
    assert "person_name" not in access.masked

    shown = apps.get(who["zj_analyst"], app["id"])
    assert [e["action"] for e in shown["history"]] == ["apply", "forward", "approve"]
    assert shown["history"][-1]["detail"]["on_time"] is True
    assert shown["actions"] == []
    decisions = sorted(
        (e for e in AuditLog(district.store).entries() if e["action"].startswith("application_")),
        key=lambda e: e["seq"],
    )
    assert [e["action"] for e in decisions] == [
        "application_apply",
        "application_apply",
        "application_forward",
        "application_approve",
    ]
    with pytest.raises(Forbidden):  # an unrelated organisation does not see it
        apps.get(who["sw_officer"], app["id"])
    with pytest.raises(Unauthenticated):
        apps.get(Principal.anonymous(), app["id"])


@pytest.mark.slow  # a real load publishes the dataset
def test_published_dataset_answer_in_five_working_days_and_unconditional_approval(
    district: District, apps: Applications, clock: Clock
):
    publish(district)
    who = district.who
    app = apps.apply(
        who["zj_officer"], entry_code=district.entries["conditional"], purpose="p", scenario="s"
    )
    clock.now = dt.datetime(2026, 2, 24, 9, 0)
    forwarded = apps.check(who["office"], app["id"], action="forward")
    # 5 working days from Tue Feb 24: 25, 26, 27, Sat 28 (调休), Mon Mar 2.
    assert forwarded["due_at"] == "2026-03-02T23:59:59"
    assert forwarded["history"][-1]["detail"]["published"] is True

    open_app = apps.apply(
        who["zj_officer"], entry_code=district.entries["unconditional"], purpose="p", scenario="s"
    )
    with pytest.raises(InvalidInput):  # unconditional: no provider step
        apps.check(who["office"], open_app["id"], action="forward")
    approved = apps.check(who["office"], open_app["id"], action="approve")
    assert approved["state"] == "approved"
    assert approved["grant_id"]
    grant = Grants(district.store, district.workspace, clock=clock).get(approved["grant_id"])
    assert grant["dataset"] == "open_roster"
    assert list(grant["columns"]) == []


def test_refusal_needs_a_reason_then_escalation_and_settlement(
    district: District, apps: Applications, clock: Clock
):
    who = district.who
    app = apps.apply(
        who["zj_analyst"],
        entry_code=district.entries["conditional"],
        purpose="p",
        scenario="s",
        grantees=["zj_analyst"],
    )
    apps.check(who["office"], app["id"], action="forward")
    for blank in (None, "", "   "):
        with pytest.raises(InvalidInput):
            apps.answer(who["mz_officer"], app["id"], approve=False, reason=blank)
    with pytest.raises(Conflict):  # no longer in the check step
        apps.check(who["office"], app["id"], action="refuse", reason="r")
    refused = apps.answer(who["mz_officer"], app["id"], approve=False, reason="超出共享条件范围")
    assert (refused["state"], refused["reason"]) == ("refused", "超出共享条件范围")
    assert apps.get(who["zj_analyst"], app["id"])["actions"] == ["escalate"]
    with pytest.raises(Forbidden):  # only the applicant escalates
        apps.escalate(who["zj_officer"], app["id"], reason="x")
    with pytest.raises(InvalidInput):
        apps.escalate(who["zj_analyst"], app["id"], reason=" ")
    escalated = apps.escalate(who["zj_analyst"], app["id"], reason="住房保障审核确需此数据")
    assert (escalated["state"], escalated["step"]) == ("escalated", "escalation")
    assert escalated["due_at"] == "2026-02-24T23:59:59"
    assert [a["id"] for a in apps.inbox(who["office"])["office"]] == [app["id"]]
    with pytest.raises(Forbidden):
        apps.settle(who["mz_officer"], app["id"], approve=True, reason="r")
    with pytest.raises(InvalidInput):
        apps.settle(who["office"], app["id"], approve=True, reason="")
    settled = apps.settle(
        who["office"], app["id"], approve=True, reason="符合共享条件", columns=["household_size"]
    )
    assert settled["state"] == "approved"
    grant = Grants(district.store, district.workspace, clock=clock).get(settled["grant_id"])
    assert grant["grantee_login"] == "zj_analyst"
    assert list(grant["columns"]) == ["household_size"]
    with pytest.raises(Conflict):  # decided: no second decision, no withdrawal
        apps.withdraw(who["zj_analyst"], app["id"])


def test_who_may_apply_and_withdraw(district: District, apps: Applications):
    who = district.who
    code = district.entries["conditional"]
    with pytest.raises(Unauthenticated):
        apps.apply(Principal.anonymous(), entry_code=code, purpose="p", scenario="s")
    with pytest.raises(Forbidden):  # own organisation's resource
        apps.apply(who["mz_officer"], entry_code=code, purpose="p", scenario="s")
    with pytest.raises(InvalidInput):
        apps.apply(who["zj_officer"], entry_code=code, purpose=" ", scenario="s")
    with pytest.raises(InvalidInput):
        apps.apply(who["zj_officer"], entry_code=code, purpose="p", scenario="s", columns=["x"])
    with pytest.raises(InvalidInput):  # a grantee of another organisation
        apps.apply(
            who["zj_officer"], entry_code=code, purpose="p", scenario="s", grantees=["mz_analyst"]
        )
    with pytest.raises(InvalidInput):
        apps.apply(
            who["zj_officer"], entry_code=code, purpose="p", scenario="s", period_end="2020-01-01"
        )
    app = apps.apply(who["zj_officer"], entry_code=code, purpose="p", scenario="s")
    with pytest.raises(InvalidInput):  # the office's refusal needs a reason too
        apps.check(who["office"], app["id"], action="refuse", reason="")
    with pytest.raises(Conflict):  # one open application per applicant and entry
        apps.apply(who["zj_officer"], entry_code=code, purpose="p", scenario="s")
    with pytest.raises(Forbidden):
        apps.withdraw(who["zj_analyst"], app["id"])
    gone = apps.withdraw(who["zj_officer"], app["id"])
    assert gone["state"] == "withdrawn"
    assert [a["state"] for a in apps.mine(who["zj_officer"])] == ["withdrawn"]
    assert apps.mine(who["zj_analyst"]) == []


def test_not_shared_entry_takes_no_application_and_shows_its_legal_basis(
    district: District, apps: Applications
):
    with pytest.raises(Forbidden) as refused:
        apps.apply(
            district.who["zj_officer"],
            entry_code=district.entries["closed"],
            purpose="p",
            scenario="s",
        )
    assert "不予共享" in str(refused.value)
    assert LEGAL_BASIS in str(refused.value)
    assert district.store.applications.find() == []


@pytest.mark.slow  # the scorecard's sweep
def test_statistics_per_organisation_and_in_the_scorecard(
    district: District, apps: Applications, clock: Clock
):
    who = district.who
    code = district.entries["conditional"]
    on_time = apps.apply(who["zj_officer"], entry_code=code, purpose="p", scenario="s")
    apps.check(who["office"], on_time["id"], action="forward")
    apps.answer(who["mz_officer"], on_time["id"], approve=False, reason="数据不完整")
    late = apps.apply(who["zj_analyst"], entry_code=code, purpose="p", scenario="s")
    apps.check(who["office"], late["id"], action="forward")
    clock.now = dt.datetime(2026, 2, 27, 10, 0)  # within the 10 days still
    apps.answer(who["mz_officer"], late["id"], approve=True)
    third = apps.apply(
        who["zj_officer"], entry_code=district.entries["unconditional"], purpose="p", scenario="s"
    )
    clock.now = dt.datetime(2026, 3, 3, 10, 0)  # the office's check is late (due Feb 24)
    apps.check(who["office"], third["id"], action="approve")

    feb = {r["provider_code"]: r for r in apps.statistics("2026-02")}
    assert feb[PROVIDER] | {} == {
        "month": "2026-02",
        "provider_code": PROVIDER,
        "provider_name": "示范区民政局",
        "received": 3,
        "answered": 2,
        "answered_on_time": 2,
        "refused": 1,
        "refused_with_reason": 1,
        "shared": 1,
        "answered_on_time_rate": 100.0,
    }
    march = {r["provider_code"]: r for r in apps.statistics("2026-03")}[PROVIDER]
    assert (march["received"], march["answered"], march["answered_on_time"], march["shared"]) == (
        0,
        1,
        0,
        1,
    )
    with pytest.raises(InvalidInput):
        apps.statistics("2026-13")
    # The freshness scorecard carries the sharing columns per organisation.
    rows = scorecard(district.store, "2026-02", at=dt.datetime(2026, 3, 1))
    (mine,) = [r for r in rows if r["provider_code"] == PROVIDER]
    assert {k: v for k, v in mine.items() if k.startswith("sharing_")} == {
        "sharing_received": 3,
        "sharing_answered": 2,
        "sharing_answered_on_time": 2,
        "sharing_refused_with_reason": 1,
        "sharing_shared": 1,
    }


def test_a_step_beyond_the_holiday_tables_is_provisional(
    district: District, apps: Applications, clock: Clock
):
    from catalog.sharing.calendar import PACKAGE_LAST_YEAR

    clock.now = dt.datetime(PACKAGE_LAST_YEAR + 3, 3, 2, 9, 0)
    app = apps.apply(
        district.who["zj_officer"],
        entry_code=district.entries["conditional"],
        purpose="p",
        scenario="s",
    )
    deadline = app["deadline"]
    assert deadline["provisional"] is True
    assert "周一至周五" in deadline["warnings"][0]
    assert deadline["working_days_left"] == 2


# --- the security review's fixes (issue 13) ----------------------------------------------
def _user(district: District, login: str, org: str, roles: list[str]) -> Principal:
    accounts = UserAccounts(district.store)
    accounts.add(login, org=org, name=login, actor="tester", roles=roles)
    return accounts.principal(login, via="password")


def _apply(apps: Applications, who: Principal, code: str, **more) -> dict:
    return apps.apply(who, entry_code=code, purpose="住房保障资格审核", scenario="核验", **more)


def test_an_entry_changed_to_not_shared_stops_the_workflow_and_its_grants(
    district: District, apps: Applications, clock: Clock
):
    who = district.who
    directory = Directory(district.store, user="tester")
    code = district.entries["conditional"]
    first = _apply(apps, who["zj_analyst"], code)
    second = _apply(apps, who["zj_officer"], code)
    apps.check(who["office"], second["id"], action="forward")
    directory.update(code, {"share_type": "不予共享", "share_condition": LEGAL_BASIS})
    with pytest.raises(Conflict, match="不予共享") as caught:  # forward, at the office
        apps.check(who["office"], first["id"], action="forward")
    assert LEGAL_BASIS in str(caught.value)
    with pytest.raises(Conflict, match=LEGAL_BASIS):  # approve, at the provider
        apps.answer(who["mz_officer"], second["id"], approve=True)
    assert apps.get(who["office"], second["id"])["state"] == "forwarded"
    refused = apps.answer(who["mz_officer"], second["id"], approve=False, reason="已不予共享")
    assert refused["state"] == "refused"  # a refusal still goes through
    with pytest.raises(Conflict, match="不予共享"):
        apps.escalate(who["zj_officer"], second["id"], reason="确需")
    assert (
        apps.check(who["office"], first["id"], action="refuse", reason="不予共享")["state"]
        == "refused"
    )
    grants = Grants(district.store, district.workspace, clock=clock)
    with pytest.raises(Conflict, match=LEGAL_BASIS):  # nor by hand
        grants.create(
            who["office"],
            dataset=district.dataset,
            purpose="p",
            expires_at=FRI + dt.timedelta(days=30),
            grantee_org=APPLICANT,
        )
    assert district.store.grants.find(dataset=district.dataset) == []


def test_a_grant_made_before_the_entry_became_not_shared_is_not_honoured(
    district: District, apps: Applications, clock: Clock
):
    who = district.who
    code = district.entries["conditional"]
    app = _apply(apps, who["zj_analyst"], code)
    apps.check(who["office"], app["id"], action="forward")
    done = apps.answer(who["mz_officer"], app["id"], approve=True)
    grants = Grants(district.store, district.workspace, clock=clock)
    assert grants.access(who["zj_analyst"], district.dataset).basis == "grant"
    Directory(district.store, user="tester").update(code, {"share_type": "不予共享"})
    with pytest.raises(Forbidden):
        grants.access(who["zj_analyst"], district.dataset)
    assert grants.get(done["grant_id"])["status"] == "live"  # kept, but not honoured
    assert grants.access(who["mz_analyst"], district.dataset).basis == "owner"


def test_an_entry_changed_to_conditional_after_applying_is_forwarded_not_approved(
    district: District, apps: Applications
):
    who = district.who
    code = district.entries["unconditional"]
    app = _apply(apps, who["zj_analyst"], code)
    assert app["share_type"] == "无条件共享"
    Directory(district.store, user="tester").update(
        code, {"share_type": "有条件共享", "share_condition": "仅用于核验"}
    )
    with pytest.raises(Conflict, match="转提供方"):
        apps.check(who["office"], app["id"], action="approve")
    assert (
        apps.get(who["office"], app["id"])["entry_share_type"] == "有条件共享"
    )  # the page's buttons
    assert district.store.grants.find(dataset="open_roster") == []
    assert apps.check(who["office"], app["id"], action="forward")["state"] == "forwarded"


def test_a_grant_lasts_at_most_the_rules_longest_and_the_approval_may_shorten_it(
    district: District, apps: Applications, clock: Clock
):
    who = district.who
    code = district.entries["conditional"]
    with pytest.raises(InvalidInput, match="最长期限"):
        _apply(apps, who["zj_analyst"], code, period_end="2099-12-31")
    district.workspace.sharing_rules_file.parent.mkdir(parents=True, exist_ok=True)
    district.workspace.sharing_rules_file.write_text("max_grant_days: 30\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="30 天"):
        _apply(apps, who["zj_analyst"], code, period_end="2026-04-01")
    app = _apply(apps, who["zj_analyst"], code, period_end="2026-03-10")
    apps.check(who["office"], app["id"], action="forward")
    with pytest.raises(InvalidInput, match="使用期限"):  # not after the period asked for
        apps.answer(who["mz_officer"], app["id"], approve=True, expires_at="2026-03-11")
    with pytest.raises(InvalidInput, match="已过"):
        apps.answer(who["mz_officer"], app["id"], approve=True, expires_at="2026-02-01")
    done = apps.answer(who["mz_officer"], app["id"], approve=True, expires_at="2026-02-28")
    grants = Grants(district.store, district.workspace, clock=clock)
    assert grants.get(done["grant_id"])["expires_at"] == "2026-02-28T23:59:59"
    # Without a 使用期限: the longest grant (30 days), and settle may shorten it too.
    other = _apply(apps, who["zj_officer"], district.entries["unconditional"])
    approved = apps.check(who["office"], other["id"], action="approve")
    assert grants.get(approved["grant_id"])["expires_at"] == "2026-03-15T10:00:00"
    third = _apply(apps, who["zj_officer"], code)
    apps.check(who["office"], third["id"], action="refuse", reason="材料不全")
    apps.escalate(who["zj_officer"], third["id"], reason="已补")
    # The appeal is settled by another steward than the one who refused.
    second_steward = _user(district, "office2", OFFICE, ["steward"])
    with pytest.raises(InvalidInput, match="最长期限"):
        apps.settle(
            second_steward, third["id"], approve=True, reason="同意", expires_at="2026-04-01"
        )
    settled = apps.settle(
        second_steward, third["id"], approve=True, reason="同意", expires_at="2026-02-20"
    )
    assert grants.get(settled["grant_id"])["expires_at"] == "2026-02-20T23:59:59"


def test_the_rules_file_names_the_longest_grant(district: District):
    path = district.workspace.sharing_rules_file
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("max_grant_days: 0\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="1–3650"):
        SharingRules.from_workspace(district.workspace)
    path.write_text("max_grant_days: 90\ncheck_days: 3\n", encoding="utf-8")
    assert SharingRules.from_workspace(district.workspace).max_grant_days == 90
    assert SharingRules().max_grant_days == 365


def test_a_grantee_no_longer_valid_at_approval_stops_it(
    district: District, apps: Applications, clock: Clock
):
    who = district.who
    code = district.entries["conditional"]
    accounts = UserAccounts(district.store)
    app = _apply(apps, who["zj_officer"], code, grantees=["zj_analyst", "zj_officer"])
    apps.check(who["office"], app["id"], action="forward")
    accounts.disable("zj_analyst", actor="tester")
    with pytest.raises(Conflict, match="zj_analyst") as caught:
        apps.answer(who["mz_officer"], app["id"], approve=True)
    assert "zj_officer" not in str(caught.value).split("已不是")[0]
    assert district.store.grants.find(dataset=district.dataset) == []
    accounts.enable("zj_analyst", actor="tester")
    done = apps.answer(who["mz_officer"], app["id"], approve=True)
    assert done["state"] == "approved"
    assert sorted(g["grantee_login"] for g in district.store.grants.find()) == [
        "zj_analyst",
        "zj_officer",
    ]


# --- separation of duties (国发〔2016〕51号: the provider answers; the data office checks and
# settles) ------------------------------------------------------------------------------------
def test_only_the_providers_officers_answer_not_the_data_office(
    district: District, apps: Applications
):
    who = district.who
    code = district.entries["conditional"]
    app = _apply(apps, who["zj_analyst"], code)
    apps.check(who["office"], app["id"], action="forward")
    # The data office forwarded it: it may not also answer for the provider.
    with pytest.raises(Forbidden) as caught:
        apps.answer(who["office"], app["id"], approve=True)
    message = str(caught.value)
    assert "数据办负责审核和裁定，不能代替提供方答复" in message
    assert "示范区民政局" in message  # the provider by name, not only its code
    assert "answer" not in apps.get(who["office"], app["id"])["actions"]
    assert apps.inbox(who["office"])["provider"] == []
    # Nor a steward of another organisation who never touched it, nor a steward of the
    # providing organisation without the officer role.
    other_office = _user(district, "office2", OFFICE, ["steward"])
    provider_steward = _user(district, "mz_steward", PROVIDER, ["steward"])
    for nobody in (other_office, provider_steward):
        with pytest.raises(Forbidden, match="部门联络员"):
            apps.answer(nobody, app["id"], approve=False, reason="不同意")
        assert apps.get(nobody, app["id"])["actions"] == []
    assert apps.get(who["mz_officer"], app["id"])["actions"] == ["answer"]
    assert [a["id"] for a in apps.inbox(who["mz_officer"])["provider"]] == [app["id"]]
    done = apps.answer(who["mz_officer"], app["id"], approve=False, reason="超出共享条件范围")
    assert done["decided_by"] == "mz_officer"
    assert "acting_as" not in done["history"][-1]["detail"]
    # The statistics count the provider's own answer only.
    assert apps.statistics("2026-02")[0]["answered"] == 1


def test_an_officer_who_checked_it_at_the_office_does_not_answer_it(
    district: District, apps: Applications
):
    who = district.who
    both = _user(district, "mz_both", PROVIDER, ["steward", "officer"])
    app = _apply(apps, who["zj_analyst"], district.entries["conditional"])
    apps.check(both, app["id"], action="forward")
    with pytest.raises(Forbidden, match="审核与答复须由不同人员办理"):
        apps.answer(both, app["id"], approve=True)
    assert "answer" not in apps.get(both, app["id"])["actions"]
    assert apps.answer(who["mz_officer"], app["id"], approve=True)["state"] == "approved"


def test_whoever_refused_does_not_settle_the_appeal_against_it(
    district: District, apps: Applications
):
    who = district.who
    code = district.entries["conditional"]
    other_office = _user(district, "office2", OFFICE, ["steward"])
    # Refused at the office's check: the same steward may not settle the appeal.
    first = _apply(apps, who["zj_analyst"], code)
    apps.check(who["office"], first["id"], action="refuse", reason="材料不全")
    apps.escalate(who["zj_analyst"], first["id"], reason="已补充材料")
    assert "settle" not in apps.get(who["office"], first["id"])["actions"]
    with pytest.raises(Forbidden, match="被申诉的拒绝"):
        apps.settle(who["office"], first["id"], approve=True, reason="同意")
    assert apps.get(other_office, first["id"])["actions"] == ["settle"]
    settled = apps.settle(other_office, first["id"], approve=False, reason="维持")
    assert settled["state"] == "refused"
    # Refused by the provider: the office settles (it did not give that refusal).
    second = _apply(apps, who["zj_officer"], code)
    apps.check(who["office"], second["id"], action="forward")
    apps.answer(who["mz_officer"], second["id"], approve=False, reason="超出范围")
    apps.escalate(who["zj_officer"], second["id"], reason="确需")
    assert apps.settle(who["office"], second["id"], approve=True, reason="符合条件")["state"] == (
        "approved"
    )


def test_an_applicant_never_acts_on_their_own_application(district: District, apps: Applications):
    who = district.who
    applicant_steward = _user(district, "zj_steward", APPLICANT, ["steward", "officer"])
    code = district.entries["conditional"]
    app = _apply(apps, applicant_steward, code)
    assert apps.get(applicant_steward, app["id"])["actions"] == ["withdraw"]
    with pytest.raises(Forbidden, match="申请人"):
        apps.check(applicant_steward, app["id"], action="forward")
    apps.check(who["office"], app["id"], action="refuse", reason="材料不全")
    apps.escalate(applicant_steward, app["id"], reason="已补")
    assert apps.get(applicant_steward, app["id"])["actions"] == ["withdraw"]
    with pytest.raises(Forbidden, match="申请人"):
        apps.settle(applicant_steward, app["id"], approve=True, reason="自己同意")


def test_an_admin_may_answer_for_the_provider_and_it_is_recorded(
    district: District, apps: Applications
):
    who = district.who
    admin = _user(district, "sys_admin", OFFICE, ["admin"])
    app = _apply(apps, who["zj_analyst"], district.entries["conditional"])
    apps.check(who["office"], app["id"], action="forward")
    assert apps.get(admin, app["id"])["actions"] == ["answer"]
    done = apps.answer(admin, app["id"], approve=True, columns=["household_size"])
    assert done["history"][-1]["detail"]["acting_as"] == "admin"
    (decision,) = [
        e for e in AuditLog(district.store).entries() if e["action"] == "application_approve"
    ]
    assert decision["actor"] == "sys_admin"
    assert decision["detail"]["acting_as"] == "admin"


def test_refusals_name_organisations_and_the_view_carries_names_titles_and_the_decision(
    district: District, apps: Applications
):
    who = district.who
    code = district.entries["conditional"]
    with pytest.raises(Forbidden) as own:
        _apply(apps, who["mz_officer"], code)
    assert "由本单位示范区民政局（ORG-MZ）提供" in str(own.value)
    app = _apply(apps, who["zj_analyst"], code, columns=["person_name", "household_size"])
    shown = apps.get(who["zj_analyst"], app["id"])
    assert shown["provider_org_name"] == "示范区民政局"
    titles = {c["name"]: c["title"] for c in shown["dataset_columns"]}
    assert titles["household_size"] == "家庭人口"
    assert shown["granted"] == []
    apps.check(who["office"], app["id"], action="forward")
    apps.answer(
        who["mz_officer"],
        app["id"],
        approve=True,
        columns=["household_size"],
        row_filter={"household_size": ["1", "3"]},
        expires_at="2026-06-30",
    )
    (granted,) = apps.get(who["zj_analyst"], app["id"])["granted"]
    assert list(granted["columns"]) == ["household_size"]
    assert granted["row_filter"] == {"household_size": ["1", "3"]}
    assert granted["expires_at"] == "2026-06-30T23:59:59"
    assert granted["status"] == "live"


def _at_once(threads: int, work) -> list[BaseException]:
    """Run ``work(n)`` in ``threads`` threads started together (each thread has its own
    connection to the store); the errors raised."""
    start = threading.Barrier(threads)
    errors: list[BaseException] = []

    def run(n: int) -> None:
        try:
            start.wait(timeout=30)
            work(n)
        except BaseException as error:  # reported by the caller
            errors.append(error)

    workers = [threading.Thread(target=run, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return errors


@pytest.mark.slow
def test_concurrent_applicants_get_distinct_consecutive_numbers(
    district: District, apps: Applications
):
    """Six applicants (applicant × entry) apply and withdraw five times each, all at once: the
    last number is read and the next inserted under the store's write lock, so no two collide
    and none is skipped; the audit chain stays whole."""
    who = district.who
    pairs = [
        (login, district.entries[label])
        for login in ("zj_analyst", "zj_officer", "sw_officer")
        for label in ("conditional", "unconditional")
    ]
    numbers: list[str] = []

    def applicant(n: int) -> None:
        login, entry = pairs[n]
        for i in range(5):
            app = apps.apply(who[login], entry_code=entry, purpose=f"核验 {i}", scenario="窗口办事")
            numbers.append(app["number"])
            apps.withdraw(who[login], app["id"])

    assert _at_once(len(pairs), applicant) == []
    expected = [f"SQ20260213-{k:04d}" for k in range(1, len(pairs) * 5 + 1)]
    assert sorted(numbers) == expected
    assert sorted(a["number"] for a in apps.store.applications.find()) == expected
    assert AuditLog(district.store).verify().ok


def test_one_open_application_per_applicant_and_entry_even_at_once(
    district: District, apps: Applications
):
    """The same applicant applying for the same entry from six places at once: the check for
    an open application and the insert are one write, so exactly one is made."""
    who = district.who
    entry = district.entries["unconditional"]
    errors = _at_once(
        6,
        lambda n: apps.apply(
            who["zj_analyst"], entry_code=entry, purpose="核验", scenario="窗口办事"
        ),
    )
    assert len(errors) == 5
    assert all(isinstance(e, Conflict) and "请勿重复申请" in e.message for e in errors), errors
    assert [a["number"] for a in apps.store.applications.find()] == ["SQ20260213-0001"]
