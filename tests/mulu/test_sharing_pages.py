"""The sharing pages as people read them (issue 13, the new-user tester's and the reviewer's
findings): the data office sees no provider's answer form and no provider queue, a steward's
answer is a 403; English pages (``?lang=en``) name states, steps and actions in English with
ASCII punctuation; an approved application shows what was approved (columns, clear PII, row
filter, the grant's expiry, a link to /grants); organisations by name (code in a title);
columns with their Chinese titles; 无条件共享 still needs an application checked within 2
working days. Real app (``create_app``), real store, real session cookies and CSRF tokens."""

from __future__ import annotations

import datetime as dt
import html as html_text
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sharing_workflow_fixtures import District, build_district
from web_users import start_session

from catalog.sharing.applications import Applications
from catalog.sharing.notices import NoticeSettings, SharingNotices
from catalog.sharing.users import UserAccounts
from mulu.web.app import create_app
from mulu.web.portal.words import audit, grants, sharing
from warehouse.store import Store
from warehouse.workspace import Workspace

FULL_WIDTH = "（）：，；、。"


class Site:
    def __init__(self, client: TestClient, district: District, workspace: Workspace) -> None:
        self.client = client
        self.district = district
        self.workspace = workspace
        self.csrf = ""

    def sign_in(self, login: str) -> Site:
        secret, self.csrf = start_session(self.workspace, login)
        self.client.cookies.clear()
        self.client.cookies.set("mulu_session", secret)
        return self

    def bearer(self, login: str) -> dict[str, str]:
        secret = UserAccounts(self.district.store).issue_token(login, name="t", actor="tester")
        return {"Authorization": f"Bearer {secret.secret}"}

    def get(self, path: str) -> str:
        page = self.client.get(path)
        assert page.status_code == 200, page.text
        return page.text

    def workflow(self) -> Applications:
        store = self.district.store
        return Applications(store, self.workspace, notices=SharingNotices(store, NoticeSettings()))


@pytest.fixture
def site(workspace: Workspace, tmp_path: Path) -> Iterator[Site]:
    with Store.open(workspace) as store:
        district = build_district(workspace, store, tmp_path / "sources")
        with TestClient(create_app(workspace)) as client:
            yield Site(client, district, workspace)


def _forwarded(site: Site, **more) -> dict:
    who = site.district.who
    workflow = site.workflow()
    app = workflow.apply(
        who["zj_analyst"],
        entry_code=site.district.entries["conditional"],
        purpose="住房保障资格审核",
        scenario="核验",
        **more,
    )
    workflow.check(who["office"], app["id"], action="forward")
    return app


def _text(html: str) -> str:
    """The page's visible text, roughly: tags, styles and attributes dropped."""
    html = re.sub(r"<style.*?</style>", " ", html, flags=re.S)
    return html_text.unescape(re.sub(r"<[^>]+>", " ", html))


def test_english_words_use_ascii_punctuation():
    for group in (sharing.STRINGS, grants.STRINGS, audit.STRINGS):
        for key, (chinese, english) in group.items():
            if key in ("sh_colon", "sh_paren_open", "sh_paren_close", "sh_list_sep"):
                continue
            assert chinese, key
            bad = [c for c in english if c in FULL_WIDTH]
            assert not bad, f"{key}: {english!r} has {bad}"


@pytest.mark.slow  # the app's start (search index) takes a few seconds
def test_the_data_office_sees_no_answer_form_and_gets_403_for_an_answer(site: Site):
    app = _forwarded(site)
    page = site.sign_in("office").get(f"/sharing/applications/{app['id']}")
    assert 'id="answer"' not in page
    assert "/answer" not in page
    inbox = site.get("/sharing/inbox")
    assert "数据办待办" in inbox
    assert 'id="provider-queue"' not in inbox
    assert "提供方待答复" not in inbox
    assert "ORG-SJ" not in _text(inbox)  # its own code was shown as a "provider"
    posted = site.client.post(
        f"/sharing/applications/{app['id']}/answer",
        data={"csrf_token": site.csrf, "decision": "approve"},
        follow_redirects=False,
    )
    assert posted.status_code == 403
    assert "数据办负责审核和裁定，不能代替提供方答复" in posted.text
    assert site.district.store.applications.get(app["id"])["state"] == "forwarded"
    site.client.cookies.clear()
    rest = site.client.post(
        f"/api/sharing/applications/{app['id']}/answer",
        json={"approve": True},
        headers=site.bearer("office"),
    )
    assert rest.status_code == 403
    # The provider's officer: the form, and the queue headed by the organisation's name.
    page = site.sign_in("mz_officer").get(f"/sharing/applications/{app['id']}")
    assert 'id="answer"' in page
    inbox = site.get("/sharing/inbox")
    heading = re.search(r'<h2 id="provider-heading">(.*?)</h2>', inbox, re.S)
    assert heading is not None
    assert "示范区民政局" in heading.group(1)
    assert 'title="ORG-MZ"' in heading.group(1)
    assert f"/sharing/applications/{app['id']}" in inbox


