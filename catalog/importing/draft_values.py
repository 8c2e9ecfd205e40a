"""Reading a column's values for a drafted mapping: does the entry model accept a value, and
what known value does a local spelling mean (每年一次 → 每年, 按季 → 每季度, public → 无条件共享)?

Only spellings that map to a value the entry model then accepts are guessed; anything else is
left for the person to map, and the draft lists it.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache, lru_cache
from typing import Any

from pydantic import ValidationError

from catalog.importing.mapping import _IMPLIED_TRANSFORMS, resolve_mapping
from catalog.importing.transforms import TRANSFORMS
from schemas.cycles import parse_update_cycle
from schemas.entry import CatalogueEntry

_URL = re.compile(r"^(https?|ftp)://\S+$", re.IGNORECASE)
# The smallest entry the model accepts; a field's value is tried in it.
_BASE_ENTRY = {
    "code": "101001/000001",
    "name": "x",
    "provider_name": "x",
    "share_type": "无条件共享",
}
_EN_UNITS = {
    "hour": "小时",
    "day": "日",
    "week": "周",
    "month": "月",
    "quarter": "季度",
    "year": "年",
}
_CYCLE_WORDS = re.compile(
    r"^(?:按|每|逐)?(\d+|[一二两三四五六七八九十]+)?(个)?(小时|时|日|天|周|星期|月|季度|季|年)度?$"
)
_EN_CYCLE = re.compile(
    r"^(?:every|once an?|once per|per)?\s*(\d+)?\s*(hour|day|week|month|quarter|year)s?$"
)


@cache
def dcat_access() -> dict[str, str]:
    """DCAT-US accessLevel → 共享类型, read from the shipped dcat-us mapping (one list)."""
    rule = resolve_mapping("dcat-us").fields["share_type"]
    return {level.lower(): share for level, share in (rule.values or {}).items()}


def is_url(value: Any) -> bool:
    return isinstance(value, str) and bool(_URL.match(value.strip()))


@lru_cache(maxsize=4096)
def _accepted(target: str, value: Any) -> bool:
    transform = _IMPLIED_TRANSFORMS.get(target)
    try:
        candidate = TRANSFORMS[transform](value) if transform else value
        CatalogueEntry.model_validate({**_BASE_ENTRY, target: candidate})
    except ValidationError as exc:
        return not any(error["loc"][:1] == (target,) for error in exc.errors())
    except (ValueError, TypeError):
        return False
    return True


def accepted_by_entry(target: str, value: Any) -> bool:
    """Whether the entry model reads ``value`` for ``target`` (after the mapping's implied
    transform: dates go through the ``date`` transform as on import)."""
    if isinstance(value, list | dict):
        return False
    return _accepted(target, value)


def guess_cycle(value: Any) -> str | None:
    """The 更新周期 label a local spelling means (每年一次, 一年, 按年, 季, 半月, 两年一次,
    every 2 weeks), or None."""
    text = unicodedata.normalize("NFKC", str(value)).strip().lower()
    text = re.sub(r"\s+", "" if re.search(r"[\u4e00-\u9fff]", text) else " ", text)
    text = re.sub(r"(更新)?(一次|1次|次)$", "", text).removesuffix("更新").removeprefix("更新")
    text = text.removesuffix("一更").removesuffix("更")  # 周更, 月更
    text = text.removeprefix("每").removeprefix("按")
    if text.startswith("半") and text[1:] in ("年", "年度"):
        return "每半年"
    if text.startswith("半") and text[1:] in ("月", "个月"):
        return _label("每15日")
    candidate = None
    if match := _CYCLE_WORDS.match(text):
        # schemas.cycles reads the count (Chinese numerals, 个) and the unit itself.
        candidate = f"每{match.group(1) or ''}{match.group(2) or ''}{match.group(3)}"
    elif match := _EN_CYCLE.match(text):
        number = int(match.group(1) or 1)
        unit = _EN_UNITS[match.group(2)]
        candidate = f"每{unit}" if number == 1 else f"每{number}{unit}"
    elif text in ("biweekly", "fortnightly"):
        candidate = "每2周"
    return _label(candidate) if candidate else None


def _label(text: str) -> str | None:
    try:
        return parse_update_cycle(text).label
    except ValueError:
        return None


def guess_share_type(value: Any) -> str | None:
    """The 共享类型 a spelling means (readable ones as themselves), or None."""
    text = unicodedata.normalize("NFKC", str(value)).strip().lower()
    if accepted_by_entry("share_type", text):
        return str(CatalogueEntry.model_validate({**_BASE_ENTRY, "share_type": text}).share_type)
    if text in dcat_access():
        return dcat_access()[text]
    if "不予" in text or "不共享" in text or "不可共享" in text or "不能共享" in text:
        return "不予共享"
    if "有条件" in text or "依申请" in text or "部分共享" in text:
        return "有条件共享"
    if "无条件" in text or text in ("可共享", "完全共享", "共享"):
        return "无条件共享"
    return None


def guess_open_type(value: Any) -> str | None:
    """开放属性 for yes/no answers (是否向社会开放: 是 / 否); other spellings are kept as written
    by the model, so they need no map."""
    text = unicodedata.normalize("NFKC", str(value)).strip().lower()
    if text in ("是", "y", "yes", "true"):
        return "无条件开放"
    if text in ("否", "n", "no", "false"):
        return "不予开放"
    return None
