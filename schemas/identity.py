"""Personal identifiers: 公民身份号码 (GB 11643-1999) and mainland 手机号.

Pure functions, no dependencies, so the demo generator, the quality layer and importers share
one definition of "valid". Like ``schemas.codes.is_valid_uscc``, the validators strip
surrounding whitespace and accept a lowercase ``x`` check character: both are how a correct
number is commonly written, not a different number. Loads store ``x`` as ``X``
(``normalise_id_card``).
"""

from __future__ import annotations

import datetime as dt
import re

# GB 11643-1999: weights 2^(17-i) mod 11 for the first 17 digits; check = CHECK_CHARS[sum % 11].
ID_CARD_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CARD_CHECK_CHARS = "10X98765432"
# 省级行政区划代码 (GB/T 2260): the first two digits of every issued number.
PROVINCE_CODES = frozenset(
    {
        "11",
        "12",
        "13",
        "14",
        "15",
        "21",
        "22",
        "23",
        "31",
        "32",
        "33",
        "34",
        "35",
        "36",
        "37",
        "41",
        "42",
        "43",
        "44",
        "45",
        "46",
        "50",
        "51",
        "52",
        "53",
        "54",
        "61",
        "62",
        "63",
        "64",
        "65",
        "71",
        "81",
        "82",
        "83",
    }
)
# The standard's own examples include a birth in 1880 (440524188001010014).
EARLIEST_BIRTH = dt.date(1800, 1, 1)

# Shape only (for regex-based checks such as expect_column_values_to_match_regex); the check
# digit, province and birth date need ``is_valid_id_card``.
ID_CARD_PATTERN = (
    r"^[1-9][0-9]{5}(?:18|19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"
    r"[0-9]{3}[0-9Xx]$"
)
# 中国大陆手机号: 11 digits, 1 then 3-9 (no carrier has used 10x/11x/12x numbers).
MOBILE_PATTERN = r"^1[3-9][0-9]{9}$"  # [0-9], not \d: \d also matches full-width digits

_ID_CARD = re.compile(r"^[0-9]{17}[0-9X]$")
# 17 digits and a lowercase check character x (surrounding blanks allowed): the same number as
# with X, which is how GB 11643 writes it. Loads store it with X (the SQL in
# warehouse/read/casts.py uses this pattern), so validation, joins and uniqueness see one value.
ID_CARD_LOWER_X = "^([ \t\u3000]*[0-9]{17})x([ \t\u3000]*)$"  # RE2 (DuckDB) reads it too
_LOWER_X = re.compile(ID_CARD_LOWER_X)
_MOBILE = re.compile(MOBILE_PATTERN)


def id_card_check_char(first17: str) -> str:
    """The 18th character of a 公民身份号码 for its first 17 digits (``0``-``9`` or ``X``)."""
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        raise ValueError(f"bad 身份证号 body {first17!r}: expected 17 digits")
    total = sum(int(c) * w for c, w in zip(first17, ID_CARD_WEIGHTS, strict=True))
    return ID_CARD_CHECK_CHARS[total % 11]


def normalise_id_card(number: str) -> str:
    """A 身份证号 as stored: a lowercase check character ``x`` after 17 digits becomes ``X``;
    anything else is returned as written (validation judges it)."""
    return _LOWER_X.sub(r"\1X\2", number)


def id_card_birth_date(number: str) -> dt.date | None:
    """The birth date inside an 18-character 身份证号, None when it is not a real date."""
    text = str(number).strip()
    try:
        return dt.date(int(text[6:10]), int(text[10:12]), int(text[12:14]))
    except ValueError:
        return None


def is_valid_id_card(number: object, *, today: dt.date | None = None) -> bool:
    """True for an 18-character 公民身份号码 with a known province, a real birth date (from 1800,
    and not after ``today`` when given) and a correct check character.

    15-digit numbers (issued before 1999, all expired) are not valid.
    """
    if not isinstance(number, str):
        return False
    text = number.strip().upper()
    if not _ID_CARD.match(text) or text[:2] not in PROVINCE_CODES:
        return False
    born = id_card_birth_date(text)
    if born is None or born < EARLIEST_BIRTH or (today is not None and born > today):
        return False
    return id_card_check_char(text[:17]) == text[17]


def make_id_card(region: str, birth: dt.date, sequence: int) -> str:
    """A valid 身份证号 from a 6-digit 行政区划代码, a birth date and a 顺序码 (0-999; odd for men,
    even for women)."""
    if len(region) != 6 or not region.isdigit():
        raise ValueError(f"bad region {region!r}: expected a 6-digit 行政区划代码")
    if not 0 <= sequence <= 999:
        raise ValueError(f"bad sequence {sequence}: expected 0-999")
    first17 = f"{region}{birth:%Y%m%d}{sequence:03d}"
    return first17 + id_card_check_char(first17)


def is_valid_mobile(number: object) -> bool:
    """True for an 11-digit mainland mobile number ``1[3-9]xxxxxxxxx`` (surrounding spaces
    ignored; no ``+86`` prefix, separators or landlines)."""
    return isinstance(number, str) and bool(_MOBILE.match(number.strip()))
