"""Catalogue export: every format written from a real workspace and read back."""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from pathlib import Path

import pytest
import rdflib
from python_calamine import CalamineWorkbook
from rdflib import Literal, Namespace, URIRef
from rdflib.collection import Collection

from catalog.directory import Directory, EntryRecord
from catalog.exporting import FORMATS, export_catalogue
from schemas.entry import CatalogueEntry, Organisation
from schemas.errors import InvalidInput
from warehouse.store.fields import ENTRY_FIELDS, ORGANISATION_FIELDS
from warehouse.workspace import Workspace

# Plain namespaces (not rdflib's closed ones): the tests spell out the IRIs they expect.
DCAT = Namespace("http://www.w3.org/ns/dcat#")
DCTERMS = Namespace("http://purl.org/dc/terms/")
FOAF = Namespace("http://xmlns.com/foaf/0.1/")
SKOS = Namespace("http://www.w3.org/2004/02/skos/core#")
VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")
XSD = Namespace("http://www.w3.org/2001/XMLSchema#")
MULU = Namespace("https://mulu.dev/ns#")
RDF_TYPE = URIRef("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
EU_FREQ = "http://publications.europa.eu/resource/authority/frequency/"
POLICE = "11340100MB0000000X"
# rdflib's own JSON-LD parser still builds a ConjunctiveGraph internally.
pytestmark = [
    pytest.mark.both_stores,
    pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated"),
]
TRICKY_SUMMARY = '含"引号"的摘要,带逗号\n第二行；还有分号;和 =SUM(A1)'

POPULATION = {
    "code": "101001/000001",
    "name": "人口基础信息库",
    "category_name": "人口",
    "provider_name": "某市公安局",
    "provider_code": POLICE,
    "summary": TRICKY_SUMMARY,
    "format_category": "数据库",
    "formats": ["xls", "csv", "api"],
    "data_items": [
        {"name": "姓名", "data_type": "C", "length": 50},
        {"name": "出生日期", "data_type": "D", "description": "公历"},
    ],
    "share_type": "有条件共享",
    "share_condition": "仅限政务用途",
    "share_method": "共享平台方式/接口",
    "open_type": "不予开放",
    "update_cycle": "每月",
    "published_at": "2023-05-08",
    "updated_at": "2024-01-15T09:30:00",
    "related_codes": ["101001/000002"],
    "theme": "公共安全",
    "tags": ["户籍", "常住人口"],
    "landing_page": "https://data.example.gov.cn/资源/1?a=b c",
}


@pytest.fixture
def directory(tmp_path: Path, store_dialect: str) -> Directory:
    directory = Directory.open(Workspace(tmp_path / "ws"), user="t")
    directory.add_organisations(
        [
            Organisation(
                code=POLICE,
                name="某市公安局",
                kind="区级部门",
                contact_name="张三",
                contact_phone="0551-1234 5678",
                contact_email="gaj@example.gov.cn",
            )
        ]
    )
    directory.create(POPULATION)
    directory.apply(
        [
            EntryRecord(
                {
                    "name": "社保参保信息",
                    "provider_name": "某市人社局",
                    "share_type": "无条件共享",
                    "update_cycle": "每半年",
                    "open_type": "无条件开放",
                    "tags": "社保;参保",
                    "summary": "",
                },
                source_key="hr-1",
            ),
            EntryRecord(
                {
                    "code": "201002/000001",
                    "name": "实时公交到站",
                    "provider_name": "某市交通局",
                    "share_type": "无条件共享",
                    "update_cycle": "实时",
                    "formats": ["json"],
                    "summary": "公交车辆实时位置",
                    "updated_at": "2024-03-01T08:00:00",
                }
            ),
        ],
        source="test",
    )
    retired = directory.create(
        {
            "code": "101001/000009",
            "name": "已撤销的资源",
            "provider_name": "某市公安局",
            "provider_code": POLICE,
            "share_type": "不予共享",
        }
    )
    directory.retire(retired, reason="merged")
    yield directory
    directory.close()


def export(directory: Directory, tmp_path: Path, fmt: str, **kwargs) -> tuple[int, Path]:
    out = tmp_path / "out" / f"catalogue.{fmt}"
    return export_catalogue(directory, fmt, out, **kwargs), out


def titles() -> list[str]:
    return [CatalogueEntry.model_fields[name].title for name in ENTRY_FIELDS]


# --- CSV ----------------------------------------------------------------------------------
def test_csv_has_bom_chinese_header_and_values(directory, tmp_path):
    count, out = export(directory, tmp_path, "csv")
    assert count == 3
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")
    with out.open(encoding="utf-8-sig", newline="") as fh:
        header, *rows = list(csv.reader(fh))
    assert header == titles()
    assert header[:5] == [
        "信息资源代码",
        "信息资源名称",
        "信息资源分类名称",
        "信息资源提供方代码",
        "信息资源提供方",
    ]
    assert {"共享类型", "更新周期", "发布日期", "最近更新时间", "信息项信息"} <= set(header)
    assert len(rows) == 3
    row = dict(zip(header, rows[0], strict=True))
    assert row["信息资源代码"] == "101001/000001"
    assert row["信息资源摘要"] == TRICKY_SUMMARY  # commas, quotes, newline survive
    assert row["信息资源格式类型"] == "xls;csv;api"
    assert row["信息项信息"] == "姓名:字符型(50);出生日期:日期型"
    assert row["标签"] == "户籍;常住人口"
    assert row["共享类型"] == "有条件共享"
    assert row["更新周期"] == "每月"
    assert row["发布日期"] == "2023-05-08"
    assert row["最近更新时间"] == "2024-01-15T09:30:00"
    assert row["资源页面"] == POPULATION["landing_page"]
    hr = next(dict(zip(header, r, strict=True)) for r in rows if r[1] == "社保参保信息")
    assert hr["信息资源提供方代码"].startswith("L")  # local code allocated for the provider
    assert hr["发布日期"] == ""
    assert hr["信息项信息"] == ""


def test_csv_excludes_retired_unless_asked(directory, tmp_path):
    _, out = export(directory, tmp_path, "csv")
    assert "已撤销的资源" not in out.read_text(encoding="utf-8-sig")
    count, out = export(directory, tmp_path, "csv", include_retired=True)
    assert count == 4
    with out.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["状态"] for r in rows if r["信息资源名称"] == "已撤销的资源"] == ["retired"]


