"""身份证号 (GB 11643) and 手机号 helpers."""

from __future__ import annotations

import datetime as dt
import random
import re

import pytest

from schemas.identity import (
    ID_CARD_PATTERN,
    ID_CARD_WEIGHTS,
    MOBILE_PATTERN,
    id_card_birth_date,
    id_card_check_char,
    is_valid_id_card,
    is_valid_mobile,
    make_id_card,
)

# The two example numbers printed in GB 11643-1999 itself.
STANDARD_EXAMPLES = ("11010519491231002X", "440524188001010014")


def test_weights_are_powers_of_two_mod_11():
    assert tuple(2 ** (17 - i) % 11 for i in range(17)) == ID_CARD_WEIGHTS


@pytest.mark.parametrize("number", STANDARD_EXAMPLES)
def test_standard_examples(number: str):
    assert id_card_check_char(number[:17]) == number[17]
    assert is_valid_id_card(number)


def test_check_char_matches_the_iso_7064_formula():
    rng = random.Random(7)
    for _ in range(2000):
        body = "".join(rng.choice("0123456789") for _ in range(17))
        value = (12 - sum(int(c) * 2 ** (17 - i) for i, c in enumerate(body)) % 11) % 11
        assert id_card_check_char(body) == ("X" if value == 10 else str(value))


@pytest.mark.parametrize(
    "body",
    [
        "1101051949123100",
        "11010519491231002X",
        "11010519491231002a",
        "１１０１０５１９４９１２３１００２",
    ],
)
def test_check_char_needs_17_ascii_digits(body: str):
    with pytest.raises(ValueError, match="17 digits"):
        id_card_check_char(body)


def test_lowercase_x_and_surrounding_spaces_are_accepted():
    assert is_valid_id_card("11010519491231002x")
    assert is_valid_id_card(" 11010519491231002X\n")


def with_check(body: str) -> str:
    return body + id_card_check_char(body)


@pytest.mark.parametrize(
    "number",
    [
        "110105194912310021",  # wrong check digit (X is right)
        "11010519491231002",  # 17 characters
        "110105491231002",  # 15-digit first-generation number
        "1101051949123100200",  # 19 characters
        with_check("99010519491231002"),  # no province 99
        with_check("00010519491231002"),  # no province 00
        with_check("11010519490230002"),  # 30 February
        with_check("11010519491331002"),  # month 13
        with_check("11010517991231002"),  # born before 1800
        "11010519491231002Y",  # not a check character
        "11010519491231 02X",  # a space inside
        "１１０１０５１９４９１２３１００２Ｘ",  # full-width digits
        "",
    ],
)
def test_invalid_id_cards(number: str):
    assert not is_valid_id_card(number)


@pytest.mark.parametrize("value", [None, 11010519491231002, b"11010519491231002X"])
def test_non_strings_are_not_id_cards(value):
    assert not is_valid_id_card(value)


def test_birth_after_today_is_invalid_only_when_today_is_given():
    number = make_id_card("320399", dt.date(2030, 1, 1), 1)
    assert is_valid_id_card(number)
    assert not is_valid_id_card(number, today=dt.date(2026, 11, 15))
    assert is_valid_id_card(number, today=dt.date(2030, 1, 1))


def test_make_id_card():
    man = make_id_card("320399", dt.date(1985, 2, 28), 123)
    woman = make_id_card("320399", dt.date(1985, 2, 28), 124)
    assert man.startswith("32039919850228123")
    assert is_valid_id_card(man)
    assert is_valid_id_card(woman)
    assert int(woman[16]) % 2 == 0
    assert id_card_birth_date(man) == dt.date(1985, 2, 28)
    with pytest.raises(ValueError, match="region"):
        make_id_card("3203", dt.date(1985, 2, 28), 1)
    with pytest.raises(ValueError, match="sequence"):
        make_id_card("320399", dt.date(1985, 2, 28), 1000)


def test_birth_date():
    assert id_card_birth_date("11010519491231002X") == dt.date(1949, 12, 31)
    assert id_card_birth_date("11010519490230002X") is None


def test_id_card_pattern_is_the_shape_only():
    pattern = re.compile(ID_CARD_PATTERN)
    assert all(pattern.match(n) for n in STANDARD_EXAMPLES)
    assert pattern.match("110105194912310021")  # wrong check digit: only the function sees it
    assert not pattern.match("11010519491331002X")
    assert not pattern.match("110105491231002")


@pytest.mark.parametrize("number", ["13812345678", "19912345678", "16600001111", " 15012345678 "])
def test_valid_mobiles(number: str):
    assert is_valid_mobile(number)


@pytest.mark.parametrize(
    "number",
    [
        "1381234567",  # 10 digits
        "138123456789",  # 12 digits
        "12812345678",  # 12x is not a mobile range
        "23812345678",
        "+8613812345678",
        "138-1234-5678",
        "0516-83123456",  # a landline
        "１３８１２３４５６７８",  # full-width digits
        "1３８12345678",
        "",
        None,
        13812345678,
    ],
)
def test_invalid_mobiles(number):
    assert not is_valid_mobile(number)


def test_mobile_pattern_agrees_with_the_function():
    pattern = re.compile(MOBILE_PATTERN)
    for number in ("13812345678", "1381234567", "12812345678", "+8613812345678"):
        assert bool(pattern.match(number)) == is_valid_mobile(number)
