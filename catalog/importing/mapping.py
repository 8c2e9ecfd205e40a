"""Field mappings: one YAML file per source shape says which source field feeds which entry
field, how to recognise such a file, and what identifies a record in it.

A mapping looks like this (see docs/mappings.md for every key)::

    name: cn-luan-suzhou
    title: 安徽六安/宿州 开放数据门户目录导出
    detect: {all: [标题, 来源部门, 更新频率]}
    key: [标题, 来源部门]
    fields:
      name: 标题
      provider_name: 来源部门
      update_cycle: 更新频率
      formats: {from: 数据格式, transform: list}
    defaults: {share_type: 无条件共享}

Applying a mapping (``Mapping.apply``) gives the entry's field values and the problems found:
placeholders (暂无, 无, -, /, null, N/A) are no value; a transform that fails on an optional
field is a warning that leaves the field empty (the raw value kept in the problem), on a
required one (名称, 提供方, 共享类型) a reject. A DCAT ``modified`` written as a repeating
interval (``R/P1D``) is not a date: it feeds 更新周期 when the record gives none, and warns.
Besides entry fields a mapping may fill the provider's contact: ``provider_contact_name``,
``provider_contact_phone``, ``provider_contact_email`` (they fill the organisation's contact
where it has none).

Identity (``Mapping.record_key``): what the key *means* (``landing_page:…``,
``name+provider_name:…``, ``identifier:…``), never the mapping's name, with an optional source
namespace (``source:``, ``Mapping.with_source``) for keys unique only within one portal; the
rules are in catalog.importing.identity. ``Mapping.legacy_key`` gives the ``<mapping name>:<sha1>``
key of entries imported before issue 12, which the directory finds and rewrites.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from importlib import resources
from itertools import islice
from pathlib import Path
from typing import Any

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from catalog.apply_records import CONTACT_FIELDS
from catalog.importing import identity
from catalog.importing.field_problems import FieldProblem, interval_as_modified, unreadable
from catalog.importing.source_values import MISSING as _MISSING
from catalog.importing.source_values import blank as _blank
from catalog.importing.source_values import empty as _empty
from catalog.importing.source_values import lookup
from catalog.importing.source_values import root as _root
from catalog.importing.transforms import TRANSFORMS
from schemas.entry import CatalogueEntry
from schemas.errors import InvalidInput

# What a mapping may fill: the entry's fields and the provider's contact.
TARGETS = (*CatalogueEntry.model_fields, *CONTACT_FIELDS)
# A repeating interval (ISO 8601 R/…): a cycle, which some DCAT catalogues put in ``modified``.
_INTERVAL = re.compile(r"^R\d*/", re.IGNORECASE)
# Fields whose values get a transform even when the mapping names none.
_IMPLIED_TRANSFORMS = {
    "published_at": "date",
    "updated_at": "date",
    "formats": "list",
    "tags": "list",
    "related_codes": "list",
    "data_items": "data_items",
}


class MappingError(InvalidInput):
    """A mapping file that is malformed, or a file that no mapping fits."""


class FieldRule(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    sources: list[str] = Field(alias="from", min_length=1)
    transform: str | None = None
    values: dict[str, Any] = Field(default_factory=dict)
    default: Any = None
    _folded: dict[str, Any] | None = PrivateAttr(None)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"from": [value]}
        if isinstance(value, list):
            return {"from": value}
        if isinstance(value, dict) and isinstance(value.get("from"), str):
            return {**value, "from": [value["from"]]}
        return value

    def value_for(self, raw: str) -> Any:
        """The ``values:`` entry for a source text, or _MISSING: an exact match first, then
        one ignoring surrounding whitespace and case (DCAT-US writes ``Public`` where a mapping
        says ``public``)."""
        for exact in (raw, raw.strip()):
            if exact in self.values:
                return self.values[exact]
        if self._folded is None:
            folded: dict[str, Any] = {}
            for key, value in self.values.items():
                folded.setdefault(str(key).strip().casefold(), value)
            self._folded = folded
        return self._folded.get(raw.strip().casefold(), _MISSING)

    @field_validator("transform")
    @classmethod
    def _known_transform(cls, value: str | None) -> str | None:
        if value is not None and value not in TRANSFORMS:
            raise ValueError(f"unknown transform {value!r}; known: {', '.join(TRANSFORMS)}")
        return value


class Detect(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    all_of: list[str] = Field(default_factory=list, alias="all")
    any_of: list[list[str]] = Field(default_factory=list, alias="any")


class Mapping(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    title: str = ""
    description: str = ""
    records: str | None = Field(None, description="dotted path to the record list in a JSON file")
    detect: Detect = Field(default_factory=Detect)
    key: list[str] = Field(default_factory=list, description="source fields identifying a record")
    key_fields: list[str] = Field(
        default_factory=list, description="entry fields identifying a record, after mapping"
    )
    prefer_key: list[str] = Field(
        default_factory=list,
        description="source fields identifying a record better than key when it has them (url)",
    )
    source: str | None = Field(
        None,
        description="namespace of record keys only unique within one portal (name+provider); "
        "the importer's --source overrides it",
    )
    classification: str = Field("300000", description="分类码 for entries the source gives no code")
    fields: dict[str, FieldRule]
    defaults: dict[str, Any] = Field(default_factory=dict)
    _compiled: list[tuple[str, FieldRule, str | None]] | None = PrivateAttr(None)
    _meanings: dict[str, list[tuple[str, str | None]]] = PrivateAttr(default_factory=dict)

    @field_validator("fields", "defaults")
    @classmethod
    def _targets(cls, value: Any) -> Any:
        unknown = set(value) - set(TARGETS)
        if unknown:
            raise ValueError(
                f"not entry fields: {', '.join(sorted(unknown))}; "
                f"entry fields are {', '.join(TARGETS)}"
            )
        return value

    @field_validator("source")
    @classmethod
    def _source(cls, value: str | None) -> str | None:
        return None if value is None else identity.valid_source(value)

    @field_validator("key_fields")
    @classmethod
    def _entry_fields(cls, value: Any) -> Any:
        unknown = set(value) - set(CatalogueEntry.model_fields)
        if unknown:
            raise ValueError(
                f"not entry fields: {', '.join(sorted(unknown))}; "
                f"entry fields are {', '.join(CatalogueEntry.model_fields)}"
            )
        return value

    # --- recognising a file ------------------------------------------------------------
    def source_roots(self) -> set[str]:
        """Top-level source field names this mapping reads."""
        roots = {_root(s) for rule in self.fields.values() for s in rule.sources}
        return roots | {_root(k) for k in (*self.key, *self.prefer_key)}

    def required(self) -> set[str]:
        return set(self.detect.all_of)

    def fits(self, available: set[str]) -> bool:
        return self.required() <= available and all(
            any(name in available for name in group) for group in self.detect.any_of
        )

    def score(self, available: set[str]) -> int:
        return len(self.source_roots() & available)

    def missing_columns(self, available: set[str]) -> list[str]:
        """The ``detect.all`` and key columns a file lacks, and each ``detect.any`` group of
        which it has no column at all, written ``信息资源名称|目录名称|…``. A mapping given
        explicitly must not run on such a file: without its key column records would match by
        position, without any of a group's columns nearly every record would be rejected."""
        needed = [*self.detect.all_of, *(_root(k) for k in self.key)]
        missing = [name for name in dict.fromkeys(needed) if name not in available]
        for group in self.detect.any_of:
            if group and not any(name in available for name in group):
                missing.append("|".join(group))
        return missing

    # --- turning a record into entry fields ------------------------------------------
    def _plan(self) -> list[tuple[str, FieldRule, str | None]]:
        """(field, rule, transform name) for each field, worked out once per mapping."""
        if self._compiled is None:
            self._compiled = [
                (field, rule, rule.transform or _IMPLIED_TRANSFORMS.get(field))
                for field, rule in self.fields.items()
            ]
        return self._compiled

    def apply(self, record: dict[str, Any]) -> tuple[dict[str, Any], list[FieldProblem]]:
        """Entry field values for one source record (``SourceRecord.fields``), and the
        problems found (see the module)."""
        values: dict[str, Any] = {}
        problems: list[FieldProblem] = []
        interval: str | None = None
        for field, rule, transform in self._plan():
            raw = _MISSING
            raw_blank = True
            for source in rule.sources:
                candidate = record[source] if source in record else lookup(record, source)
                if candidate is _MISSING:
                    continue
                raw = candidate
                raw_blank = _blank(candidate)
                if not raw_blank:
                    break
            if raw is _MISSING:
                if rule.default is not None:
                    values[field] = rule.default
                continue
            mapped = rule.value_for(raw) if rule.values and isinstance(raw, str) else _MISSING
            if mapped is not _MISSING:
                raw = mapped
            elif raw_blank:
                values[field] = rule.default  # blank cells mean "no value", not ""
                continue
            if field == "updated_at" and isinstance(raw, str) and _INTERVAL.match(raw.strip()):
                interval = raw.strip()
                continue
            if transform:
                try:
                    raw = TRANSFORMS[transform](raw)
                except (ValueError, TypeError) as exc:
                    problems.append(unreadable(field, raw, exc))
                    continue
                if _empty(raw):
                    raw = rule.default
            values[field] = raw
        if interval is not None:
            problems.append(interval_as_modified(interval, values))
        for field, default in self.defaults.items():
            if _empty(values.get(field)):
                values[field] = default
        return values, problems

    def source_of(self, field: str, record: dict[str, Any] | None = None) -> str:
        """How a person finds an entry field in the source file: "更新频率 (update_cycle)"."""
        rule = self.fields.get(field.split(".", 1)[0])
        if rule is None:
            return field
        present = [
            s for s in rule.sources if record is not None and lookup(record, s) is not _MISSING
        ]
        return f"{(present or rule.sources)[0]} ({field})"

    def record_key(self, record: dict[str, Any], values: dict[str, Any]) -> str | None:
        """The record's identity in its source, whatever the mapping is called (see the
        module and catalog.importing.identity): ``[<source>/]<meaning>:<sha1>``; None when the
        mapping names no key. ``values`` (the mapped values) are not needed: identity is read
        from the record, before defaults."""
        return identity.record_key(self, record)

    def legacy_key(self, record: dict[str, Any], values: dict[str, Any]) -> str | None:
        """The identity entries were given before issue 12: ``<mapping name>:<sha1>``."""
        return identity.legacy_key(self, record, values)

    def with_source(self, source: str | None) -> Mapping:
        """A copy whose record keys live in ``source``'s namespace (the importer's
        ``--source``); None or blank: the mapping's own ``source``."""
        if source is None or not source.strip():
            return self.model_copy()
        return self.model_copy(update={"source": identity.valid_source(source)})

    def meanings_cache(self) -> dict[str, list[tuple[str, str | None]]]:
        """Where catalog.importing.identity keeps the key's meanings, worked out once."""
        return self._meanings


