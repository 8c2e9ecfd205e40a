"""What the search index (目录检索) holds, the same in every store implementation.

The rules (jieba segmentation, abbreviations, pinyin, ranking, facet counting) live in
``catalog.search``; the store keeps what they produce and answers the reads they need. A
query's FTS expression uses the field names of ``TEXT_FIELDS`` (``chars : "社保卡"``); it is
a query string for the full-text engine, passed as a value like any other.

Sets of index ids travel as numpy int64 arrays: a broad query matches every entry (357,000 at
the largest benchmark), and a Python int per match would cost more than the search itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:  # numpy only for the types: the store must not load it on import
    import numpy as np
    import numpy.typing as npt


Ids: TypeAlias = "npt.NDArray[np.int64]"

# The full-text fields of a document, in the order bm25 weights are given.
TEXT_FIELDS = ("name", "chars", "pinyin", "tags", "category", "provider", "items", "summary")
# Facets whose values the index numbers (a document's value of each, as an id).
VALUE_FACETS = ("organisation", "category", "share_type", "open_type", "update_cycle", "formats")
# The columns of ``FacetColumns``: the value-id facets, then freshness deadlines (seconds; NaN
# for none), 最近更新时间 (seconds; -1 for none) and the name's length.
FACET_COLUMNS = ("active", *VALUE_FACETS, "tracked", "soon_at", "overdue_at", "updated", "name_len")
FLOAT_COLUMNS = frozenset({"soon_at", "overdue_at", "updated"})

# The search_docs table, the same in both stores: the columns written from a SearchDocument,
# the id column of each value facet, and the entries' columns a document is built from.
DOC_COLUMNS = (
    "code",
    "name",
    "name_key",
    "provider_code",
    "provider_name",
    "category",
    "share_type",
    "open_type",
    "update_cycle",
    "formats",
    "summary",
    "updated_at",
    "tracked",
    "soon_at",
    "overdue_at",
)
VALUE_ID_COLUMNS = {
    "organisation": "v_org",
    "category": "v_category",
    "share_type": "v_share",
    "open_type": "v_open",
    "update_cycle": "v_cycle",
    "formats": "v_formats",
}
INDEXED_ENTRY_COLUMNS = (
    "code",
    "name",
    "category_name",
    "resource_class",
    "provider_code",
    "provider_name",
    "summary",
    "formats",
    "data_items",
    "share_type",
    "open_type",
    "update_cycle",
    "tags",
    "updated_at",
    "status",
)


@dataclass(frozen=True, slots=True)
class SearchDocument:
    """One active entry as the index keeps it: display fields, facet values, freshness
    deadlines, and its text per ``TEXT_FIELDS`` field (jieba tokens joined by spaces)."""

    code: str
    name: str
    name_key: str  # the name compacted (exact-name lookups)
    provider_code: str | None
    provider_name: str | None  # the organisation facet's value
    category: str | None
    share_type: str | None
    open_type: str | None
    update_cycle: str | None
    formats: str  # the format set, also the formats facet's value: "|CSV|XLS|"
    summary: str
    updated_at: str | None
    tracked: bool
    soon_at: float | None  # seconds since 1970 of catalogue time (read as if UTC)
    overdue_at: float | None
    text: dict[str, str]  # TEXT_FIELDS field -> text

    def facet_value(self, facet: str) -> str | None:
        field = "provider_name" if facet == "organisation" else facet
        value: str | None = getattr(self, field)
        return value


@dataclass(frozen=True, slots=True)
class Deadlines:
    """An entry's freshness columns, recomputed when the policies change."""

    code: str
    tracked: bool
    soon_at: float | None
    overdue_at: float | None


@dataclass(frozen=True, slots=True)
class IndexState:
    index_id: str | None  # changes on every rebuild
    generation: int  # grows with every change of the index's rows


@dataclass(frozen=True, slots=True)
class FacetColumns:
    """Per index id, the ``FACET_COLUMNS`` of the documents read (``ids[i]`` has
    ``columns[name][i]``)."""

    ids: Ids
    columns: dict[str, npt.NDArray[np.float64] | Ids]