# --- Excel --------------------------------------------------------------------------------
def test_xlsx_has_both_sheets_read_back(directory, tmp_path):
    count, out = export(directory, tmp_path, "xlsx")
    assert count == 3
    book = CalamineWorkbook.from_path(str(out))
    assert book.sheet_names == ["信息资源目录", "提供方"]
    header, *rows = book.get_sheet_by_name("信息资源目录").to_python()
    assert header == titles()
    assert len(rows) == 3
    row = dict(zip(header, rows[0], strict=True))
    assert row["信息资源名称"] == "人口基础信息库"
    assert row["信息资源摘要"] == TRICKY_SUMMARY  # "=SUM(A1)" stays text, not a formula
    assert row["信息项信息"] == "姓名:字符型(50);出生日期:日期型"
    assert row["发布日期"] == dt.date(2023, 5, 8)
    assert row["最近更新时间"] == dt.datetime(2024, 1, 15, 9, 30)
    assert row["资源页面"] == POPULATION["landing_page"]
    assert row["信息资源格式类型"] == "xls;csv;api"

    org_header, *org_rows = book.get_sheet_by_name("提供方").to_python()
    assert org_header == [Organisation.model_fields[f].title for f in ORGANISATION_FIELDS]
    assert org_header[:2] == ["提供方代码", "提供方名称"]
    orgs = {r[0]: dict(zip(org_header, r, strict=True)) for r in org_rows}
    assert orgs[POLICE]["提供方名称"] == "某市公安局"
    assert orgs[POLICE]["联系电话"] == "0551-1234 5678"
    assert {"某市人社局", "某市交通局"} <= {o["提供方名称"] for o in orgs.values()}