# --- loading ---------------------------------------------------------------------------
def load_mapping(path: Path) -> Mapping:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise MappingError(f"{path}: cannot read mapping: {exc}") from exc
    try:
        return Mapping.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise MappingError(f"{path}: invalid mapping: {problems}") from exc


def shipped_mappings() -> list[Mapping]:
    folder = resources.files("catalog.importing") / "mappings"
    found = []
    for item in sorted(folder.iterdir(), key=lambda i: i.name):
        if item.name.endswith(".yaml"):
            with resources.as_file(item) as path:
                found.append(load_mapping(path))
    return found


def resolve_mapping(name_or_path: str) -> Mapping:
    """A shipped mapping by name, or a mapping file by path."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") and path.exists():
        return load_mapping(path)
    for mapping in shipped_mappings():
        if mapping.name == name_or_path:
            return mapping
    names = ", ".join(m.name for m in shipped_mappings())
    raise MappingError(f"no mapping {name_or_path!r}: give a YAML file or one of: {names}")


def available_fields(records: Iterable[Any], sample: int = 200) -> set[str]:
    """The field names of the first ``sample`` records (``SourceRecord``s or plain dicts)."""
    fields: set[str] = set()
    for record in islice(records, sample):
        found = getattr(record, "fields", record)
        if isinstance(found, dict):
            fields.update(k for k in found if k != "__row__")
    return fields


def iter_candidates(
    document: Any, mappings: list[Mapping]
) -> Iterator[tuple[Mapping, Iterable[Any]]]:
    for mapping in mappings:
        records = document.records(mapping.records)
        if records is not None:
            yield mapping, records


def detect_mapping(
    document: Any, mappings: list[Mapping] | None = None
) -> tuple[Mapping, Iterable[Any]]:
    """The shipped mapping that fits the document best, with the records it reads.

    Raises MappingError naming the file's fields that no mapping covers.
    """
    mappings = shipped_mappings() if mappings is None else mappings
    best: tuple[int, Mapping, Iterable[Any]] | None = None
    closest: tuple[int, Mapping, set[str]] | None = None
    for mapping, records in iter_candidates(document, mappings):
        fields = available_fields(records)
        score = mapping.score(fields)
        if mapping.fits(fields) and (best is None or score > best[0]):
            best = (score, mapping, records)
        if closest is None or score > closest[0]:
            closest = (score, mapping, fields)
    if best is not None:
        return best[1], best[2]
    if closest is None:
        raise MappingError(
            f"{document.path}: no records found (a JSON file needs a list of "
            "records, or an object holding one)"
        )
    _, mapping, fields = closest
    unmapped = sorted(fields - mapping.source_roots())
    missing = sorted(mapping.required() - fields)
    raise MappingError(
        f"{document.path}: no shipped mapping fits this file. Its fields not covered by the "
        f"closest mapping ({mapping.name}): {', '.join(unmapped) or '-'}"
        + (f"; that mapping also needs: {', '.join(missing)}" if missing else "")
        + ". Write a mapping YAML (docs/mappings.md) and pass --mapping FILE."
    )
