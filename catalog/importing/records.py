"""What readers hand to the importer: source records with their row, their verbatim text and
the problems found while reading them.

A problem is a warning (the record lands; the raw value is kept beside it and the row is
reported) or a reject (the record does not land; the raw record is kept verbatim). Every
problem names file, row, field and a ``Reason`` rendered in the reader's language.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from schemas.messages import Lang, Reason

Severity = Literal["warning", "reject"]


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with one record (or one field of it)."""

    row: int | None  # the row a person would look for: spreadsheet row (header = 1), JSON position
    field: str  # the source field as named in the file, e.g. "更新频率 (update_cycle)"; "record"
    reason: Reason
    severity: Severity = "reject"
    value: Any = None  # the raw value concerned, kept beside the report

    def text(self, lang: Lang = "zh") -> str:
        return self.reason.text(lang)

    def as_dict(self, lang: Lang = "zh") -> dict[str, Any]:
        return {
            "row": self.row,
            "field": self.field,
            "severity": self.severity,
            "code": self.reason.code,
            "reason": self.reason.text(lang),
        }


@dataclass(slots=True)
class SourceRecord:
    """One record as read from a file."""

    row: int
    fields: dict[str, Any]  # source field name -> value as read (bad characters already U+FFFD)
    raw: str  # the record's verbatim text: CSV line(s), JSON object text, Excel cells as JSON
    problems: list[Problem] = field(default_factory=list)

    @property
    def rejected(self) -> bool:
        return any(p.severity == "reject" for p in self.problems)