def test_xlsx_keeps_formula_like_text_as_text(directory, tmp_path):
    directory.create(
        {
            "code": "101001/000003",
            "name": "=1+1",
            "provider_name": "某市公安局",
            "provider_code": POLICE,
            "share_type": "无条件共享",
            "summary": '=HYPERLINK("https://evil.example","点击")',
        }
    )
    _, out = export(directory, tmp_path, "xlsx")
    rows = CalamineWorkbook.from_path(str(out)).get_sheet_by_name("信息资源目录").to_python()
    row = next(r for r in rows if r[0] == "101001/000003")
    assert row[1] == "=1+1"
    assert row[ENTRY_FIELDS.index("summary")] == '=HYPERLINK("https://evil.example","点击")'


# --- JSON ---------------------------------------------------------------------------------
def test_json_entries_validate_against_the_model(directory, tmp_path):
    count, out = export(directory, tmp_path, "json")
    document = json.loads(out.read_text(encoding="utf-8"))
    assert set(document) == {"entries", "organisations"}
    assert count == len(document["entries"]) == 3
    first = document["entries"][0]
    assert list(first) == list(ENTRY_FIELDS)
    assert first["name"] == "人口基础信息库"
    assert first["published_at"] == "2023-05-08"
    assert first["updated_at"] == "2024-01-15T09:30:00"
    assert first["data_items"][1] == {
        "name": "出生日期",
        "data_type": "日期型",
        "length": None,
        "description": "公历",
    }
    for entry in document["entries"]:
        CatalogueEntry.model_validate(entry)  # the export reads back as entries
    assert "人口基础信息库" in out.read_text(encoding="utf-8")  # ensure_ascii=False
    orgs = {o["code"]: o for o in document["organisations"]}
    assert orgs[POLICE]["contact_name"] == "张三"
    assert list(orgs[POLICE]) == list(ORGANISATION_FIELDS)


# --- DCAT ---------------------------------------------------------------------------------
def parse(out: Path) -> rdflib.Graph:
    return rdflib.Graph().parse(out, format="json-ld")


def test_dcat_parses_with_a_dataset_per_entry(directory, tmp_path):
    count, out = export(directory, tmp_path, "dcat")
    graph = parse(out)
    datasets = set(graph.subjects(RDF_TYPE, DCAT.Dataset))
    assert count == len(datasets) == 3
    catalogue = next(graph.subjects(RDF_TYPE, DCAT.Catalog))
    assert set(graph.objects(catalogue, DCAT.dataset)) == datasets
    # No IRI may have been resolved against the file's location.
    assert not [t for t in graph for term in t if str(term).startswith("file:")]


def test_dcat_dataset_properties(directory, tmp_path):
    _, out = export(directory, tmp_path, "dcat")
    graph = parse(out)
    ds = URIRef("urn:mulu:entry:101001/000001")
    assert graph.value(ds, DCTERMS.identifier) == Literal("101001/000001")
    assert graph.value(ds, DCTERMS.title) == Literal("人口基础信息库", lang="zh")
    assert graph.value(ds, DCTERMS.description) == Literal(TRICKY_SUMMARY, lang="zh")
    assert graph.value(ds, DCTERMS.issued) == Literal("2023-05-08", datatype=XSD.date)
    assert graph.value(ds, DCTERMS.modified) == Literal(
        "2024-01-15T09:30:00+08:00", datatype=XSD.dateTime
    )
    publisher = graph.value(ds, DCTERMS.publisher)
    assert (publisher, RDF_TYPE, FOAF.Organization) in graph
    assert graph.value(publisher, FOAF.name) == Literal("某市公安局", lang="zh")
    assert graph.value(publisher, DCTERMS.identifier) == Literal(POLICE)
    assert set(graph.objects(ds, DCTERMS.accrualPeriodicity)) == {
        URIRef(EU_FREQ + "MONTHLY"),
        Literal("R/P1M"),
    }
    assert set(graph.objects(ds, DCAT.keyword)) == {
        Literal("户籍", lang="zh"),
        Literal("常住人口", lang="zh"),
    }
    theme_labels = {graph.value(t, SKOS.prefLabel) for t in graph.objects(ds, DCAT.theme)}
    assert theme_labels == {Literal("公共安全", lang="zh"), Literal("人口", lang="zh")}
    assert graph.value(ds, DCTERMS.accessRights) == URIRef(
        "http://publications.europa.eu/resource/authority/access-right/NON_PUBLIC"
    )
    landing = graph.value(ds, DCAT.landingPage)
    assert landing == URIRef("https://data.example.gov.cn/%E8%B5%84%E6%BA%90/1?a=b%20c")
    formats = {graph.value(d, DCTERMS["format"]) for d in graph.objects(ds, DCAT.distribution)}
    assert formats == {
        URIRef("http://publications.europa.eu/resource/authority/file-type/XLS"),
        URIRef("http://publications.europa.eu/resource/authority/file-type/CSV"),
        Literal("api"),
    }
    assert graph.value(ds, DCTERMS.relation) == URIRef("urn:mulu:entry:101001/000002")
    assert graph.value(ds, MULU.shareType) == Literal("有条件共享")
    assert graph.value(ds, MULU.shareCondition) == Literal("仅限政务用途")
    assert graph.value(ds, MULU.classification) == Literal("101001")
    items = list(Collection(graph, graph.value(ds, MULU.dataItem)))
    assert [str(graph.value(i, MULU.itemName)) for i in items] == ["姓名", "出生日期"]
    assert graph.value(items[0], MULU.length).toPython() == 50
    contact = graph.value(ds, DCAT.contactPoint)
    assert graph.value(contact, VCARD.hasEmail) == URIRef("mailto:gaj@example.gov.cn")