@pytest.mark.slow
def test_english_pages_name_states_steps_and_actions_in_english(site: Site):
    app = _forwarded(site)
    site.sign_in("zj_analyst")
    page = site.get(f"/sharing/applications/{app['id']}?lang=en")
    text = _text(page)
    assert "Awaiting the provider's answer" in text
    assert "(provider's answer)" in text
    for chinese in ("待提供方答复", "提交申请", "审核通过，转提供方", "待数据办审核", "按时"):
        assert chinese not in text, chinese
    assert "Applied" in text
    assert "Checked, forwarded to the provider" in text
    assert "on time" in text
    mine = _text(site.get("/sharing/mine?lang=en"))
    assert "Awaiting the provider's answer" in mine
    assert "待提供方答复" not in mine
    apply = _text(site.get(f"/sharing/apply/{site.district.entries['unconditional']}?lang=en"))
    assert "Apply for access: " in apply
    assert "Columns (none ticked: every column)" in apply
    assert "Apply for access：" not in apply
    assert "（none" not in apply
    # Chinese stays the default (the page remembers the language chosen in a cookie).
    site.client.cookies.delete("lang")
    chinese = _text(site.get(f"/sharing/applications/{app['id']}"))
    assert "待提供方答复" in chinese
    assert "提交申请" in chinese


@pytest.mark.slow
def test_an_approved_application_shows_what_was_approved(site: Site):
    app = _forwarded(site, columns=["person_name", "id_card_no", "household_size"])
    until = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    site.sign_in("mz_officer")
    done = site.client.post(
        f"/sharing/applications/{app['id']}/answer",
        data={
            "csrf_token": site.csrf,
            "decision": "approve",
            "columns": ["person_name", "household_size"],
            "unmasked": ["person_name"],
            "row_filter": "household_size=1,3",
            "expires_at": until,
        },
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    page = site.sign_in("zj_analyst").get(f"/sharing/applications/{app['id']}")
    decision = re.search(r'<div class="card" id="decision">(.*?)</div>', page, re.S)
    assert decision is not None
    shown = decision.group(1)
    granted = re.search(r'class="granted-columns">(.*?)</td>', shown, re.S)
    assert granted is not None
    assert "person_name" in granted.group(1)
    assert "household_size" in granted.group(1)
    assert "id_card_no" not in granted.group(1)  # asked for, not granted
    assert "家庭人口" in granted.group(1)  # the Chinese title beside the name
    assert "姓名" in re.search(r'class="granted-unmasked">(.*?)</td>', shown, re.S).group(1)  # type: ignore[union-attr]
    assert "1/3" in shown
    assert f"{until} 23:59:59" in shown
    assert 'href="/grants' in shown
    assert "默认一年" not in page
    # The columns asked for carry their titles too.
    asked = re.search(r'id="asked-columns">(.*?)</td>', page, re.S)
    assert asked is not None
    assert "身份证号" in asked.group(1)


@pytest.mark.slow
def test_organisations_by_name_and_columns_with_titles(site: Site):
    app = _forwarded(site)
    site.workflow().answer(
        site.district.who["mz_officer"], app["id"], approve=True, columns=["household_size"]
    )
    # The apply form: each column's Chinese title beside its name; 无条件共享's rule.
    site.sign_in("zj_officer")
    apply = site.get(f"/sharing/apply/{site.district.entries['unconditional']}")
    assert re.search(
        r'value="household_size"> 家庭人口 <small class="colname">household_size', apply
    )
    assert "2 个工作日内审核" in apply
    assert "国发〔2016〕51号" in apply
    site.client.cookies.clear()
    own = site.client.post(
        "/api/sharing/applications",
        json={"entry_code": site.district.entries["conditional"], "purpose": "p", "scenario": "s"},
        headers=site.bearer("mz_officer"),
    )
    assert own.status_code == 403
    assert "示范区民政局" in own.json()["detail"]
    # /grants: the grantee organisation's name (its code in a title), column titles.
    page = site.sign_in("office").get("/grants")
    row = re.search(r'<tr class="grant[^"]*" id="grant-\d+">(.*?)</tr>', page, re.S)
    assert row is not None
    assert '<span class="org" title="ORG-ZJ">示范区住建局</span>' in row.group(1)
    assert "家庭人口" in row.group(1)
    assert f"/sharing/applications/{app['id']}" in row.group(1)
    # /audit: the 单位 of each entry by name.
    audit_page = site.get("/audit")
    assert 'title="ORG-MZ">示范区民政局</span>' in audit_page
    assert "示范区住建局 (ORG-ZJ)" in audit_page  # the filter's choices
