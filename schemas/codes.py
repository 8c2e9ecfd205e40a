"""Identifier codes: 信息资源代码 (GB/T 21063.5 style) and 统一社会信用代码 (GB 32100-2015)."""

from __future__ import annotations

import re
from dataclasses import dataclass

# 资源属性 classes (类) of the 2017 编制指南.
RESOURCE_CLASSES = {"1": "基础信息资源", "2": "主题信息资源", "3": "部门信息资源"}

# 分类码 = 类 (1 digit) + 项 (2) + 目 (3) + 细目 (optional, digits); 顺序码 = digits.
# The separator between 分类码 and 顺序码 is not confirmed by the standard's public text; we
# write "/" and also accept "-" on input.
_RESOURCE_CODE = re.compile(r"^([1-3])([0-9]{2})([0-9]{3})([0-9]{0,6})[/-]([0-9]{3,8})$")
RESOURCE_CODE_FORMAT = "分类码/顺序码, e.g. 101001/000001 (类 1-3, 项 2 digits, 目 3 digits, optional 细目 digits; 顺序码 3-8 digits)"


@dataclass(frozen=True, slots=True)
class ResourceCode:
    """A parsed 信息资源代码."""

    resource_class: str  # 类
    item: str  # 项
    catalogue: str  # 目
    detail: str  # 细目 ("" when absent)
    sequence: str  # 顺序码

    @property
    def classification(self) -> str:
        """分类码: 类 + 项 + 目 + 细目."""
        return self.resource_class + self.item + self.catalogue + self.detail

    def __str__(self) -> str:
        return f"{self.classification}/{self.sequence}"


def parse_resource_code(raw: str) -> ResourceCode:
    """Parse a 信息资源代码; raise ValueError naming the expected format."""
    text = str(raw).strip()
    match = _RESOURCE_CODE.match(text)
    if not match:
        raise ValueError(f"bad 信息资源代码 {text!r}: expected {RESOURCE_CODE_FORMAT}")
    return ResourceCode(*match.groups())


def normalise_resource_code(raw: str) -> str:
    return str(parse_resource_code(raw))


# --- 统一社会信用代码 (unified social credit code), GB 32100-2015 -------------------------
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # no I, O, S, V, Z
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
# [0-9], not \d: \d also matches full-width digits such as ０.
_USCC = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$")


def uscc_check_char(first17: str) -> str:
    """The 18th character of a 统一社会信用代码 for its first 17."""
    total = sum(_USCC_ALPHABET.index(c) * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return _USCC_ALPHABET[(31 - total % 31) % 31]


def is_valid_uscc(code: str) -> bool:
    """True when ``code`` is a well-formed 统一社会信用代码 with a correct check character."""
    code = str(code).strip().upper()
    return bool(_USCC.match(code)) and uscc_check_char(code[:17]) == code[17]


# 组织机构代码 (GB 11714) check digit: the 9th character of the organisation code inside a USCC.
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_ORG_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def org_code_check_char(first8: str) -> str:
    total = sum(_ORG_ALPHABET.index(c) * w for c, w in zip(first8, _ORG_WEIGHTS, strict=True))
    value = 11 - total % 11
    return {10: "X", 11: "0"}.get(value, str(value))


def make_uscc(registration: str, region: str, org_body: str) -> str:
    """Build a valid 统一社会信用代码 from its parts.

    ``registration`` is the 2-character 登记管理部门 + 机构类别 code (e.g. "11" for 机关),
    ``region`` the 6-digit 行政区划代码, ``org_body`` the first 8 characters of the 组织机构代码.
    """
    first17 = registration + region + org_body + org_code_check_char(org_body)
    return first17 + uscc_check_char(first17)
