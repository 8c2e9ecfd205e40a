"""DCAT export: the catalogue as JSON-LD (DCAT 2 / DCAT-AP style); see docs/dcat-mapping.md.

One ``dcat:Catalog`` whose ``dcat:dataset`` list embeds a ``dcat:Dataset`` per entry. Providers,
their contact points and the theme concepts are written once each, after the catalogue, and
datasets refer to them by IRI. Fields DCAT has no term for use the ``mulu:`` namespace. The
@context is inline, so reading the file never needs the network.

``write_turtle`` writes the same graph as Turtle, straight from the same nodes, one dataset at
a time: memory stays flat whatever the catalogue's size (building it through rdflib's graph
took 3.8 GB and minutes at 35,700 entries).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from schemas.cycles import parse_update_cycle
from schemas.dates import PRECISION_ALIASES, Precision, xsd_literal

MULU_NS = "https://mulu.dev/ns#"
CONTEXT = {
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "vcard": "http://www.w3.org/2006/vcard/ns#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "org": "http://www.w3.org/ns/org#",
    "mulu": MULU_NS,
}
LANGUAGE = "zh"
CATALOGUE_IRI = "urn:mulu:catalogue"
ENTRY_IRI = "urn:mulu:entry:"
ORGANISATION_IRI = "urn:mulu:org:"
CONTACT_IRI = "urn:mulu:contact:"
THEME_SCHEMES = {"theme": "urn:mulu:scheme:theme", "category_name": "urn:mulu:scheme:category"}

_EU = "http://publications.europa.eu/resource/authority/"
# EU frequency vocabulary by (every, unit) of schemas.cycles.UpdateCycle. 每半年 is ANNUAL_2
# ("semiannual"): the table has no BIANNUAL. BIWEEKLY/BIMONTHLY are left out on purpose:
# "bi-" reads as both "twice per" and "every two", so 每2周/每2月 get only the ISO literal.
EU_FREQUENCIES: dict[tuple[int | None, str | None], str] = {
    (1, "day"): "DAILY",
    (1, "week"): "WEEKLY",
    (1, "month"): "MONTHLY",
    (3, "month"): "QUARTERLY",
    (6, "month"): "ANNUAL_2",
    (1, "year"): "ANNUAL",
    (2, "year"): "BIENNIAL",
    (3, "year"): "TRIENNIAL",
    (1, "hour"): "HOURLY",
    (2, "hour"): "BIHOURLY",
    (3, "hour"): "TRIHOURLY",
}
EU_FREQUENCY_BY_LABEL = {"实时": "UPDATE_CONT", "不定期": "IRREG", "自定义": "OTHER"}
# 开放属性 -> EU access-right vocabulary; spellings with no clear counterpart (安全开放, and
# anything a portal invented) keep only their label.
EU_ACCESS_RIGHTS = {
    "无条件开放": "PUBLIC",
    "普遍开放": "PUBLIC",
    "有条件开放": "RESTRICTED",
    "依申请开放": "RESTRICTED",
    "不予开放": "NON_PUBLIC",
}
# 信息资源格式类型 -> EU file-type vocabulary; others stay a plain dct:format literal.
EU_FILE_TYPES = {
    "csv": "CSV",
    "xls": "XLS",
    "xlsx": "XLSX",
    "json": "JSON",
    "xml": "XML",
    "pdf": "PDF",
    "doc": "DOC",
    "docx": "DOCX",
    "zip": "ZIP",
    "rar": "RAR",
    "txt": "TXT",
    "html": "HTML",
    "ods": "ODS",
    "rtf": "RTF",
    "shp": "SHP",
    "geojson": "GEOJSON",
    "gml": "GML",
    "kml": "KML",
    "jpg": "JPEG",
    "jpeg": "JPEG",
    "png": "PNG",
    "tif": "TIFF",
    "tiff": "TIFF",
    "rdf": "RDF_XML",
}

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
_PHONE = re.compile(r"^\+?[\d\s()-]+$")
_IRI_SAFE = ":/?#[]@!$&'()*+,;=%~"  # RFC 3986 reserved characters and existing %-escapes


def _zh(text: str) -> dict[str, str]:
    return {"@value": text, "@language": LANGUAGE}


def _typed(text: str, datatype: str) -> dict[str, str]:
    return {"@value": text, "@type": datatype}


def entry_iri(code: str) -> str:
    return ENTRY_IRI + quote(code, safe="/")


def organisation_iri(code: str) -> str:
    return ORGANISATION_IRI + quote(code, safe="")


def web_iri(text: str | None) -> str | None:
    """An absolute IRI from a URL as entered (spaces, Chinese, … %-encoded), or None.

    A relative value must not reach "@id": a JSON-LD reader would resolve it against the
    file's own location.
    """
    text = (text or "").strip()
    return quote(text, safe=_IRI_SAFE) if _SCHEME.match(text) else None


def stated_literal(text: str, precision: str | None, finest: Precision) -> dict[str, str]:
    """A stored date at its precision as a typed literal: xsd:gYear, xsd:gYearMonth, xsd:date
    or xsd:dateTime with the Asia/Shanghai offset of that moment (+08:00; never the local mean
    time +08:05:43 zoneinfo gives before 1901, which xsd does not allow; a minute is written
    with ":00" seconds, xsd:dateTime having no shorter form)."""
    value, datatype = xsd_literal(
        dt.datetime.fromisoformat(text), PRECISION_ALIASES.get(precision or "", finest)
    )
    return _typed(value, datatype)


def accrual_periodicity(label: str) -> list[Any]:
    """ISO-8601 literal (DCAT-US style) and, where one exists, the EU frequency IRI."""
    cycle = parse_update_cycle(label)
    values: list[Any] = []
    code = EU_FREQUENCY_BY_LABEL.get(cycle.label) or EU_FREQUENCIES.get((cycle.every, cycle.unit))
    if code:
        values.append({"@id": f"{_EU}frequency/{code}"})
    if cycle.iso:
        values.append(cycle.iso)
    return values


class _Nodes:
    """Publishers, contact points and concepts met while writing datasets; written once."""

    def __init__(self, organisations: Mapping[str, dict[str, Any]]):
        self.organisations = organisations
        self.found: dict[str, dict[str, Any]] = {}

    def publisher(self, entry: Mapping[str, Any]) -> dict[str, Any]:
        code = entry.get("provider_code") or entry["provider_name"]
        iri = organisation_iri(code)
        if iri not in self.found:
            # An organisation missing from the register (a concurrent import) still gets a node.
            found = self.organisations.get(code) or {"code": code, "name": entry["provider_name"]}
            self.found[iri] = _organisation_node(iri, found)
            contact = _contact_node(found)
            if contact:
                self.found[contact["@id"]] = contact
        return {"@id": iri}

    def registered_name(self, entry: Mapping[str, Any]) -> str:
        found = self.organisations.get(entry.get("provider_code") or "")
        return found["name"] if found else entry["provider_name"]

    def contact(self, entry: Mapping[str, Any]) -> dict[str, str] | None:
        iri = CONTACT_IRI + quote(entry.get("provider_code") or entry["provider_name"], safe="")
        return {"@id": iri} if iri in self.found else None

    def concept(self, field: str, label: str) -> dict[str, str]:
        scheme = THEME_SCHEMES[field]
        iri = f"{scheme}:{quote(label, safe='')}"
        if iri not in self.found:
            self.found[iri] = {
                "@id": iri,
                "@type": "skos:Concept",
                "skos:prefLabel": _zh(label),
                "skos:inScheme": {"@id": scheme},
            }
        return {"@id": iri}


def _organisation_node(iri: str, organisation: Mapping[str, Any]) -> dict[str, Any]:
    node: dict[str, Any] = {
        "@id": iri,
        "@type": "foaf:Organization",
        "foaf:name": _zh(organisation["name"]),
        "dct:identifier": organisation["code"],
    }
    if organisation.get("parent_code"):
        node["org:subOrganizationOf"] = {"@id": organisation_iri(organisation["parent_code"])}
    if organisation.get("kind"):
        node["mulu:organisationKind"] = organisation["kind"]
    return node


def _contact_node(organisation: Mapping[str, Any]) -> dict[str, Any] | None:
    name, phone, email = (
        organisation.get(k) for k in ("contact_name", "contact_phone", "contact_email")
    )
    if not (name or phone or email):
        return None
    node: dict[str, Any] = {
        "@id": CONTACT_IRI + quote(organisation["code"], safe=""),
        "@type": "vcard:Organization",
        "vcard:fn": _zh(name or organisation["name"]),
        "vcard:organization-name": _zh(organisation["name"]),
    }
    if email:
        email = email.strip()
        node["vcard:hasEmail"] = (
            {"@id": "mailto:" + quote(email, safe="@+")} if _EMAIL.match(email) else email
        )
    if phone:
        phone = phone.strip()
        node["vcard:hasTelephone"] = (
            {"@id": "tel:" + re.sub(r"[\s()]+", "-", phone).strip("-")}
            if _PHONE.match(phone)
            else phone
        )
    return node


def dataset_node(entry: Mapping[str, Any], nodes: _Nodes) -> dict[str, Any]:
    """One entry as a dcat:Dataset; empty fields are left out rather than written blank."""
    code = entry["code"]
    node: dict[str, Any] = {
        "@id": entry_iri(code),
        "@type": "dcat:Dataset",
        "dct:identifier": code,
        "dct:title": _zh(entry["name"]),
    }
    if entry.get("summary"):
        node["dct:description"] = _zh(entry["summary"])
    node["dct:publisher"] = nodes.publisher(entry)
    if entry["provider_name"] != nodes.registered_name(entry):
        node["mulu:providerName"] = entry["provider_name"]  # the entry's own spelling
    contact = nodes.contact(entry)
    if contact:
        node["dcat:contactPoint"] = contact
    if entry.get("published_at"):
        node["dct:issued"] = stated_literal(
            entry["published_at"], entry.get("published_precision"), "day"
        )
    if entry.get("updated_at"):
        node["dct:modified"] = stated_literal(
            entry["updated_at"], entry.get("updated_precision"), "second"
        )
    if entry.get("update_cycle"):
        node["dct:accrualPeriodicity"] = accrual_periodicity(entry["update_cycle"])
        node["mulu:updateCycle"] = entry["update_cycle"]
    themes = [nodes.concept(field, entry[field]) for field in THEME_SCHEMES if entry.get(field)]
    if themes:
        node["dcat:theme"] = themes
    if entry.get("tags"):
        node["dcat:keyword"] = [_zh(tag) for tag in entry["tags"]]
    _access_rights(node, entry.get("open_type"))
    landing_page = web_iri(entry.get("landing_page"))
    if landing_page:
        node["dcat:landingPage"] = {"@id": landing_page}
    elif entry.get("landing_page"):
        node["mulu:landingPageText"] = entry["landing_page"]  # not an absolute URL
    if entry.get("formats"):
        node["dcat:distribution"] = [_distribution(fmt, landing_page) for fmt in entry["formats"]]
    if entry.get("related_codes"):
        node["dct:relation"] = [{"@id": entry_iri(c)} for c in entry["related_codes"]]
    _chinese_fields(node, entry)
    return node


def _access_rights(node: dict[str, Any], open_type: str | None) -> None:
    if not open_type:
        return
    node["mulu:openType"] = open_type
    code = EU_ACCESS_RIGHTS.get(open_type)
    node["dct:accessRights"] = (
        {"@id": f"{_EU}access-right/{code}"}
        if code
        else {"@type": "dct:RightsStatement", "rdfs:label": _zh(open_type)}
    )


def _distribution(fmt: str, access_url: str | None) -> dict[str, Any]:
    code = EU_FILE_TYPES.get(fmt)
    node: dict[str, Any] = {
        "@type": "dcat:Distribution",
        "dct:format": {"@id": f"{_EU}file-type/{code}"} if code else fmt,
        "mulu:formatType": fmt,
    }
    if access_url:
        node["dcat:accessURL"] = {"@id": access_url}
    return node


def _chinese_fields(node: dict[str, Any], entry: Mapping[str, Any]) -> None:
    """GB/T 21063 fields with no DCAT counterpart."""
    node["mulu:shareType"] = entry["share_type"]
    for field, term in (
        ("share_condition", "mulu:shareCondition"),
        ("share_method", "mulu:shareMethod"),
        ("format_category", "mulu:formatCategory"),
        ("classification", "mulu:classification"),
        ("resource_class", "mulu:resourceClass"),
    ):
        if entry.get(field):
            node[term] = entry[field]
    if entry.get("data_items"):
        node["mulu:dataItem"] = {"@list": [_data_item(item) for item in entry["data_items"]]}
    if entry.get("status"):
        node["mulu:status"] = entry["status"]


def _data_item(item: Mapping[str, Any]) -> dict[str, Any]:
    node: dict[str, Any] = {
        "@type": "mulu:DataItem",
        "mulu:itemName": _zh(item["name"]),
        "mulu:dataType": item.get("data_type"),
    }
    if item.get("length") is not None:
        node["mulu:length"] = item["length"]  # a JSON integer reads as xsd:integer
    if item.get("description"):
        node["dct:description"] = _zh(item["description"])
    return node


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def write(
    entries: Iterable[dict[str, Any]], organisations: Mapping[str, dict[str, Any]], out: Path
) -> int:
    nodes = _Nodes(organisations)
    catalogue = {
        "@id": CATALOGUE_IRI,
        "@type": "dcat:Catalog",
        "dct:title": _zh("政务信息资源目录"),
        "dct:description": _zh("政务信息资源目录 (GB/T 21063) exported by Mulu"),
    }
    count = 0
    with Path(out).open("w", encoding="utf-8") as fh:
        fh.write('{"@context": ' + json.dumps(CONTEXT, indent=1) + ',\n"@graph": [\n{')
        # The catalogue node is written key by key so its dataset list can stream.
        fh.write(", ".join(f"{_dumps(key)}: {_dumps(value)}" for key, value in catalogue.items()))
        fh.write(', "dcat:dataset": [')
        for entry in entries:
            fh.write(",\n" if count else "\n")
            fh.write(_dumps(dataset_node(entry, nodes)))
            count += 1
        fh.write("\n]}")
        for node in nodes.found.values():
            fh.write(",\n" + _dumps(node))
        fh.write("\n]}\n")
    return count


# --- Turtle ----------------------------------------------------------------------------------
# The JSON-LD nodes above use a small part of JSON-LD: CURIE keys and types from CONTEXT,
# absolute "@id"s, {"@value", "@language" | "@type"} literals, {"@list"}, nested blank nodes,
# plain strings and numbers. That part maps to Turtle one to one.
_IRI_UNSAFE = re.compile(r'[\x00-\x20<>"{}|^`\\]')
_STRING_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_STRING_UNSAFE = re.compile(r'[\\"\x00-\x1f\x7f]')


def _iri(value: str) -> str:
    return "<" + _IRI_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04X}", value) + ">"


def _string(value: str) -> str:
    def escape(match: re.Match[str]) -> str:
        char = match.group()
        return _STRING_ESCAPES.get(char) or f"\\u{ord(char):04X}"

    return '"' + _STRING_UNSAFE.sub(escape, value) + '"'


def _term(name: str) -> str:
    """A CURIE of CONTEXT as a prefixed name, anything else as an IRI."""
    prefix, _, local = name.partition(":")
    if prefix in CONTEXT and re.fullmatch(r"[A-Za-z_][\w.-]*", local) and not local.endswith("."):
        return name
    return _iri(name)


def _object(value: Any, later: list[dict[str, Any]], indent: str) -> str | None:
    """One JSON-LD value as a Turtle object; named nodes with properties go to ``later``."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f'"{value!r}"^^xsd:double'
    if isinstance(value, str):
        return _string(value)
    if "@value" in value:
        literal = _string(str(value["@value"]))
        if value.get("@language"):
            return f"{literal}@{value['@language']}"
        if value.get("@type"):
            return f"{literal}^^{_term(value['@type'])}"
        return literal
    if "@list" in value:
        items = [_object(item, later, indent) for item in value["@list"]]
        return "( " + " ".join(i for i in items if i is not None) + " )"
    if "@id" in value:
        if len(value) > 1:
            later.append(value)
        return _iri(value["@id"])
    inner = indent + "    "
    return "[\n" + _properties(value, later, inner) + f"\n{indent}]"


