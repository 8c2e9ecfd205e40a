"""Every data channel of the web app enforces grants and is audited (issue 13): the REST data
endpoint, downloads (CSV/Excel/Parquet) and the portal's sample rows, against a real ``mulu
serve`` over a real workspace — datasets loaded into the lake by the real loader, users and
tokens and grants in the real store.

Who is who: 民政局 provides 城乡低保 (``dibao``, 有条件共享, not open; 姓名 and 身份证号 PII) and
a 不予共享 entry; 卫健委 provides 医疗机构 (``clinics``, 无条件开放: open data, 联系电话 PII,
2,500 rows). 人社局's analyst holds a grant on three of dibao's columns, PII masked; another of
its users holds a grant with 身份证号 in clear and a row filter; a third holds none."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pyarrow.parquet as pq
import pytest
import yaml
from api_server import serving
from loading_fixtures import ROSTER_HEADER, ROSTER_ROWS, write_csv, write_spec
from python_calamine import CalamineWorkbook

from catalog.directory import Directory
from catalog.sharing.audit import AuditLog
from catalog.sharing.grants import Grants
from catalog.sharing.users import UserAccounts
from schemas.dataset_spec import load_spec
from schemas.entry import catalogue_now
from schemas.principal import Principal
from warehouse.lake import connect_lake
from warehouse.load import load_dataset
from warehouse.masking import mask_value
from warehouse.store import Store
from warehouse.workspace import Workspace

pytestmark = [pytest.mark.server, pytest.mark.slow]

MZJ = "11330100MB0000001X"  # 民政局: provides dibao and the closed entry
RSJ = "11330100MB0000002X"  # 人社局: the grantees
WJW = "11330100MB0000003X"  # 卫健委: provides the open clinics
DIBAO_CODE = "301005/000012"  # write_spec's entry
CLINICS_CODE = "301010/000001"
CLOSED_CODE = "301005/000099"
NOTES_CODE = "301010/000002"  # open data, large enough that a download takes many pieces
NOTES_ROWS = 150_000
ON_REQUEST_CODE = "301005/000100"  # 依申请开放: the public sees its metadata, not its data
CONDITION = "仅限社会救助业务使用"
CLOSED_BASIS = "涉及个人隐私，依据《个人信息保护法》第二十八条不予共享"
ROSTER = ("person_name", "id_card_no", "household_size", "monthly_allowance", "approved_on")
DIBAO_PII = ("person_name", "id_card_no")
GRANTED = ("person_name", "id_card_no", "household_size")
CLINICS = ("clinic_name", "phone", "beds")
CLINIC_ROWS = 2500
ADMIN = Principal.local_admin("test")


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[dict[str, Any]]:
    folder = tmp_path_factory.mktemp("data-api")
    workspace = Workspace(folder / "ws").ensure()
    directory = Directory.open(workspace, user="test")
    try:
        directory.add_organisations(
            [
                {"code": MZJ, "name": "示范区民政局"},
                {"code": RSJ, "name": "示范区人社局"},
                {"code": WJW, "name": "示范区卫健委"},
            ]
        )
        for code, name, provider, share, condition, open_type in (
            (DIBAO_CODE, "城乡低保对象", "示范区民政局", "有条件共享", CONDITION, None),
            (CLINICS_CODE, "医疗机构名录", "示范区卫健委", "无条件共享", None, "无条件开放"),
            (NOTES_CODE, "巡诊记录", "示范区卫健委", "无条件共享", None, "无条件开放"),
            (CLOSED_CODE, "低保对象病史", "示范区民政局", "不予共享", CLOSED_BASIS, None),
            (
                ON_REQUEST_CODE,
                "临时救助对象",
                "示范区民政局",
                "有条件共享",
                CONDITION,
                "依申请开放",
            ),
        ):
            directory.create(
                {
                    "code": code,
                    "name": name,
                    "provider_name": provider,
                    "share_type": share,
                    "share_condition": condition,
                    "open_type": open_type,
                    "update_cycle": "每月",
                }
            )
        store = directory.store
        # dibao: the roster, loaded from the workspace's own spec.
        roster = write_csv(folder / "exchange" / "roster.csv", ROSTER_HEADER, ROSTER_ROWS)
        load_dataset(workspace, write_spec(workspace.datasets_dir / "mzj", "dibao", roster))
        # clinics: 2,500 rows, 联系电话 PII.
        clinics = write_csv(
            folder / "exchange" / "clinics.csv",
            ["机构名称", "联系电话", "床位数"],
            [[f"示范区第{i}诊所", f"1380000{i:04d}", str(i % 50)] for i in range(CLINIC_ROWS)],
        )
        spec = workspace.datasets_dir / "wjw" / "clinics.yaml"
        spec.parent.mkdir(parents=True)
        spec.write_text(
            yaml.safe_dump(
                {
                    "name": "clinics",
                    "title": "医疗机构名录",
                    "entry_code": CLINICS_CODE,
                    "source": {"url": str(clinics)},
                    "columns": [
                        {"name": "clinic_name", "source": "机构名称"},
                        {"name": "phone", "source": "联系电话", "pii": "手机号"},
                        {"name": "beds", "source": "床位数", "type": "integer"},
                    ],
                    "load": {"mode": "replace"},
                },
                allow_unicode=True,
            ),
            encoding="utf-8",
        )
        load_dataset(workspace, load_spec(spec))
        notes = write_csv(
            folder / "exchange" / "notes.csv",
            ["序号", "记录"],
            [
                [str(i), f"第{i}次巡诊：" + "血压、血糖、用药情况均已记录。" * 6]
                for i in range(NOTES_ROWS)
            ],
        )
        notes_spec = workspace.datasets_dir / "wjw" / "notes.yaml"
        notes_spec.write_text(
            yaml.safe_dump(
                {
                    "name": "notes",
                    "title": "巡诊记录",
                    "entry_code": NOTES_CODE,
                    "source": {"url": str(notes)},
                    "columns": [
                        {"name": "seq", "source": "序号", "type": "integer"},
                        {"name": "note", "source": "记录"},
                    ],
                    "load": {"mode": "replace"},
                },
                allow_unicode=True,
            ),
            encoding="utf-8",
        )
        load_dataset(workspace, load_spec(notes_spec))
        accounts = UserAccounts(store)
        tokens = {}
        for login, org, role in (
            ("mzj.officer", MZJ, "officer"),
            ("rsj.analyst", RSJ, "analyst"),
            ("rsj.clear", RSJ, "analyst"),
            ("rsj.other", RSJ, "analyst"),
            ("rsj.temp", RSJ, "analyst"),
        ):
            accounts.add(login, org=org, name=login, roles=[role], actor="test")
            tokens[login] = accounts.issue_token(login, name="test", actor="test").secret
        grants = Grants(store, workspace)
        until = catalogue_now().replace(tzinfo=None) + dt.timedelta(days=30)
        analyst_grant = grants.create(
            ADMIN,
            dataset="dibao",
            purpose="低保资格复核",
            expires_at=until,
            grantee_login="rsj.analyst",
            columns=list(GRANTED),
        )
        grants.create(
            ADMIN,
            dataset="dibao",
            purpose="就业援助比对",
            expires_at=until,
            grantee_login="rsj.clear",
            columns=["id_card_no", "household_size"],
            unmasked=["id_card_no"],
            row_filter={"household_size": ["3", "5"]},
        )
        temp_grant = grants.create(
            ADMIN,
            dataset="dibao",
            purpose="临时核查",
            expires_at=until,
            grantee_login="rsj.temp",
            columns=["household_size"],
        )
    finally:
        directory.close()
    with serving(workspace.root) as base:
        yield {
            "base": base,
            "workspace": workspace,
            "tokens": tokens,
            "grant": analyst_grant["id"],
            "temp_grant": temp_grant["id"],
        }


def fetch(site, path: str, login: str | None = None) -> tuple[int, dict[str, str], bytes]:
    headers = {"Authorization": f"Bearer {site['tokens'][login]}"} if login else {}
    request = urllib.request.Request(site["base"] + path, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def get_json(site, path: str, login: str | None = None) -> tuple[int, Any]:
    status, _, body = fetch(site, path, login)
    return status, json.loads(body)


def lake_view(workspace, table: str, columns, masked=()) -> list[list[Any]]:
    """The granted view computed independently: the lake's rows in rowid order, masked in
    Python with the documented rule."""
    con = connect_lake(workspace, read_only=True)
    try:
        names = ", ".join(columns)
        rows = con.sql(f"SELECT {names} FROM lake.main.{table} ORDER BY rowid").fetchall()
    finally:
        con.close()
    return [
        [mask_value(v) if c in masked else v for c, v in zip(columns, r, strict=True)] for r in rows
    ]


def digest(rows) -> str:
    """An order-free checksum of rows, every value as text (None as empty)."""
    lines = sorted(
        json.dumps(["" if v is None else str(v) for v in row], ensure_ascii=False) for row in rows
    )
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def audit(site, **filters) -> list[dict[str, Any]]:
    with Store.open(site["workspace"]) as store:
        return AuditLog(store).entries(limit=None, action="access", **filters)


# --- REST ----------------------------------------------------------------------------------
def test_a_grantee_reads_exactly_the_granted_columns_with_pii_masked(site):
    before = len(audit(site, actor="rsj.analyst", channel="rest"))
    status, page = get_json(site, "/api/data/dibao", "rsj.analyst")
    assert status == 200
    assert page["columns"] == list(GRANTED)
    assert page["masked"] == list(DIBAO_PII)
    assert (page["basis"], page["grant_id"], page["purpose"]) == (
        "grant",
        site["grant"],
        "低保资格复核",
    )
    assert page["total"] == len(ROSTER_ROWS)
    assert page["next"] is None
    assert page["rows"] == lake_view(site["workspace"], "dibao", GRANTED, DIBAO_PII)
    assert "010101199003074514" not in json.dumps(page, ensure_ascii=False)
    # One audit row for the read, naming the grant, the columns and the rows returned.
    rows = audit(site, actor="rsj.analyst", channel="rest")
    assert len(rows) == before + 1
    latest = rows[0]
    assert latest["dataset"] == "dibao"
    assert latest["columns"] == list(GRANTED)
    assert latest["rows"] == len(ROSTER_ROWS)
    assert latest["grant_id"] == site["grant"]
    assert latest["purpose"] == "低保资格复核"
    assert latest["remote"] == "127.0.0.1"


def test_a_grant_that_unmasks_and_filters_rows(site):
    status, page = get_json(site, "/api/data/dibao", "rsj.clear")
    assert status == 200
    assert page["columns"] == ["id_card_no", "household_size"]
    assert page["masked"] == []
    assert sorted(page["rows"], key=lambda r: r[1]) == [
        ["010101199003074514", 3],
        ["0011223344556677X", 5],
    ]
    assert page["total"] == 2


def test_the_owner_reads_everything_in_clear(site):
    status, page = get_json(site, "/api/data/dibao", "mzj.officer")
    assert status == 200
    assert page["basis"] == "owner"
    assert page["grant_id"] is None
    assert page["columns"] == list(ROSTER)
    assert page["masked"] == []
    clear = lake_view(site["workspace"], "dibao", ROSTER)
    assert page["rows"][0][:2] == ["张三", "010101199003074514"]
    assert page["rows"][0][3] == 1250.5  # DECIMAL(10,2) 1250.50 as a JSON number
    assert page["rows"][0][4] == "2026-01-05"
    assert len(page["rows"]) == len(clear)
    assert [r[3] for r in clear][0] == Decimal("1250.50")


def test_without_a_grant_403_and_anonymous_401(site):
    before = len(audit(site, dataset="dibao"))
    status, body = get_json(site, "/api/data/dibao", "rsj.other")
    assert status == 403
    assert "共享授权" in body["detail"]
    assert get_json(site, "/api/data/dibao")[0] == 404  # not open: as if it did not exist
    assert fetch(site, "/api/data/dibao/download.csv", "rsj.other")[0] == 403
    assert fetch(site, "/api/data/dibao/download.csv")[0] == 404
    assert get_json(site, "/api/data/no_such_dataset", "rsj.analyst")[0] == 404
    # A refusal reads nothing: no access row; each refused read is an access_denied entry
    # naming who tried.
    assert len(audit(site, dataset="dibao")) == before
    with Store.open(site["workspace"]) as store:
        denied = AuditLog(store).entries(action="access_denied", dataset="dibao", limit=None)
    assert [e["actor"] for e in denied].count("rsj.other") >= 2
    assert {e["channel"] for e in denied if e["actor"] == "rsj.other"} <= {"rest", "download"}


def test_anonymous_reads_open_data_masked_by_dataset_or_entry(site):
    status, page = get_json(site, "/api/data/clinics?limit=5")
    assert status == 200
    assert page["basis"] == "open"
    assert page["masked"] == ["phone"]
    assert page["rows"] == lake_view(site["workspace"], "clinics", CLINICS, ("phone",))[:5]
    assert page["rows"][1][1] == "138******01"
    by_entry = get_json(site, f"/api/data/{CLINICS_CODE.replace('/', '-')}?limit=5")[1]
    assert by_entry["rows"] == page["rows"]
    assert by_entry["dataset"] == "clinics"
    seen = audit(site, actor="anonymous", dataset="clinics", channel="rest")
    assert seen[0]["remote"] == "127.0.0.1"


def test_anonymous_cannot_tell_hidden_entries_and_datasets_from_missing_ones(site):
    """The review's case: a hidden entry without a dataset was a 404 naming it, one with a
    dataset a 401 naming ``dibao``, a missing code another 404. Now all answer alike."""

    def answer(key: str) -> tuple[int, str]:
        status, body = get_json(site, f"/api/data/{urllib.parse.quote(key, safe='')}")
        return status, body["detail"].replace(repr(key), "KEY")

    missing = answer("301005-000777")
    assert missing[0] == 404
    for key in ("dibao", DIBAO_CODE.replace("/", "-"), CLOSED_CODE.replace("/", "-")):
        assert answer(key) == missing, key
        assert fetch(site, f"/api/data/{key}/download.csv")[0] == 404
    status, body = get_json(site, "/api/data/no_such_dataset")
    assert (status, body["detail"].replace("'no_such_dataset'", "KEY")) == missing
    # The CKAN datastore_search over the same resolution: the same answer for both.
    hidden = ckan_search(site, "dibao")
    absent = ckan_search(site, "no_such_thing")
    assert hidden[0] == absent[0] == 404
    assert hidden[1]["error"]["message"].replace("dibao", "X") == absent[1]["error"][
        "message"
    ].replace("no_such_thing", "X")
    # Signed in, the entry is visible: the refusal is a grant's.
    assert get_json(site, "/api/data/dibao", "rsj.other")[0] == 403


def ckan_search(site, resource_id: str, login: str | None = None) -> tuple[int, Any]:
    query = urllib.parse.urlencode({"resource_id": resource_id, "limit": 2})
    status, _, body = fetch(site, f"/api/action/datastore_search?{query}", login)
    return status, json.loads(body)


def test_data_answers_are_never_cached(site):
    """Rows of data and every page a signed-in user sees: Cache-Control: no-store."""
    query = urllib.parse.urlencode({"resource_id": "clinics", "limit": 2})
    for path, login in (
        ("/api/data/clinics?limit=2", None),
        ("/api/data/dibao?limit=2", "rsj.analyst"),
        (f"/api/action/datastore_search?{query}", None),
        (f"/entry/{CLINICS_CODE}", None),
        (f"/entry/{DIBAO_CODE}", "rsj.analyst"),
        ("/", "rsj.analyst"),
        ("/api/entries", "rsj.analyst"),
    ):
        status, headers, _ = fetch(site, path, login)
        assert status == 200, path
        assert headers.get("cache-control") == "no-store", (path, login)
    assert "no-store" not in fetch(site, "/")[1].get("cache-control", "")


def test_pages_total_and_next(site):
    pages, offset = [], 0
    while offset is not None:
        status, page = get_json(site, f"/api/data/clinics?offset={offset}&limit=1000")
        assert status == 200
        assert page["total"] == CLINIC_ROWS
        pages.append(page)
        offset = page["next"]
    assert [p["offset"] for p in pages] == [0, 1000, 2000]
    assert [len(p["rows"]) for p in pages] == [1000, 1000, 500]
    whole = [r for p in pages for r in p["rows"]]
    assert whole == lake_view(site["workspace"], "clinics", CLINICS, ("phone",))
    past = get_json(site, "/api/data/clinics?offset=9000")[1]
    assert (past["rows"], past["next"], past["total"]) == ([], None, CLINIC_ROWS)
    assert get_json(site, "/api/data/clinics?limit=1001")[0] == 422
    assert get_json(site, "/api/data/clinics?offset=-1")[0] == 422


def test_a_revoked_grant_stops_at_once(site):
    assert get_json(site, "/api/data/dibao", "rsj.temp")[0] == 200
    with Store.open(site["workspace"]) as store:
        Grants(store, site["workspace"]).revoke(ADMIN, site["temp_grant"], reason="核查结束")
    assert get_json(site, "/api/data/dibao", "rsj.temp")[0] == 403


# --- downloads -------------------------------------------------------------------------------
def download(site, fmt: str, login: str | None, dataset: str = "dibao"):
    status, headers, body = fetch(site, f"/api/data/{dataset}/download.{fmt}", login)
    assert status == 200, body[:300]
    return headers, body


def test_csv_download_is_the_granted_view(site):
    before = len(audit(site, actor="rsj.analyst", channel="download"))
    headers, body = download(site, "csv", "rsj.analyst")
    assert headers["content-type"].startswith("text/csv")
    disposition = headers["content-disposition"]
    assert 'filename="dibao.csv"' in disposition
    assert "filename*=UTF-8''" + urllib.parse.quote("城乡低保对象.csv") in disposition
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))
    assert rows[0] == list(GRANTED)
    expected = lake_view(site["workspace"], "dibao", GRANTED, DIBAO_PII)
    assert len(rows) - 1 == len(expected)
    assert digest(rows[1:]) == digest(expected)
    # Recorded once, after the stream: the rows sent, complete.
    found = audit(site, actor="rsj.analyst", channel="download")
    assert len(found) == before + 1
    assert found[0]["rows"] == len(expected)
    assert found[0]["detail"]["format"] == "csv"
    assert found[0]["detail"]["complete"] is True
    assert found[0]["grant_id"] == site["grant"]


def test_excel_download_is_the_granted_view(site, tmp_path):
    headers, body = download(site, "xlsx", "rsj.analyst")
    assert headers["content-type"].startswith("application/vnd.openxmlformats")
    path = tmp_path / "dibao.xlsx"
    path.write_bytes(body)
    sheet = CalamineWorkbook.from_path(str(path)).get_sheet_by_name("数据").to_python()
    assert sheet[0] == list(GRANTED)
    rows = [[a, b, "" if c == "" else int(c)] for a, b, c in sheet[1:]]
    expected = lake_view(site["workspace"], "dibao", GRANTED, DIBAO_PII)
    assert len(rows) == len(expected)
    assert digest(rows) == digest(expected)


def test_parquet_download_of_open_data_anonymously(site, tmp_path):
    before = len(audit(site, actor="anonymous", channel="download", dataset="clinics"))
    _, body = download(site, "parquet", None, dataset="clinics")
    path = tmp_path / "clinics.parquet"
    path.write_bytes(body)
    table = pq.read_table(path)
    assert table.column_names == list(CLINICS)
    assert table.num_rows == CLINIC_ROWS
    expected = lake_view(site["workspace"], "clinics", CLINICS, ("phone",))
    assert [list(r.values()) for r in table.to_pylist()] == expected
    after = audit(site, actor="anonymous", channel="download", dataset="clinics")
    assert len(after) == before + 1
    assert after[0]["rows"] == CLINIC_ROWS


def test_a_download_broken_off_is_recorded_with_the_rows_sent(site):
    """The client reads the first bytes and goes away: the audit still gets one row, with
    the rows read so far and complete false."""
    import http.client
    import time

    before = len(audit(site, actor="anonymous", channel="download", dataset="notes"))
    host, port = urllib.parse.urlsplit(site["base"]).netloc.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    connection.request("GET", "/api/data/notes/download.csv")
    response = connection.getresponse()
    assert response.status == 200
    assert response.read(1000).startswith(b"\xef\xbb\xbf")
    connection.sock.close()
    connection.close()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        found = audit(site, actor="anonymous", channel="download", dataset="notes")
        if len(found) > before:
            break
        time.sleep(0.2)
    assert len(found) == before + 1
    assert found[0]["detail"]["complete"] is False
    assert 0 < found[0]["rows"] < NOTES_ROWS


# --- the portal's entry page -------------------------------------------------------------
def page(site, code: str, login: str | None = None) -> tuple[int, str]:
    status, _, body = fetch(site, f"/entry/{code}", login)
    return status, body.decode()


def table_cells(html: str) -> list[str]:
    sample = html[html.index('id="sample"') :]
    return re.findall(r"<td>([^<]*)</td>", sample)


def test_the_entry_page_shows_a_grantee_its_masked_columns_and_audits_it(site):
    before = len(audit(site, actor="rsj.analyst", channel="portal"))
    status, html = page(site, DIBAO_CODE, "rsj.analyst")
    assert status == 200
    assert "低保资格复核" in html  # the grant's purpose as the basis
    cells = table_cells(html)
    assert "010*************14" in cells
    assert "张三" not in cells
    assert "1250.50" not in cells  # monthly_allowance is not granted
    assert 'href="/api/data/dibao/download.csv"' in html
    found = audit(site, actor="rsj.analyst", channel="portal")
    assert len(found) == before + 1
    assert found[0]["rows"] == len(ROSTER_ROWS)
    assert found[0]["entry_code"] == DIBAO_CODE


def test_the_entry_page_shows_the_owner_clear_values(site):
    status, html = page(site, DIBAO_CODE, "mzj.officer")
    assert status == 200
    assert "张三" in table_cells(html)
    assert "010101199003074514" in table_cells(html)
    assert 'id="apply"' not in html


def test_without_a_grant_the_entry_page_offers_to_apply(site):
    status, html = page(site, DIBAO_CODE, "rsj.other")
    assert status == 200
    assert table_cells(html) == []
    assert f'href="/sharing/apply/{DIBAO_CODE}"' in html
    assert "申请共享" in html
    assert "需提出共享申请" not in html


def test_a_closed_entry_says_why_and_offers_nothing(site):
    status, html = page(site, CLOSED_CODE, "rsj.other")
    assert status == 200
    assert CLOSED_BASIS in html[html.index('id="sample"') :]
    assert 'id="apply"' not in html


def test_anonymous_sees_open_data_masked_and_not_the_rest(site):
    status, html = page(site, CLINICS_CODE)
    assert status == 200
    cells = table_cells(html)
    assert "138******00" in cells
    assert "13800000000" not in html
    assert page(site, DIBAO_CODE)[0] == 404  # not open: as if it did not exist
    assert page(site, CLOSED_CODE)[0] == 404
    assert audit(site, actor="anonymous", channel="portal", dataset="clinics")


def test_anonymous_on_an_entry_open_on_request_is_asked_to_sign_in(site):
    status, html = page(site, ON_REQUEST_CODE)
    assert status == 200
    target = urllib.parse.quote(f"/sharing/apply/{ON_REQUEST_CODE}", safe="/")
    assert f'href="/login?next={target}"' in html
    assert "登录后申请" in html
    status, html = page(site, ON_REQUEST_CODE, "rsj.other")
    assert f'href="/sharing/apply/{ON_REQUEST_CODE}"' in html
