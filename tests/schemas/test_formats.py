"""信息资源格式类型: one vocabulary (MIME types to names, case folded, spellings), and the entry
model listing each format once."""

from __future__ import annotations

import pytest

from schemas.entry import CatalogueEntry
from schemas.formats import FORMAT_NAMES, MIME_FORMATS, normalise_format


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("CSV", "csv"),
        ("csv", "csv"),
        ("ＣＳＶ", "csv"),
        (".csv", "csv"),
        (" JSON ", "json"),
        ("[CSV", "csv"),
        ("XML]", "xml"),
        ("'xls'", "xls"),
        ("text/csv", "csv"),
        ("text/csv; charset=utf-8", "csv"),
        ("TEXT/CSV;charset=GBK", "csv"),
        ("application/json", "json"),
        ("application/vnd.ms-excel", "xls"),
        ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
        ("application/zip", "zip"),
        ("text/html", "html"),
        ("application/xml", "xml"),
        ("text/xml", "xml"),
        ("application/pdf", "pdf"),
        ("application/vnd.google-earth.kml+xml", "kml"),
        ("application/geo+json", "geojson"),
        ("application/x-esri-shapefile", "shp"),
        ("application/rss+xml", "rss"),
        ("application/vnd.example+json", "json"),
        ("Excel", "xls"),
        ("Word", "doc"),
        ("API", "api"),
        ("接口", "api"),
        ("REST API", "api"),
        ("Web Service", "api"),
        ("JPEG", "jpg"),
        ("Shapefile", "shp"),
        ("RDF/XML", "rdf"),
        ("xls格式", "xls"),
        ("CSV文件", "csv"),
        ("Esri REST", "esri rest"),
        ("文件", "文件"),
        ("数据库", "数据库"),
        ("application/x-unknown", "application/x-unknown"),
        ("xlsw", "xlsw"),
        ("", ""),
        ("  ", ""),
    ],
)
def test_normalise_format(raw, name):
    assert normalise_format(raw) == name


def test_every_mime_type_maps_to_a_known_name():
    assert set(MIME_FORMATS.values()) - {"bin"} <= FORMAT_NAMES
    assert all(name == name.lower() and "/" not in name for name in MIME_FORMATS.values())


def test_entry_lists_each_format_once_in_the_catalogue_vocabulary():
    entry = CatalogueEntry.model_validate(
        {
            "code": "101001/000001",
            "name": "人口基本信息",
            "provider_name": "区公安分局",
            "share_type": "有条件共享",
            "formats": ["CSV", "text/csv", "csv", "application/json", "JSON", " ", "Excel", "xls"],
        }
    )
    assert entry.formats == ["csv", "json", "xls"]
