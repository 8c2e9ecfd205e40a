"""Blank text: what counts as blank in a cell, and header names cleaned of it."""

from __future__ import annotations

from collections.abc import Sequence

# Blank means empty: ordinary and full-width (U+3000) spaces, tabs and line ends.
BLANKS = " \t\r\n\u3000"


def clean_names(raw: Sequence[str | None]) -> list[str]:
    """Header names without surrounding blanks; empty ones named ``column<N>`` (N: 1-based
    position), repeats suffixed _1, _2 (``repeated_names`` says which were repeated)."""
    names: list[str] = []
    for position, raw_name in enumerate(raw, 1):
        name = (raw_name or "").strip(BLANKS) or f"column{position}"
        base, suffix = name, 0
        while name in names:
            suffix += 1
            name = f"{base}_{suffix}"
        names.append(name)
    return names


def repeated_names(raw: Sequence[str | None]) -> dict[str, list[int]]:
    """Header names (without surrounding blanks) given more than once, with their 1-based
    positions: ``{"姓名": [1, 6]}``. Empty cells are not names."""
    positions: dict[str, list[int]] = {}
    for position, raw_name in enumerate(raw, 1):
        name = (raw_name or "").strip(BLANKS)
        if name:
            positions.setdefault(name, []).append(position)
    return {name: found for name, found in positions.items() if len(found) > 1}
