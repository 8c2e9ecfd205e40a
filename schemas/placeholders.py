"""Text a source writes where it has no value (暂无, 无, -, /, null, N/A …): one list for the
whole project (mappings, transforms and the directory's contact filling)."""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from typing import Any

# Values that stand for "nothing here" in real exports (compared NFKC-folded, lower case).
PLACEHOLDERS = frozenset(
    {
        "暂无",
        "无",
        "空",
        "暂无数据",
        "无数据",
        "-",
        "--",
        "—",
        "——",
        "/",
        "\\",
        "null",
        "none",
        "nil",
        "n/a",
        "#n/a",
        "nan",
        "undefined",
        "[]",
        "{}",
        "(空)",
    }
)
# Longer text is never a placeholder: it is not normalised at all (NFKC on a long summary costs
# far more than the whole check).
_LONGEST = 12


def is_placeholder(value: Any) -> bool:
    """True for None, blank text and the placeholders exports write for "no value" (暂无, 无,
    -, /, null, NULL, N/A, none …); False for anything else, other types included."""
    if value is None:
        return True
    if not isinstance(value, str):
        return False
    text = value.strip()
    if len(text) > _LONGEST:
        return False
    return _short_placeholder(text)


@lru_cache(maxsize=8192)
def _short_placeholder(text: str) -> bool:
    # Short values repeat across records (a cycle, a department, 暂无): normalise each once.
    folded = unicodedata.normalize("NFKC", text).strip().lower()
    return not folded or folded in PLACEHOLDERS
