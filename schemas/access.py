"""What one principal may read of one dataset now (issue 13): the view every data channel
(portal samples, REST data, downloads, CKAN datastore_search, analyst sessions) applies. Built
by ``catalog.sharing.grants`` from a grant, open data or ownership; applied by the warehouse
(``warehouse.masking``, ``warehouse.granted``). Pure data."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

# owner: the providing organisation's own users; grant: a live grant (共享授权);
# open: 无条件开放 open data (everyone, anonymous too; PII always masked).
Basis = Literal["owner", "grant", "open"]


@dataclass(frozen=True)
class DataAccess:
    """Columns in the order shown; ``masked`` ⊆ ``columns`` are shown masked; ``row_filter``
    keeps rows whose column's value is one of the listed values (all pairs must hold)."""

    dataset: str  # the dataset spec's name
    table: str  # the lake table serving it
    columns: tuple[str, ...]
    masked: frozenset[str] = frozenset()
    row_filter: tuple[tuple[str, tuple[str, ...]], ...] = ()
    basis: Basis = "grant"
    grant_id: int | None = None
    purpose: str | None = None
    entry_code: str | None = None
    expires_at: str | None = None
    pii: frozenset[str] = field(default_factory=frozenset)  # the spec's PII columns
