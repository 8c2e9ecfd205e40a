"""Draft a mapping from a file's own headers and values (``mulu catalog mapping draft FILE``).

A data office with an export no shipped mapping fits should not have to write YAML from the
docs. The draft reads the file's headers (normalised, then matched against the Chinese and
English spellings in ``synonyms.yaml``), looks at each candidate column's values (a date column
parses as dates, a cycle column as 更新周期, a link column is made of links) and writes a
commented mapping that ``load_mapping`` reads back: which column feeds which entry field, value
maps for the cycle and share-type spellings it could read, the source's own identifier as the
key, and defaults for the required fields a portal export leaves out (共享类型; a placeholder
provider for records that name none). What it could not place or read, it says.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import yaml
from pydantic import ValidationError

from catalog.importing.draft_columns import (
    SAMPLE_RECORDS,
    Column,
    choose_records_path,
    normalise_header,
    profile,
    synonyms,
)
from catalog.importing.draft_values import (
    accepted_by_entry,
    dcat_access,
    guess_cycle,
    guess_open_type,
    guess_share_type,
    is_url,
)
from catalog.importing.mapping import Mapping
from catalog.importing.reading import Document
from catalog.importing.transforms import TRANSFORMS
from schemas.cycles import parse_update_cycle
from schemas.entry import CatalogueEntry

REQUIRED = ("name", "provider_name", "share_type")
OPEN_DATA_SHARE = "无条件共享"
NO_PROVIDER = "（未注明提供单位）"
_DATES = ("published_at", "updated_at")
# The order fields choose their column in: the required ones first, then the ones whose
# values can be checked, so a loosely named column goes to the field it really fits.
_PRIORITY = [
    "name",
    "provider_name",
    "share_type",
    "code",
    "update_cycle",
    "open_type",
    "updated_at",
    "published_at",
    "landing_page",
    "summary",
    "formats",
    "theme",
    "tags",
    "category_name",
]


@dataclass
class Draft:
    """A drafted mapping and what the draft found."""

    mapping: Mapping
    yaml: str
    placed: dict[str, str]  # entry field -> source column (the first, when alternatives)
    unplaced: list[str]  # source columns no field reads
    missing: list[str]  # required entry fields it could not place (the import would reject)
    unread_values: dict[str, list[str]] = field(default_factory=dict)  # field -> values
    defaults: dict[str, str] = field(default_factory=dict)  # field -> default it supplied
    records_read: int = 0


@dataclass
class _Rule:
    sources: list[str]
    transform: str | None = None
    values: dict[str, str] = field(default_factory=dict)
    note: str = ""


@cache
def _mapping_accepts(target: str) -> bool:
    """Whether mapping files may name ``target`` (contacts exist only where the model has them)."""
    try:
        Mapping.model_validate({"name": "probe", "fields": {target: "x"}})
    except ValidationError:
        return False
    return True


# --- placing columns -------------------------------------------------------------------
def _fits(target: str, column: Column, rule: _Rule) -> bool:
    """Whether the column's values suit the entry field (and set the rule's transform)."""
    filled = column.present - column.empty
    if filled and column.objects > filled / 2:
        return False  # an object: its own fields (publisher.name) are the columns to place
    if filled and column.share(_objects_list) > 0.5:
        # A list of objects: DCAT distributions / CKAN resources give every one's format,
        # media type or file extension; other lists of objects are read by their fields
        # (tags[].name), not whole.
        if target != "formats" or "distribution_formats" not in TRANSFORMS:
            return False
        rule.transform = "distribution_formats"
        return True
    if filled and column.lists > filled / 2 and target not in ("formats", "tags", "related_codes"):
        if target not in ("theme", "category_name", "data_items"):
            return False
        rule.transform = "first" if target != "data_items" else None
    if target in ("name", "provider_name") and column.share(lambda v: not is_url(v)) < 0.8:
        return False
    if target == "code":
        return filled > 0 and column.share(lambda v: accepted_by_entry("code", v)) >= 0.95
    if target in _DATES:
        # A repeating interval in DCAT's modified (R/P1D) is a cycle the import reads as such.
        return column.share(lambda v: accepted_by_entry(target, v) or _interval(v)) >= 0.8
    if target == "landing_page":
        return column.share(is_url) >= 0.8
    if target == "status":
        return column.share(lambda v: v in ("active", "retired")) == 1.0
    if target == "update_cycle":
        return column.share(lambda v: _cycle_ok(v) or guess_cycle(v) is not None) >= 0.5
    if target == "share_type":
        return column.share(lambda v: guess_share_type(v) is not None) >= 0.5
    if target == "provider_contact_email":
        rule.transform = "mailto" if column.share(lambda v: "mailto:" in str(v)) else None
        return column.share(lambda v: "@" in str(v) or not str(v).strip()) >= 0.5
    if target == "tags" and column.share(lambda v: "\n" in str(v)) > 0:
        rule.transform = "lines"  # one tag per line; 、 and commas stay inside a tag
    return True


def _objects_list(value: Any) -> bool:
    return isinstance(value, list) and any(isinstance(item, dict) for item in value)


def _interval(value: Any) -> bool:
    return isinstance(value, str) and bool(re.match(r"^R\d*/", value.strip(), re.IGNORECASE))


def _cycle_ok(value: Any) -> bool:
    try:
        parse_update_cycle(str(value))
    except ValueError:
        return False
    return True


def _candidates(columns: dict[str, Column]) -> list[tuple[int, int, int, str, Column]]:
    """(tier, field priority, synonym rank, field, column) for every header match."""
    table = synonyms()
    found = []
    headers = {path: normalise_header(path) for path in columns}

    def priority(target: str) -> int:
        return _PRIORITY.index(target) if target in _PRIORITY else len(_PRIORITY)

    for tier, section in ((0, "strong"), (1, "weak")):
        for target, spellings in table[section].items():
            for rank, spelling in enumerate(normalise_header(s) for s in spellings):
                for path, header in headers.items():
                    if header == spelling:
                        found.append((tier, priority(target), rank, target, columns[path]))
    # A header containing a spelling of 3+ characters: the longest such spelling decides.
    for path, header in headers.items():
        contained = [
            (len(s), target)
            for target, spellings in table["strong"].items()
            for s in map(normalise_header, spellings)
            if len(s) >= 3 and s in header and s != header
        ]
        if contained:
            length, target = max(contained)
            found.append((2, priority(target), -length, target, columns[path]))
    return sorted(found, key=lambda c: c[:3])


def _place(columns: dict[str, Column]) -> dict[str, _Rule]:
    rules: dict[str, _Rule] = {}
    used: set[str] = set()
    for tier, _, _, target, column in _candidates(columns):
        if column.path in used or not _mapping_accepts(target):
            continue
        if target in rules:
            # Another column for a placed field is an alternative, read where the first is
            # blank: formats split over columns (format / mediaType), a provider column with
            # gaps that another fills.
            first = columns[rules[target].sources[0]]
            alternative = _Rule([])
            if (
                tier == 0
                and not rules[target].transform
                and (target == "formats" or first.empty)
                and _fits(target, column, alternative)
                and not alternative.transform
            ):
                rules[target].sources.append(column.path)
                used.add(column.path)
            continue
        rule = _Rule([column.path], note="" if tier == 0 else "guessed from the header")
        if _fits(target, column, rule):
            rules[target] = rule
            used.add(column.path)
    if "landing_page" not in rules:
        # A column of links, one per record (a licence or schema link repeats: not a page).
        for column in columns.values():
            filled = column.present - column.empty
            if column.path in used or "[]" in column.path or not filled:
                continue
            if column.share(is_url) == 1 and len(column.values) >= 0.9 * filled:
                rules["landing_page"] = _Rule([column.path], note="its values are links")
                used.add(column.path)
                break
    return rules


def _value_maps(rules: dict[str, _Rule], columns: dict[str, Column]) -> dict[str, list[str]]:
    """Add ``values:`` for spellings the entry model cannot read but that look like known
    ones; return, per field, the values it could not map."""
    unread: dict[str, list[str]] = {}
    readers = {
        "update_cycle": (_cycle_ok, guess_cycle),
        "share_type": (lambda v: accepted_by_entry("share_type", v), guess_share_type),
        # 开放属性 keeps any spelling as written: only yes/no answers (是否开放) need a map.
        "open_type": (lambda v: guess_open_type(v) is None, guess_open_type),
    }
    for target, (readable, guess) in readers.items():
        rule = rules.get(target)
        if rule is None:
            continue
        for value, _ in columns[rule.sources[0]].sample():
            text = str(value).strip()
            if readable(text):
                continue
            if mapped := guess(text):
                rule.values[text] = mapped
            else:
                unread.setdefault(target, []).append(text)
    return unread


def _key(
    columns: dict[str, Column], rules: dict[str, _Rule], distinct: int
) -> tuple[list[str], str]:
    """The source's own identifier when one column has a different non-empty value in every
    distinct record; else the name and provider columns."""
    by_header = {normalise_header(path): column for path, column in columns.items()}
    for spelling in synonyms()["identifiers"]:
        column = by_header.get(normalise_header(spelling))
        if column is None or "." in column.path or column.lists or column.objects:
            continue
        if column.empty == 0 and column.present == distinct and len(column.values) == distinct:
            note = f"{column.path} is the source's own identifier (unique in every record)"
            return [column.path], note
    key = [rules[f].sources[0] for f in ("name", "provider_name") if f in rules]
    return key, "no column identifies a record on its own: name and provider do"


def draft_mapping(document: Document, name: str | None = None) -> Draft:
    """A mapping for ``document`` (from ``read_document``) drafted from its headers and values."""
    records_path = choose_records_path(document)
    records = document.records(records_path or None)
    columns, read, distinct = profile(records if records is not None else [])
    rules = _place(columns)
    stem_name = document.path.stem
    defaults: dict[str, tuple[str, str]] = {}  # field -> (value, why)

    if "share_type" not in rules:
        open_rule = rules.get("open_type")
        access = open_rule and columns[open_rule.sources[0]].share(
            lambda v: str(v).strip().lower() in dcat_access()
        )
        if open_rule and access == 1:
            rules["share_type"] = _Rule(
                list(open_rule.sources), note="DCAT accessLevel, mapped as the dcat-us mapping does"
            )
        elif evidence := _open_data_evidence(rules):
            defaults["share_type"] = (
                OPEN_DATA_SHARE,
                f"No 共享类型 column. The file lists open data ({', '.join(evidence)}), so its "
                "records are taken as 无条件共享, as the shipped portal mappings do; change it if not.",
            )
    provider = rules.get("provider_name")
    if provider is not None:
        column = columns[provider.sources[0]]
        if column.empty or column.present < distinct:
            blank = column.empty + distinct - column.present
            where = f"in {column.path}" + (
                " (some may in the alternatives)" if len(provider.sources) > 1 else ""
            )
            defaults["provider_name"] = (
                f"{stem_name}{NO_PROVIDER}",
                f"{blank} records name no provider {where}; those naming none are kept under "
                "this placeholder (put the portal's name here) so none is lost.",
            )
    unread = _value_maps(rules, columns)
    key, key_note = _key(columns, rules, distinct)
    detect = list(dict.fromkeys(columns[rules[f].sources[0]].root for f in REQUIRED if f in rules))
    text = _render(
        name=name or f"draft-{_slug(stem_name)}",
        source=document.path.name,
        records_path=records_path,
        read=read,
        detect=detect,
        key=(key, key_note),
        rules=rules,
        defaults=defaults,
        unplaced=_unplaced(columns, rules, key),
        unread=unread,
    )
    mapping = Mapping.model_validate(yaml.safe_load(text))
    return Draft(
        mapping=mapping,
        yaml=text,
        placed={f: rules[f].sources[0] for f in _ordered(rules)},
        unplaced=_unplaced(columns, rules, key),
        missing=[f for f in REQUIRED if f not in rules and f not in defaults],
        unread_values=unread,
        defaults={f: value for f, (value, _) in defaults.items()},
        records_read=read,
    )


def _open_data_evidence(rules: dict[str, _Rule]) -> list[str]:
    """What shows a file lists open data (a 开放属性, file formats, resource links)."""
    shown = {"open_type": "开放属性", "formats": "formats", "landing_page": "links"}
    return [f"{label} in {rules[t].sources[0]}" for t, label in shown.items() if t in rules]


def _unplaced(columns: dict[str, Column], rules: dict[str, _Rule], key: list[str]) -> list[str]:
    used = {s.split(".", 1)[0].removesuffix("[]") for r in rules.values() for s in r.sources}
    used |= set(key)
    return [path for path in columns if "." not in path and path not in used]


def _ordered(rules: dict[str, _Rule]) -> list[str]:
    order = [*CatalogueEntry.model_fields, *synonyms()["strong"]]
    return sorted(rules, key=lambda f: order.index(f) if f in order else len(order))


def _slug(text: str) -> str:
    return re.sub(r"[^\w]+", "-", text.lower()).strip("-") or "file"


def _flow(value: Any) -> str:
    """One YAML scalar or flow collection on one line, quoted where YAML needs it."""
    if isinstance(value, str) and not _printable(value):
        return json.dumps(value)  # escaped: a JSON string is a YAML double-quoted scalar
    if isinstance(value, list):
        return "[" + ", ".join(_flow(item) for item in value) + "]"
    text = yaml.safe_dump(
        value, allow_unicode=True, default_flow_style=True, width=1 << 30, sort_keys=False
    )
    return text.removesuffix("\n").removesuffix("\n...").strip()


def _printable(text: str) -> bool:
    return all(ch.isprintable() for ch in text)


def _comment(text: str) -> str:
    """Text for a YAML comment: on one line, whatever the source values hold."""
    return "".join(ch if ch.isprintable() else " " for ch in text)


def _render(
    *,
    name: str,
    source: str,
    records_path: str,
    read: int,
    detect: list[str],
    key: tuple[list[str], str],
    rules: dict[str, _Rule],
    defaults: dict[str, tuple[str, str]],
    unplaced: list[str],
    unread: dict[str, list[str]],
) -> str:
    looked_at = f"the first {read} records" if read >= SAMPLE_RECORDS else f"{read} records"
    lines = [
        _comment(f"# Drafted by `mulu catalog mapping draft` from {source} ({looked_at} read)."),
        "# Check it, then: mulu catalog import FILE --mapping THIS.yaml",
        f"name: {_flow(name)}",
        f"title: {_flow(f'{source} (drafted mapping)')}",
    ]
    if records_path:
        lines.append(f"records: {_flow(records_path)}")
    if detect:
        lines += ["detect:", f"  all: {_flow(detect)}"]
    if key[0]:
        lines += [_comment(f"# key: {key[1]}"), f"key: {_flow(key[0])}"]
    lines.append("fields:" if rules else "fields: {}  # no column matched a known header")
    for target in _ordered(rules):
        rule = rules[target]
        if rule.note:
            lines.append(f"  # {target}: {rule.note}")
        source_text = _flow(rule.sources[0] if len(rule.sources) == 1 else rule.sources)
        if not rule.transform and not rule.values:
            lines.append(f"  {target}: {source_text}")
            continue
        lines += [f"  {target}:", f"    from: {source_text}"]
        if rule.transform:
            lines.append(f"    transform: {rule.transform}")
        if rule.values:
            lines.append("    values:")
            lines += [f"      {_flow(raw)}: {_flow(mapped)}" for raw, mapped in rule.values.items()]
    if defaults:
        lines.append("defaults:")
        for target, (value, why) in defaults.items():
            lines += [_comment(f"  # {why}"), f"  {target}: {_flow(value)}"]
    if unplaced:
        lines += [
            "# Columns no field reads (the importer keeps every source field with the entry):",
            _comment(f"#   {', '.join(unplaced)}"),
        ]
    for target, values in unread.items():
        shown = ", ".join(values[:20]) + (" …" if len(values) > 20 else "")
        lines.append(
            _comment(f"# {target}: values it could not read (add them under values:): {shown}")
        )
    return "\n".join(lines) + "\n"
