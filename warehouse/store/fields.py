"""Column names and value types of the catalogue's tables, the same in every store
implementation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

ENTRY_FIELDS = (
    "code",
    "name",
    "category_name",
    "provider_code",
    "provider_name",
    "summary",
    "format_category",
    "formats",
    "data_items",
    "share_type",
    "share_condition",
    "share_method",
    "open_type",
    "update_cycle",
    "published_at",
    "updated_at",
    "published_precision",
    "updated_precision",
    "related_codes",
    "theme",
    "tags",
    "landing_page",
    "status",
)
JSON_FIELDS = frozenset({"formats", "data_items", "related_codes", "tags"})
TRACKING_FIELDS = (
    "classification",
    "resource_class",
    "source",
    "source_key",
    "source_record",  # every field of the source record, JSON text (not diffed: no history)
    "version",
    "created_at",
    "modified_at",
)
ORGANISATION_FIELDS = (
    "code",
    "name",
    "parent_code",
    "kind",
    "contact_name",
    "contact_phone",
    "contact_email",
)
# Columns an entry count may be grouped by (``EntryRepository.counts``).
COUNT_COLUMNS = (
    "provider_code",
    "share_type",
    "update_cycle",
    "open_type",
    "resource_class",
    "status",
)

EntryKey = Literal["code", "source_key"]


@dataclass(frozen=True)
class EntryPage:
    """One page of a filtered entry listing and how many entries match in all."""

    total: int
    entries: list[dict[str, Any]]


# How quality scores are grouped: per catalogue entry or per organisation (提供方).
ScoreKey = Literal["entry", "organisation"]

# The audit log's columns in table order (issue 13): the store hashes every one but ``hash``;
# exports write them all.
AUDIT_COLUMNS = (
    "seq",
    "at",
    "actor",
    "actor_org",
    "action",
    "channel",
    "dataset",
    "entry_code",
    "columns",
    "rows",
    "grant_id",
    "purpose",
    "remote",
    "detail",
    "prev_hash",
    "hash",
)
