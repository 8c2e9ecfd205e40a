"""信息资源格式类型 (formats): one vocabulary for the many ways sources write a format.

Catalogues write the same format as a file-type name (``CSV``, ``xlsx``), a MIME type
(``text/csv; charset=utf-8``), a product name (``Excel``) or a Chinese word (``接口``). The
catalogue keeps one lower-case name per format so that a facet counts ``CSV`` and ``text/csv``
as one format:

- text is NFKC-folded (full-width ``ＣＳＶ`` is ``csv``) and lower-cased; stray quotes and
  brackets at the edges (``[csv``, ``'xls'``) and a leading ``.`` (``.csv``) are dropped;
- a MIME type becomes the format's name (``application/vnd.ms-excel`` is ``xls``); its
  parameters (``; charset=utf-8``) are dropped; an unknown ``…+json`` / ``…+xml`` type is
  ``json`` / ``xml``; other unknown MIME types are kept, lower-cased;
- known spellings become the name (``Excel`` → ``xls``, ``Word`` → ``doc``, ``接口`` / ``REST
  API`` / ``web service`` → ``api``, ``jpeg`` → ``jpg``, ``shapefile`` → ``shp``); a name
  followed by 格式 or 文件 is the name (``xls格式`` → ``xls``);
- anything else is kept as written, lower-cased, spaces collapsed (``Esri REST`` →
  ``esri rest``, ``数据库``, ``文件``).

The source's own spelling is not lost: an import keeps the whole source record beside the entry.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import unquote, urlsplit

# MIME type (lower case, no parameters) -> format name.
MIME_FORMATS: dict[str, str] = {
    "text/csv": "csv",
    "application/csv": "csv",
    "text/comma-separated-values": "csv",
    "text/x-csv": "csv",
    "text/tab-separated-values": "tsv",
    "application/vnd.ms-excel": "xls",
    "application/excel": "xls",
    "application/x-excel": "xls",
    "application/x-msexcel": "xls",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "application/vnd.oasis.opendocument.spreadsheet": "ods",
    "application/json": "json",
    "text/json": "json",
    "application/x-json": "json",
    "application/ld+json": "jsonld",
    "application/geo+json": "geojson",
    "application/vnd.geo+json": "geojson",
    "application/xml": "xml",
    "text/xml": "xml",
    "application/rdf+xml": "rdf",
    "text/turtle": "ttl",
    "application/n-triples": "nt",
    "application/rss+xml": "rss",
    "application/atom+xml": "atom",
    "application/pdf": "pdf",
    "application/msword": "doc",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.oasis.opendocument.text": "odt",
    "application/vnd.ms-powerpoint": "ppt",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "pptx",
    "application/rtf": "rtf",
    "text/rtf": "rtf",
    "text/plain": "txt",
    "text/html": "html",
    "application/xhtml+xml": "html",
    "application/zip": "zip",
    "application/x-zip": "zip",
    "application/x-zip-compressed": "zip",
    "application/gzip": "gz",
    "application/x-gzip": "gz",
    "application/x-tar": "tar",
    "application/vnd.rar": "rar",
    "application/x-rar-compressed": "rar",
    "application/x-7z-compressed": "7z",
    "application/vnd.google-earth.kml+xml": "kml",
    "application/vnd.google-earth.kmz": "kmz",
    "application/gml+xml": "gml",
    "application/x-esri-shape": "shp",
    "application/x-esri-shapefile": "shp",
    "application/x-shapefile": "shp",
    "application/vnd.shp": "shp",
    "application/x-esri-geodatabase": "gdb",
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/gif": "gif",
    "image/tiff": "tiff",
    "image/svg+xml": "svg",
    "application/sql": "sql",
    "application/vnd.sqlite3": "sqlite",
    "application/x-netcdf": "nc",
    "application/octet-stream": "bin",
}

# Other spellings (folded, spaces kept) -> format name.
SPELLINGS: dict[str, str] = {
    "excel": "xls",
    "ms excel": "xls",
    "microsoft excel": "xls",
    "excel 2007": "xlsx",
    "word": "doc",
    "ms word": "doc",
    "msword": "doc",
    "api": "api",
    "接口": "api",
    "api接口": "api",
    "数据接口": "api",
    "服务接口": "api",
    "rest": "api",
    "rest api": "api",
    "restful": "api",
    "restful api": "api",
    "web api": "api",
    "web service": "api",
    "webservice": "api",
    "htm": "html",
    "web page": "html",
    "webpage": "html",
    "网页": "html",
    "text": "txt",
    "plain text": "txt",
    "jpeg": "jpg",
    "tif": "tiff",
    "shapefile": "shp",
    "esri shapefile": "shp",
    "geo json": "geojson",
    "json-ld": "jsonld",
    "json ld": "jsonld",
    "rdf/xml": "rdf",
    "rdf+xml": "rdf",
    "turtle": "ttl",
    "gzip": "gz",
    "tgz": "gz",
    "zipped": "zip",
}

# Names a file extension or a format field is taken as (file names, URLs).
FORMAT_NAMES: frozenset[str] = frozenset(
    {*MIME_FORMATS.values(), *SPELLINGS.values()} - {"bin"}
    | {"wms", "wfs", "gpx", "mp4", "mp3", "dbf", "mdb", "accdb", "dwg", "dxf", "ofd", "wps", "et"}
)

_EDGES = " \t\r\n'\"`[]【】()（）<>《》「」“”‘’"
_MIME = re.compile(r"^[a-z]+/[a-z0-9][a-z0-9.+_-]*$")
_SPACES = re.compile(r"\s+")
_CN_SUFFIX = re.compile(r"^(.+?)\s*(?:格式文件|格式|文件)$")
_EXTENSION = re.compile(r"\.([a-z0-9]{1,7})$")


def normalise_format(text: str) -> str:
    """The catalogue's name for one format value ("" for blank text)."""
    folded = unicodedata.normalize("NFKC", str(text)).strip(_EDGES).lower()
    folded = _SPACES.sub(" ", folded).lstrip(".*").strip(_EDGES)
    if not folded:
        return ""
    if folded in SPELLINGS:
        return SPELLINGS[folded]
    if "/" in folded:
        mime = folded.split(";", 1)[0].strip()
        if _MIME.match(mime):
            return _mime_format(mime)
    if (match := _CN_SUFFIX.match(folded)) and match.group(1) != folded:
        name = normalise_format(match.group(1))
        if name in FORMAT_NAMES:
            return name
    return folded


def _mime_format(mime: str) -> str:
    if mime in MIME_FORMATS:
        return MIME_FORMATS[mime]
    for suffix in ("json", "xml"):  # application/vnd.foo+json is JSON underneath
        if mime.endswith("+" + suffix):
            return suffix
    return mime


def format_from_path(url_or_name: str | None) -> str | None:
    """The format a file name or URL names by its extension (``…/report.PDF?x=1`` → pdf);
    None when it has none the vocabulary knows (``https://www.dol.gov/agencies``)."""
    if not url_or_name:
        return None
    path = unquote(urlsplit(str(url_or_name).strip()).path).lower()
    if path.endswith(".gz") and path[:-3].endswith(".tar"):
        return "gz"
    match = _EXTENSION.search(path.rsplit("/", 1)[-1])
    if match is None:
        return None
    name = normalise_format(match.group(1))
    return name if name in FORMAT_NAMES else None
