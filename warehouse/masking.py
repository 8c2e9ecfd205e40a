"""Masking personal data (个人信息脱敏, issue 13) in SQL, so every channel masks the same way and
the clear value never leaves DuckDB: portal samples, REST data, downloads, CKAN
datastore_search and per-user analyst sessions all select ``masked(column)``.

The rule (also the portal's since issue 4): a value of more than 6 characters keeps its first
3 and last 2 characters, the rest become ``*`` (身份证号 110105********1234 → ``110*************34``);
a shorter one becomes ``***``; NULL stays NULL. The result is text whatever the column's type.
"""

from __future__ import annotations

from warehouse.lake import quote_identifier


def masked(column: str) -> str:
    """A DuckDB expression: ``column``'s value masked, named ``column``."""
    text = f"CAST({quote_identifier(column)} AS VARCHAR)"
    return (
        f"CASE WHEN {text} IS NULL THEN NULL "
        f"WHEN length({text}) > 6 THEN left({text}, 3) || repeat('*', length({text}) - 5) "
        f"|| right({text}, 2) ELSE '***' END AS {quote_identifier(column)}"
    )


def select_list(columns: tuple[str, ...] | list[str], masked_columns: frozenset[str]) -> str:
    """``col1, masked(col2), …`` in ``columns`` order."""
    return ", ".join(masked(c) if c in masked_columns else quote_identifier(c) for c in columns)


def mask_value(value: object) -> object:
    """The same rule in Python, for values already read (tests compare the two)."""
    if value is None:
        return None
    text = str(value)
    return text[:3] + "*" * (len(text) - 5) + text[-2:] if len(text) > 6 else "***"
