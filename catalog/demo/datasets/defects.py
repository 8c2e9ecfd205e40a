"""Planting realistic defects into a generated table, counted per spec rule (``column:rule``)
so the tests can check that the quality suite finds exactly them."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from catalog.demo.datasets import values as dv


class Defects:
    """Plants defects into a table and keeps their counts."""

    def __init__(self, table: pa.Table | None = None) -> None:
        self._table = table  # None: the dataset's file is written elsewhere, only counts kept
        self.counts: dict[str, int] = {}
        self.texts: list[str] = []

    @property
    def table(self) -> pa.Table:
        """The table with the defects planted so far."""
        assert self._table is not None, "Defects() made without a table only counts defects"
        return self._table

    def add(self, key: str, rows: int, text: str) -> None:
        self.counts[key] = self.counts.get(key, 0) + rows
        self.texts.append(f"{rows} {text}")

    def plant(self, column: str, rows: np.ndarray, values, key: str | None, text: str) -> None:
        """Set ``column`` at ``rows`` to ``values`` (or ``values(old)``); count them under
        ``key`` (None: a defect no spec rule sees, only described)."""
        array = self.table[column].combine_chunks()
        new = values(array.take(rows)) if callable(values) else values
        self._table = self.table.set_column(
            self.table.column_names.index(column), column, dv.patch(array, rows, new)
        )
        if key is None:
            self.texts.append(f"{len(rows)} {text}")
        else:
            self.add(key, len(rows), text)