def test_dcat_keeps_an_entry_spelling_of_its_provider(directory, tmp_path):
    directory.create(
        {
            "code": "101001/000004",
            "name": "户籍迁移记录",
            "provider_name": "市公安局",
            "provider_code": POLICE,
            "share_type": "有条件共享",
        }
    )
    _, out = export(directory, tmp_path, "dcat")
    graph = parse(out)
    ds = URIRef("urn:mulu:entry:101001/000004")
    publisher = graph.value(ds, DCTERMS.publisher)
    assert publisher == URIRef(f"urn:mulu:org:{POLICE}")
    assert list(graph.objects(publisher, FOAF.name)) == [Literal("某市公安局", lang="zh")]
    assert graph.value(ds, MULU.providerName) == Literal("市公安局")
    population = URIRef("urn:mulu:entry:101001/000001")
    assert graph.value(population, MULU.providerName) is None


def test_dcat_frequencies_for_half_year_and_real_time(directory, tmp_path):
    _, out = export(directory, tmp_path, "jsonld")  # alias of dcat
    graph = parse(out)

    def periodicity(name: str) -> set:
        ds = next(graph.subjects(DCTERMS.title, Literal(name, lang="zh")))
        return set(graph.objects(ds, DCTERMS.accrualPeriodicity))

    assert periodicity("社保参保信息") == {URIRef(EU_FREQ + "ANNUAL_2"), Literal("R/P6M")}
    assert periodicity("实时公交到站") == {URIRef(EU_FREQ + "UPDATE_CONT"), Literal("R/PT1S")}


def test_dcat_retired_only_when_asked(directory, tmp_path):
    retired = URIRef("urn:mulu:entry:101001/000009")
    _, out = export(directory, tmp_path, "dcat")
    assert (retired, RDF_TYPE, DCAT.Dataset) not in parse(out)
    count, out = export(directory, tmp_path, "dcat", include_retired=True)
    graph = parse(out)
    assert count == 4
    assert graph.value(retired, MULU.status) == Literal("retired")


# --- all formats --------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", FORMATS)
def test_empty_catalogue_exports(tmp_path, fmt):
    directory = Directory.open(Workspace(tmp_path / "empty"), user="t")
    try:
        count, out = export(directory, tmp_path, fmt)
    finally:
        directory.close()
    assert count == 0
    assert out.exists()
    if fmt == "dcat":
        assert len(set(parse(out).subjects(RDF_TYPE, DCAT.Catalog))) == 1
    if fmt == "json":
        assert json.loads(out.read_text(encoding="utf-8")) == {"entries": [], "organisations": []}


