"""Mapping transforms: lists (bracketed, quoted, Chinese separators, placeholders), which transform
splits on what, and DCAT-US distributions' formats — on small cases and the real exports."""

from __future__ import annotations

import json
import time
from collections import Counter

import pytest

from catalog.importing.draft_values import dcat_access, guess_share_type
from catalog.importing.mapping import resolve_mapping
from catalog.importing.transforms import (
    TRANSFORMS,
    distribution_formats,
    is_placeholder,
    to_lines,
    to_list,
    to_semicolon_list,
)
from schemas import placeholders
from schemas.entry import CatalogueEntry
from schemas.formats import format_from_path, normalise_format

BASE = {
    "code": "101001/000001",
    "name": "人口基本信息",
    "provider_name": "区公安分局",
    "share_type": "有条件共享",
}


@pytest.mark.parametrize(
    ("raw", "items"),
    [
        ("[xml,xls,csv,json]", ["xml", "xls", "csv", "json"]),
        ("[XML, CSV]", ["XML", "CSV"]),
        ("['xls', 'api']", ["xls", "api"]),
        ('["a","b"]', ["a", "b"]),
        ("【a，b】", ["a", "b"]),
        ("［a、b］", ["a", "b"]),
        ("[xml, 'csv'", ["xml", "csv"]),  # cut short: stray bracket still dropped
        ("[]", []),
        ("农业、水利", ["农业", "水利"]),
        ("a，b,c", ["a", "b", "c"]),
        ("a;b；c", ["a", "b", "c"]),
        ("a|b｜c", ["a", "b", "c"]),
        ("a\nb\r\n\tc", ["a", "b", "c"]),
        ("xls/csv/json", ["xls", "csv", "json"]),
        ("XLS / CSV", ["XLS", "CSV"]),
        ("text/csv", ["text/csv"]),
        ("text/csv, application/json", ["text/csv", "application/json"]),
        ("text/csv; charset=utf-8", ["text/csv"]),  # parameters dropped, not split off
        ("text/csv;charset=UTF-8;header=present, xls", ["text/csv", "xls"]),
        ("RDF/XML", ["RDF/XML"]),
        ("2023/5/8", ["2023/5/8"]),
        ("教育/培训", ["教育/培训"]),
        ("“统计”、‘金融’", ["统计", "金融"]),
        ("csv, 暂无, null, -", ["csv"]),
        (["x", " ", "NULL", ["y"]], ["x", "y"]),
        (
            ["公共管理、社会保障和社会组织"],
            ["公共管理、社会保障和社会组织"],
        ),  # a list stays as given
        (None, []),
        (7, ["7"]),
    ],
)
def test_list_splits(raw, items):
    assert to_list(raw) == items


@pytest.mark.parametrize(
    "value", ["暂无", "无", "-", "/", "null", "NULL", "N/A", "none", "－", " "]
)
def test_placeholders_mean_empty(value):
    assert is_placeholder(value)
    assert to_list(value) == []
    assert to_lines(value) == []
    assert to_semicolon_list(value) == []


def test_real_values_are_not_placeholders():
    for value in ("无条件共享", "每月", "0", "na", "文件", "-1"):
        assert not is_placeholder(value)
    assert is_placeholder(None)


def test_one_placeholder_list_and_long_text_is_not_normalised():
    assert is_placeholder is placeholders.is_placeholder  # one word list in the codebase
    assert is_placeholder("  ＮＵＬＬ\u3000")  # full-width, NFKC-folded
    assert is_placeholder("（空）")
    summary = "苏州市住房和城乡建设局房地产开发企业资质核定数据" * 20  # a ~500-character 描述
    assert not is_placeholder(summary)
    started = time.perf_counter()
    for _ in range(10_000):
        is_placeholder(summary)
    # A strip and a length check, not NFKC over 500 characters (59 µs a call before).
    assert (time.perf_counter() - started) / 10_000 < 20e-6


def test_lines_and_semicolons_keep_the_enumeration_comma_inside_a_name():
    # 六安's 标签: one tag per line, and 、 inside the industry name
    assert to_lines("商贸流通\r\n\t公共管理、社会保障和社会组织\r\n\t暂无") == [
        "商贸流通",
        "公共管理、社会保障和社会组织",
    ]
    assert to_semicolon_list("农、林、牧、渔业;a,b") == ["农、林、牧、渔业", "a,b"]
    assert to_list("农、林、牧、渔业") == ["农", "林", "牧", "渔业"]