def _properties(node: Mapping[str, Any], later: list[dict[str, Any]], indent: str) -> str:
    lines = []
    types = node.get("@type")
    if types:
        types = types if isinstance(types, list) else [types]
        lines.append(f"{indent}a " + ", ".join(_term(t) for t in types))
    for key, value in node.items():
        if key.startswith("@"):
            continue
        values = value if isinstance(value, list) else [value]
        objects = [o for o in (_object(v, later, indent) for v in values) if o is not None]
        if objects:
            lines.append(f"{indent}{_term(key)} " + ", ".join(objects))
    return " ;\n".join(lines)


def _turtle_block(node: Mapping[str, Any]) -> str:
    """A named node (and any named node it embeds) as Turtle statements."""
    blocks = []
    todo: list[dict[str, Any]] = [dict(node)]
    while todo:
        current = todo.pop(0)
        later: list[dict[str, Any]] = []
        body = _properties(current, later, "    ")
        if body:
            blocks.append(f"{_iri(current['@id'])}\n{body} .\n")
        todo.extend(later)
    return "\n".join(blocks)


def write_turtle(
    entries: Iterable[dict[str, Any]], organisations: Mapping[str, dict[str, Any]], out: Path
) -> int:
    """The catalogue as Turtle: the graph ``write`` produces, streamed."""
    nodes = _Nodes(organisations)
    count = 0
    with Path(out).open("w", encoding="utf-8") as fh:
        for prefix, namespace in CONTEXT.items():
            fh.write(f"@prefix {prefix}: {_iri(namespace)} .\n")
        fh.write("\n")
        fh.write(
            _turtle_block(
                {
                    "@id": CATALOGUE_IRI,
                    "@type": "dcat:Catalog",
                    "dct:title": _zh("政务信息资源目录"),
                    "dct:description": _zh("政务信息资源目录 (GB/T 21063) exported by Mulu"),
                }
            )
        )
        for entry in entries:
            dataset = dataset_node(entry, nodes)
            fh.write(f"\n{_iri(CATALOGUE_IRI)} dcat:dataset {_iri(dataset['@id'])} .\n")
            fh.write(_turtle_block(dataset))
            count += 1
        for node in nodes.found.values():
            fh.write("\n" + _turtle_block(node))
    return count
