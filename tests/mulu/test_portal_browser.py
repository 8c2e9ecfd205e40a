"""The web portal end to end in headless Chromium (Debian's, driven by Playwright) against a
real ``mulu serve``: search, open an entry, the freshness dashboard, a steward's decision."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from api_server import serving
from loading_fixtures import write_csv, write_spec
from web_users import add_user

from catalog.directory import Directory
from catalog.importing.importer import import_file
from quality.gate import load_validated
from schemas.identity import make_id_card
from warehouse.store import Store
from warehouse.workspace import Workspace

pytestmark = [pytest.mark.browser, pytest.mark.server]

CHROMIUM = os.environ.get("MULU_CHROMIUM", "/usr/bin/chromium")
PASSWORD = "正确的马电池订书钉-2026"


@pytest.fixture(scope="module")
def site(tmp_path_factory, real_data):
    root = tmp_path_factory.mktemp("portal")
    workspace = Workspace(root / "ws").ensure()
    directory = Directory.open(workspace, user="tester")
    try:
        import_file(directory, workspace, real_data / "cn-portals" / "anhui_luan.json")
        code = directory.create(
            {
                "name": "城乡低保对象名单",
                "provider_name": "示范区民政局",
                "share_type": "无条件共享",
                "open_type": "无条件开放",  # the public finds it and reads its rows, masked
                "update_cycle": "每月",
                "summary": "民政局每月汇总的城乡最低生活保障对象",
                "data_items": [
                    {"name": "身份证号", "data_type": "字符型"},
                    {"name": "姓名", "data_type": "字符型"},
                ],
                "updated_at": dt.datetime(2025, 1, 5),
            }
        )
    finally:
        directory.close()
    # A load the gate blocks: a wrong 身份证号 check digit.
    good = make_id_card("320303", dt.date(1980, 1, 2), 5)
    bad = good[:17] + ("0" if good[17] != "0" else "1")
    source = root / "exchange" / "低保.csv"
    write_csv(source, ["身份证号", "姓名"], [[good, "张三"], [bad, "李四"]])
    spec = write_spec(
        workspace.datasets_dir / "mzj",  # the workspace's own: the portal's samples read it
        "dibao",
        source,
        primary_key=["id_card_no"],
        columns=[
            {"name": "id_card_no", "source": "身份证号", "pii": "身份证号", "format": "身份证号"},
            {"name": "person_name", "source": "姓名", "pii": "姓名"},
        ],
    )
    spec_file = workspace.datasets_dir / "mzj" / "dibao.yaml"
    spec_file.write_text(
        spec_file.read_text(encoding="utf-8").replace(spec.entry_code, code), encoding="utf-8"
    )
    spec = spec.model_copy(update={"entry_code": code})
    with Store.open(workspace) as store:
        blocked = load_validated(store, workspace, spec, data_docs=False)
    assert blocked.status == "blocked"
    add_user(workspace, "wang.kz", roles=("steward",), org="示范区民政局", password=PASSWORD)
    with serving(workspace.root) as base:
        yield base, code, blocked.quality_run_id


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"Debian's chromium is needed at {CHROMIUM}: run `make browser`")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="zh-CN")
    opened = context.new_page()
    yield opened
    context.close()


def test_search_then_open_an_entry(site, page):
    base, code, _ = site
    page.goto(base + "/")
    page.fill("input[name=q]", "低保")
    page.click("form.search button")
    page.wait_for_selector(".hit")
    assert "城乡低保对象名单" in page.inner_text(".hit h3")
    assert page.locator(".hit mark").count() >= 1  # the match is highlighted
    page.click(".hit h3 a")
    page.wait_for_selector("#entry-name")
    assert page.inner_text("#entry-name") == "城乡低保对象名单"
    assert code in page.inner_text("main")
    assert "逾期" in page.inner_text("#freshness")
    assert "身份证号" in page.inner_text("main")  # the 信息项 table


def sign_in(page, base: str) -> None:
    page.goto(base + "/login")
    page.fill("#login", "wang.kz")
    page.fill("#password", PASSWORD)
    page.click("#login-form button")
    page.wait_for_selector("#flash")


def test_facets_filter_the_results(site, page):
    base, _, _ = site
    sign_in(page, base)  # signed in: the whole directory, not only the open entries
    page.goto(base + "/?q=&lang=zh")
    total = int(page.inner_text("#total strong"))
    page.click("a[data-facet=organisation] >> nth=0")
    page.wait_for_load_state()
    filtered = int(page.inner_text("#total strong"))
    assert 0 < filtered < total


def test_freshness_dashboard_and_english(site, page):
    base, _, _ = site
    page.goto(base + "/freshness")
    assert page.locator("#scorecard tr").count() > 2
    assert page.locator("svg.chart").count() == 2
    page.click("text=English")
    page.wait_for_load_state()
    assert "On-time update scorecard" in page.inner_text("#scorecard")


def test_a_steward_signs_in_and_accepts_a_blocked_run(site, page):
    base, code, run_id = site
    # The quality pages need a signed-in officer or steward: to the login form and back.
    page.goto(base + "/quality?pending=1")
    page.wait_for_selector("#login-form")
    page.fill("#login", "wang.kz")
    page.fill("#password", "wrong password")
    page.click("#login-form button")
    page.wait_for_selector("#login-error")
    assert "登录名或密码错误" in page.inner_text("#login-error")
    page.fill("#login", "wang.kz")
    page.fill("#password", PASSWORD)
    page.click("#login-form button")
    page.wait_for_selector("#runs")
    assert page.url.endswith("/quality?pending=1")
    assert "已登录" in page.inner_text("#flash")
    page.click(f"text={run_id}")
    page.wait_for_selector("#review")
    assert "id_card_no:format" in page.inner_text("main")
    page.fill("#review input[name=note]", "已电话核实")
    page.click("#review button[value=accept]")
    page.wait_for_selector("#flash")
    assert "published" in page.inner_text("#flash")
    assert "?flash=" not in page.url
    assert page.inner_text("#run-status") == "已通过"
    assert "wang.kz" in page.inner_text("main")  # the reviewer is the signed-in steward
    page.click("form.logout button")
    page.wait_for_selector("#flash")
    assert "已退出" in page.inner_text("#flash")
    # The entry page now shows the public the published rows, 身份证号 masked (无条件开放).
    page.goto(f"{base}/entry/{code}")
    sample = page.inner_text("#sample")
    assert "id_card_no" in sample
    assert "***" in sample
    assert "张三" not in sample
    assert "320303" not in sample