def test_distribution_formats_takes_each_distributions_own_format():
    distributions = [
        {"format": "API"},
        {"mediaType": "text/csv"},  # dropped before when another had a format
        {"format": "暂无", "mediaType": "application/json; charset=utf-8"},
        {"downloadURL": "https://x.gov/files/Report%202020.PDF?v=2"},
        {"accessURL": "https://x.gov/agency/page"},  # a landing page: no format to take
        {"format": "CSV", "mediaType": "text/csv"},
    ]
    assert distribution_formats(distributions) == [
        "API",
        "text/csv",
        "application/json",
        "pdf",
        "CSV",
    ]
    assert distribution_formats(None) == []
    assert distribution_formats({"mediaType": "application/zip"}) == ["application/zip"]
    entry = CatalogueEntry.model_validate({**BASE, "formats": distribution_formats(distributions)})
    assert entry.formats == ["api", "csv", "json", "pdf"]


def test_url_extensions_name_formats_only_when_known():
    assert format_from_path("https://www.dol.gov/sites/dolgov/files/WB/NDCP2022.xlsx") == "xlsx"
    assert format_from_path("https://gsa.gov/data.json") == "json"
    for url in ("http://www.gsa.gov/rwa", "https://x.gov/a.aspx", "www.example.gov", "", None):
        assert format_from_path(url) is None


def test_dcat_us_mapping_uses_distribution_formats():
    rule = resolve_mapping("dcat-us").fields["formats"]
    assert rule.sources == ["distribution"]
    assert rule.transform == "distribution_formats"
    assert TRANSFORMS["distribution_formats"] is distribution_formats


def _distribution_format(distribution):
    named = to_list(distribution.get("format")) or to_list(distribution.get("mediaType"))
    if named:
        return {normalise_format(n) for n in named}
    url = format_from_path(distribution.get("downloadURL")) or format_from_path(
        distribution.get("accessURL")
    )
    return {url} if url else set()


def test_every_real_dcat_us_distribution_contributes_its_format(real_data):
    facet: Counter[str] = Counter()
    contributed = 0
    for path in sorted((real_data / "dcat-us").glob("*.json")):
        for dataset in json.loads(path.read_text(encoding="utf-8"))["dataset"]:
            distributions = dataset.get("distribution") or []
            formats = CatalogueEntry.model_validate(
                {**BASE, "formats": distribution_formats(distributions)}
            ).formats
            for distribution in distributions:
                wanted = _distribution_format(distribution)
                assert wanted <= set(formats), (dataset["identifier"], distribution)
                contributed += bool(wanted)
            facet.update(formats)
    assert contributed == 473  # of 775: the rest name no format, type or extension
    assert not [f for f in facet if f.startswith("[") or f.endswith("]") or "/" in f]
    # one name per format: CSV, csv, text/csv are all csv
    assert {"csv", "xlsx", "json", "pdf", "html", "api"} <= set(facet)


def test_real_portal_format_lists_become_clean_formats(real_data):
    facet: Counter[str] = Counter()
    for path in sorted((real_data / "cn-portals").glob("*.json")):
        for record in json.loads(path.read_text(encoding="utf-8")):
            formats = CatalogueEntry.model_validate(
                {**BASE, "formats": to_list(record.get("数据格式"))}
            ).formats
            facet.update(formats)
    assert set(facet) == {
        "api",
        "xls",
        "xlsx",
        "pdf",
        "docx",
        "doc",
        "jpg",
        "json",
        "xml",
        "csv",
        "rdf",
    }


@pytest.mark.slow
def test_format_facet_after_importing_the_real_exports(directory, workspace, real_data):
    from catalog.importing.importer import import_file
    from catalog.search import search

    paths = sorted((real_data / "dcat-us").glob("*.json"))
    paths += sorted((real_data / "cn-portals").glob("*.json"))
    for path in paths:
        assert import_file(directory, workspace, path).rejected == 0
    facet = dict(search(directory.store, "", facet_limit=None).facets["format"])
    odd = [f for f in facet if f.startswith("[") or f.endswith("]") or "/" in f or "'" in f]
    assert odd == []
    # CSV, csv and text/csv are one format; so are Excel and application/vnd.ms-excel and xls
    assert {"CSV", "XLS", "XLSX", "JSON", "API", "PDF", "RDF"} <= set(facet)
    assert not {"EXCEL", "TEXT/CSV", "APPLICATION/JSON"} & set(facet)


def test_drafts_read_dcat_access_levels_from_the_shipped_mapping():
    shipped = resolve_mapping("dcat-us").fields["share_type"].values
    assert dcat_access() == shipped  # one list: the dcat-us mapping's
    assert guess_share_type("Restricted Public") == "有条件共享"
    assert guess_share_type("non-public") == "不予共享"