def test_unknown_format_is_rejected(directory, tmp_path):
    out = tmp_path / "catalogue.ods"
    with pytest.raises(InvalidInput, match="csv, xlsx, json, dcat"):
        export_catalogue(directory, "ods", out)
    assert not out.exists()


def test_no_partial_file_left_behind(directory, tmp_path):
    count, out = export(directory, tmp_path, "csv")
    assert [p.name for p in out.parent.iterdir()] == [out.name]


# --- dates: time of day and precision survive every format ---------------------------------
# (updated_at as a source writes it, stored value, stored precision)
UPDATED_FORMS = [
    ("2023", "2023-01-01T00:00:00", "year"),
    ("2023-05", "2023-05-01T00:00:00", "month"),
    ("2023-05-08", "2023-05-08T00:00:00", "day"),
    ("2023-05-08T14:30", "2023-05-08T14:30:00", "minute"),
    ("2023-05-08T14:30:05", "2023-05-08T14:30:05", None),
    ("2023-05-08T00:00:00", "2023-05-08T00:00:00", None),  # midnight, stated to the second
    ("2023-05-08T00:00", "2023-05-08T00:00:00", "minute"),
    ("2022-09-14T16:33Z", "2022-09-15T00:33:00", "minute"),  # UTC, next day in Shanghai
    ("2023年5月8日 9时5分", "2023-05-08T09:05:00", "minute"),
    ("1890-01-01T10:00:00", "1890-01-01T10:00:00", None),  # before Excel's calendar
]
PUBLISHED_FORMS = [
    ("2021", "2021-01-01", "year"),
    ("2021-03", "2021-03-01", "month"),
    ("2021-03-04", "2021-03-04", None),
    ("1895-06-01", "1895-06-01", None),
    (None, None, None),
]
VARIED_COUNT = 300
XSD_LEXICAL = {  # the lexical spaces of XML Schema 1.1 part 2, without time zones
    XSD.gYear: re.compile(r"^-?([1-9][0-9]{3,}|0[0-9]{3})$"),
    XSD.gYearMonth: re.compile(r"^-?([1-9][0-9]{3,}|0[0-9]{3})-(0[1-9]|1[0-2])$"),
}


def varied_fields(index: int) -> dict:
    """An entry whose dates take every form in turn, at a different time of day each."""
    updated = UPDATED_FORMS[index % len(UPDATED_FORMS)][0]
    if index % 3 == 0 and updated.endswith(":05"):
        updated = f"2024-{1 + index % 12:02d}-{1 + index % 28:02d}T{index % 24:02d}:{index % 60:02d}:{(index * 7) % 60:02d}"
    return {
        "code": f"101001/{index + 1:06d}",
        "name": f"资源{index}",
        "provider_name": f"某市第{index % 5}局",
        "share_type": "无条件共享",
        "published_at": PUBLISHED_FORMS[index % len(PUBLISHED_FORMS)][0],
        "updated_at": None if index % 17 == 0 else updated,
    }


@pytest.fixture
def varied(tmp_path: Path, store_dialect: str):
    workspace = Workspace(tmp_path / "varied")
    directory = Directory.open(workspace, user="t")
    result = directory.apply(
        [EntryRecord(varied_fields(i)) for i in range(VARIED_COUNT)], source="test"
    )
    assert (result.created, result.errors) == (VARIED_COUNT, [])
    yield directory, workspace
    directory.close()


def stored(directory: Directory) -> dict[str, tuple]:
    """Every entry's values, precisions and version, by code."""
    return {
        e["code"]: tuple(e.get(name) for name in (*ENTRY_FIELDS, "version", "modified_at"))
        for e in directory.iter_entries()
    }


def test_every_date_form_is_stored_with_its_precision(varied):
    directory, _ = varied
    entries = {e["code"]: e for e in directory.iter_entries()}
    for index in range(len(UPDATED_FORMS) * 2):
        entry = entries[f"101001/{index + 1:06d}"]
        if index % 17 == 0 or (index % 3 == 0 and index % len(UPDATED_FORMS) == 4):
            continue
        _, value, precision = UPDATED_FORMS[index % len(UPDATED_FORMS)]
        assert (entry["updated_at"], entry["updated_precision"]) == (value, precision)
        _, published, published_precision = PUBLISHED_FORMS[index % len(PUBLISHED_FORMS)]
        assert (entry["published_at"], entry["published_precision"]) == (
            published,
            published_precision,
        )


