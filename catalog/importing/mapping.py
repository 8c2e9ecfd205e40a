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
"""

from __future__ import annotations

import hashlib
import json
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

from catalog.importing.transforms import TRANSFORMS
from schemas.entry import CatalogueEntry
from schemas.errors import InvalidInput

_MISSING = object()
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
    classification: str = Field("300000", description="分类码 for entries the source gives no code")
    fields: dict[str, FieldRule]
    defaults: dict[str, Any] = Field(default_factory=dict)
    _compiled: list[tuple[str, FieldRule, str | None]] | None = PrivateAttr(None)

    @field_validator("fields", "defaults", "key_fields")
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
        return roots | {_root(k) for k in self.key}

    def required(self) -> set[str]:
        return set(self.detect.all_of)

    def fits(self, available: set[str]) -> bool:
        return self.required() <= available and all(
            any(name in available for name in group) for group in self.detect.any_of
        )

    def score(self, available: set[str]) -> int:
        return len(self.source_roots() & available)

    # --- turning a record into entry fields ------------------------------------------
    def _plan(self) -> list[tuple[str, FieldRule, str | None]]:
        """(field, rule, transform name) for each field, worked out once per mapping."""
        if self._compiled is None:
            self._compiled = [
                (field, rule, rule.transform or _IMPLIED_TRANSFORMS.get(field))
                for field, rule in self.fields.items()
            ]
        return self._compiled

    def apply(self, record: dict[str, Any]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        """Entry field values for one source record, and (field, reason) errors."""
        values: dict[str, Any] = {}
        errors: list[tuple[str, str]] = []
        for field, rule, transform in self._plan():
            raw = _MISSING
            for source in rule.sources:
                candidate = record[source] if source in record else lookup(record, source)
                if candidate is _MISSING:
                    continue
                raw = candidate
                if not _empty(candidate):
                    break
            if raw is _MISSING:
                if rule.default is not None:
                    values[field] = rule.default
                continue
            if _empty(raw):
                values[field] = rule.default  # blank cells mean "no value", not ""
                continue
            if rule.values and isinstance(raw, str) and raw.strip() in rule.values:
                raw = rule.values[raw.strip()]
            if transform:
                try:
                    raw = TRANSFORMS[transform](raw)
                except (ValueError, TypeError) as exc:
                    errors.append((f"{rule.sources[0]} ({field})", f"{transform}: {exc}"))
                    continue
                if _empty(raw):
                    raw = rule.default
            values[field] = raw
        for field, default in self.defaults.items():
            if _empty(values.get(field)):
                values[field] = default
        return values, errors

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
        """A stable identity of the record in this source, for idempotent re-import."""
        if not self.key and not self.key_fields:
            return None
        parts = [lookup(record, k) for k in self.key] + [values.get(k) for k in self.key_fields]
        text = json.dumps(
            [None if p is _MISSING else p for p in parts], ensure_ascii=False, default=str
        )
        return f"{self.name}:{hashlib.sha1(text.encode('utf-8')).hexdigest()[:20]}"


def _root(source: str) -> str:
    return source.split(".", 1)[0].removesuffix("[]")


def _empty(value: Any) -> bool:
    """None, blank text, or an empty list/object: "no value" (hot path: type checks first)."""
    if value is None:
        return True
    kind = type(value)
    if kind is str:
        return not value or value.isspace()
    if kind is list or kind is dict:
        return not value
    return False


def lookup(record: dict[str, Any], path: str) -> Any:
    """Value at a dotted path; ``a[].b`` collects ``b`` from every item of list ``a``."""
    if path in record:
        return record[path]
    value: Any = record
    parts = path.split(".")
    for index, part in enumerate(parts):
        if part.endswith("[]"):
            items: Any = value.get(part[:-2], _MISSING) if isinstance(value, dict) else _MISSING
            if items is _MISSING:
                return _MISSING
            rest = ".".join(parts[index + 1 :])
            found = [
                lookup(item, rest) if rest else item
                for item in (items or [])
                if isinstance(item, dict) or not rest
            ]
            return [f for f in found if f is not _MISSING and not _empty(f)]
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


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


def available_fields(records: Iterable[dict[str, Any]], sample: int = 200) -> set[str]:
    fields: set[str] = set()
    for record in islice(records, sample):
        if isinstance(record, dict):
            fields.update(k for k in record if k != "__row__")
    return fields


def iter_candidates(
    document: Any, mappings: list[Mapping]
) -> Iterator[tuple[Mapping, Iterable[dict[str, Any]]]]:
    for mapping in mappings:
        records = document.records(mapping.records)
        if records is not None:
            yield mapping, records


def detect_mapping(
    document: Any, mappings: list[Mapping] | None = None
) -> tuple[Mapping, Iterable[dict[str, Any]]]:
    """The shipped mapping that fits the document best, with the records it reads.

    Raises MappingError naming the file's fields that no mapping covers.
    """
    mappings = shipped_mappings() if mappings is None else mappings
    best: tuple[int, Mapping, Iterable[dict[str, Any]]] | None = None
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
