"""What ``Directory.apply`` takes and gives (``EntryRecord`` in; ``ApplyResult`` and
``RowError`` problems out), how a candidate is validated (``validate_entry``), and what
mappings share with it: the field labels users know, the required fields and the
provider-contact targets (the placeholders that mean "no value" are ``schemas.placeholders``)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import ValidationError

from schemas.entry import CatalogueEntry, catalogue_now
from schemas.messages import Reason, reason_of

SEQUENCE_DIGITS = 6
# Mapping targets that describe the provider, not the entry: they fill the organisation's
# contact (联系人/联系电话/联系邮箱) where it has none.
CONTACT_FIELDS = {
    "provider_contact_name": "contact_name",
    "provider_contact_phone": "contact_phone",
    "provider_contact_email": "contact_email",
}
CONTACT_LABELS = {
    "provider_contact_name": "提供方联系人",
    "provider_contact_phone": "提供方联系电话",
    "provider_contact_email": "提供方联系邮箱",
}
LABELS = {
    name: info.title or name for name, info in CatalogueEntry.model_fields.items()
} | CONTACT_LABELS
REQUIRED_FIELDS = frozenset(
    name for name, info in CatalogueEntry.model_fields.items() if info.is_required()
)

Severity = Literal["warning", "reject"]  # as catalog.importing.records.Severity


Found = tuple[str, Reason, Any]  # (entry field, reason, the value)


def validate_entry(
    fields: dict[str, Any], *, lenient: bool
) -> tuple[CatalogueEntry | None, list[Found], list[Found]]:
    """The model, the warnings of dropped optional fields, and the rejects (no model). With
    ``lenient`` an optional field that cannot be read is dropped (``fields`` loses it) with an
    ``unreadable_optional`` warning; only required fields reject."""
    warnings: list[Found] = []
    for _ in range(3):  # a dropped field takes its default, which validates
        try:
            return CatalogueEntry.model_validate(fields), warnings, []
        except ValidationError as exc:
            found = [(_field_of(e), reason_of(e, LABELS), e.get("input")) for e in exc.errors()]
        blocking = [
            problem
            for problem in found
            if not lenient or problem[0] in REQUIRED_FIELDS or problem[0] not in fields
        ]
        if blocking:
            return None, [], blocking
        for name, reason, _ in found:
            if name in fields:
                value = fields.pop(name)
                params = {"label": LABELS.get(name, name), "value": value, "detail": reason}
                warnings.append((name, Reason("unreadable_optional", params), value))
    detail = "; ".join(reason.text() for _, reason, _ in found)
    return None, [], [("record", Reason("unparseable_record", {"detail": detail}), None)]


def _field_of(error: Any) -> str:
    loc = error.get("loc") or ()
    return str(loc[0]) if loc else "record"


def now_local() -> dt.datetime:
    return catalogue_now()


def local_org_code(name: str) -> str:
    """A stable local 提供方代码 for a body whose 统一社会信用代码 the source does not give."""
    return "L" + hashlib.sha1(name.encode("utf-8")).hexdigest()[:9].upper()


def source_record_text(fields: dict[str, Any] | None) -> str | None:
    """The source record as stored: JSON, keys in the file's order."""
    if fields is None:
        return None
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":"), default=str)


@dataclass(frozen=True, slots=True)
class EntryRecord:
    """A candidate entry: field values (model field names, plus ``provider_contact_*``) from
    an import or a user."""

    fields: dict[str, Any]
    row: int | None = None
    source_key: str | None = None  # the record's identity in its source (Mapping.record_key)
    raw: Any = None  # the record as read (verbatim text or fields), kept for reject reports
    source_record: dict[str, Any] | None = None  # every field the source record had
    legacy_key: str | None = None  # its identity before issue 12 (Mapping.legacy_key)


@dataclass(frozen=True, slots=True)
class RowError:
    """A problem of one record: what ``on_problem`` is given, or ``ApplyResult`` keeps. It has
    the attributes of ``catalog.importing.records.Problem`` (row, field, reason, severity,
    value; field = the entry field) and the record."""

    row: int | None
    field: str  # the entry field ("record" for the whole record)
    reason: Reason
    record: Any
    severity: Severity = "reject"
    value: Any = None

    def message(self, lang: Any = "zh") -> str:
        """The reason, prefixed with the field's label when the reason does not name it."""
        text = self.reason.text(lang)
        label = LABELS.get(self.field.split(".", 1)[0], self.field)
        return text if label in text or self.field == "record" else f"{label}: {text}"


ProblemHandler = Callable[[RowError], None]


@dataclass
class ApplyResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0  # records that did not land
    warned: int = 0  # records that landed with a warning
    errors: list[RowError] = field(default_factory=list)  # rejects (without on_problem)
    warnings: list[RowError] = field(default_factory=list)  # warnings (without on_problem)
    codes: list[str] = field(default_factory=list)  # with keep_codes only

    def merge(self, other: ApplyResult) -> None:
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.rejected += other.rejected
        self.warned += other.warned
        self.errors.extend(other.errors)
        self.warnings.extend(other.warnings)
        self.codes.extend(other.codes)