@pytest.mark.parametrize("fmt", ["csv", "json", "xlsx"])
def test_reimporting_an_export_changes_nothing(varied, tmp_path, fmt):
    from catalog.importing.importer import import_file

    directory, workspace = varied
    before = stored(directory)
    count, out = export(directory, tmp_path, fmt)
    assert count == VARIED_COUNT
    report = import_file(directory, workspace, out)
    assert report.mapping == ("mulu-json" if fmt == "json" else "mulu-table")
    assert (report.created, report.updated, report.rejected) == (0, 0, 0), report.problems[:3]
    assert report.unchanged == VARIED_COUNT
    assert stored(directory) == before


def test_exports_write_dates_to_their_precision(varied, tmp_path):
    directory, _ = varied
    _, out = export(directory, tmp_path, "csv")
    with out.open(encoding="utf-8-sig", newline="") as fh:
        rows = {r["信息资源代码"]: r for r in csv.DictReader(fh)}
    cells = [(r["最近更新时间"], r["最近更新时间精度"]) for r in rows.values()]
    for text, precision in (
        ("2023", "year"),
        ("2023-05", "month"),
        ("2023-05-08", "day"),
        ("2023-05-08T14:30", "minute"),
        ("2022-09-15T00:33", "minute"),
        ("2023-05-08T14:30:05", ""),  # to the second: no precision written
    ):
        assert (text, precision) in cells
    assert ("2023-05-08T00:00:00", "") in cells  # midnight to the second keeps its seconds
    assert rows["101001/000001"]["发布日期"] == "2021"
    assert rows["101001/000001"]["发布日期精度"] == "year"

    _, out = export(directory, tmp_path, "xlsx")
    header, *values = (
        CalamineWorkbook.from_path(str(out)).get_sheet_by_name("信息资源目录").to_python()
    )
    sheet = {r[0]: dict(zip(header, r, strict=True)) for r in values}
    assert sheet["101001/000004"]["最近更新时间"] == dt.datetime(2023, 5, 8, 14, 30)
    assert sheet["101001/000004"]["最近更新时间精度"] == "minute"
    assert sheet["101001/000002"]["最近更新时间"] == "2023-05"  # text: Excel has no month cell
    assert sheet["101001/000006"]["最近更新时间精度"] == "second"  # always filled in Excel
    assert sheet["101001/000010"]["最近更新时间"] == "1890-01-01T10:00:00"  # before 1900: text


@pytest.mark.slow
def test_dcat_dates_are_valid_xsd_at_their_precision(varied, tmp_path):
    directory, _ = varied
    for fmt in ("dcat", "ttl"):
        out = tmp_path / "out" / f"catalogue.{fmt}"
        export_catalogue(directory, "jsonld" if fmt == "dcat" else fmt, out)
        graph = parse(out) if fmt == "dcat" else rdflib.Graph().parse(out, format="turtle")
        literals = [o for p in (DCTERMS.issued, DCTERMS.modified) for o in graph.objects(None, p)]
        assert len(literals) > VARIED_COUNT
        types = {literal.datatype for literal in literals}
        assert types == {XSD.gYear, XSD.gYearMonth, XSD.date, XSD.dateTime}
        for literal in literals:
            # rdflib checks date and dateTime itself; it has no parser for gYear/gYearMonth.
            lexical = XSD_LEXICAL.get(literal.datatype)
            assert literal.ill_typed is False if lexical is None else lexical.match(literal)
            if literal.datatype == XSD.dateTime:
                assert str(literal).endswith("+08:00"), literal  # never +08:05:43
                assert literal.value.utcoffset() == dt.timedelta(hours=8)
        modified = {
            str(s).rsplit("/", 1)[-1]: str(o) for s, o in graph.subject_objects(DCTERMS.modified)
        }
        assert "000001" not in modified  # no 最近更新时间: no dct:modified
        assert modified["000002"] == "2023-05"
        assert modified["000003"] == "2023-05-08"
        assert modified["000004"] == "2023-05-08T14:30:00+08:00"
        assert modified["000008"] == "2022-09-15T00:33:00+08:00"
        assert modified["000010"] == "1890-01-01T10:00:00+08:00"


def test_source_dates_import_at_their_precision(tmp_path):
    """A DCAT-US data.json: a year-only modified stays a year (it became 1970-01-01T08:33:43),
    a UTC time moves to the Shanghai day (it was cut to the UTC date), and a DCAT export of
    the result reads back the same."""
    from catalog.importing.importer import import_file

    datasets = [
        ("2023", "2021-06"),
        ("2022-09-14T16:33Z", "2021-06-01"),
        ("2024-02-22T12:25:27-05:00", None),
        ("2023-05-08", "2020"),
    ]
    document = {
        "conformsTo": "https://project-open-data.cio.gov/v1.1/schema",
        "dataset": [
            {
                "identifier": f"ds-{index}",
                "title": f"Dataset {index}",
                "description": "d",
                "publisher": {"name": "Agency"},
                "accessLevel": "public",
                "modified": modified,
                **({"issued": issued} if issued else {}),
            }
            for index, (modified, issued) in enumerate(datasets)
        ],
    }
    path = tmp_path / "data.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    workspace = Workspace(tmp_path / "ws")
    directory = Directory.open(workspace, user="t")
    try:
        report = import_file(directory, workspace, path)
        assert (report.created, report.rejected) == (4, 0), report.problems[:3]
        found = {
            e["name"]: (
                e["updated_at"],
                e["updated_precision"],
                e["published_at"],
                e["published_precision"],
            )
            for e in directory.iter_entries()
        }
        assert found == {
            "Dataset 0": ("2023-01-01T00:00:00", "year", "2021-06-01", "month"),
            "Dataset 1": ("2022-09-15T00:33:00", "minute", "2021-06-01", None),
            "Dataset 2": ("2024-02-23T01:25:27", None, None, None),
            "Dataset 3": ("2023-05-08T00:00:00", "day", "2020-01-01", "year"),
        }
        count, out = export(directory, tmp_path, "dcat")
        modified = sorted(str(o) for o in parse(out).objects(None, DCTERMS.modified))
        assert modified == [
            "2022-09-15T00:33:00+08:00",
            "2023",
            "2023-05-08",
            "2024-02-23T01:25:27+08:00",
        ]
    finally:
        directory.close()


# accrualPeriodicity as the DCAT-US v1.1 schema allows it (ISO 8601 repeating duration)
DCAT_US_PERIODICITY = re.compile(
    r"^R/P(?:\d+(?:\.\d+)?Y)?(?:\d+(?:\.\d+)?M)?(?:\d+(?:\.\d+)?W)?(?:\d+(?:\.\d+)?D)?"
    r"(?:T(?:\d+(?:\.\d+)?H)?(?:\d+(?:\.\d+)?M)?(?:\d+(?:\.\d+)?S)?)?$|^irregular$"
)


def test_dcat_us_shaped_literals_are_valid(directory, tmp_path):
    cycles = [
        "实时",
        "每日",
        "每周",
        "每月",
        "每季度",
        "每半年",
        "每年",
        "不定期",
        "每2日",
        "每3小时",
    ]
    directory.apply(
        [
            EntryRecord(
                {
                    "code": f"101001/{900 + index:06d}",
                    "name": f"周期{cycle}",
                    "provider_name": "某市公安局",
                    "share_type": "无条件共享",
                    "update_cycle": cycle,
                }
            )
            for index, cycle in enumerate(cycles)
        ],
        source="test",
    )
    _, out = export(directory, tmp_path, "dcat")
    literals = [
        str(o)
        for o in parse(out).objects(None, DCTERMS.accrualPeriodicity)
        if isinstance(o, Literal)
    ]
    assert len(literals) >= len(cycles)
    assert [text for text in literals if not DCAT_US_PERIODICITY.match(text)] == []
