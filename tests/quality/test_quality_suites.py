"""quality.suites: specs → expectation descriptions → GE suites, and the SQL check-digit macros
checked against schemas.identity / schemas.codes on thousands of generated values."""

from __future__ import annotations

import datetime as dt
import random

import duckdb
import pytest

from quality.suites import SQL_MACROS, build_suite, sql_literal, to_ge_suite
from schemas.codes import is_valid_uscc, make_uscc
from schemas.dataset_spec import DatasetSpec
from schemas.identity import PROVINCE_CODES, is_valid_id_card, is_valid_mobile, make_id_card

TODAY = dt.date(2026, 11, 25)
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def spec(**overrides) -> DatasetSpec:
    data = {
        "name": "people",
        "title": "人员名单",
        "entry_code": "301005/000012",
        "source": {"url": "/srv/people.csv"},
        "columns": [
            {"name": "id_card_no", "pii": "身份证号", "format": "身份证号"},
            {"name": "person_name", "nullable": False},
            {"name": "gender", "allowed_values": ["男", "女"]},
            {"name": "allowance", "type": "decimal(10,2)", "min": 0, "max": 5000},
            {"name": "mobile", "format": "mobile"},
            {"name": "org_code", "format": "uscc", "unique": True},
            {"name": "approved_on", "type": "date", "min": "2000-01-01"},
            {"name": "expires_on", "type": "date", "max": "2100-12-31"},
        ],
        "primary_key": ["id_card_no"],
        "checks": [
            {
                "expectation": "expect_table_row_count_to_be_between",
                "min_value": 1,
                "severity": "warning",
            }
        ],
    }
    data.update(overrides)
    return DatasetSpec.model_validate(data)


# --- the description -----------------------------------------------------------------------
def test_spec_keys_become_expectations():
    suite = build_suite(spec(), today=TODAY)
    rules = {e.rule: e for e in suite.expectations}
    assert rules["person_name:nullable"].expectation_type == "expect_column_values_to_not_be_null"
    assert rules["id_card_no:nullable"].kwargs == {"column": "id_card_no"}  # key ⇒ not null
    assert rules["primary_key"].expectation_type == "expect_column_values_to_be_unique"
    assert rules["org_code:unique"].expectation_type == "expect_column_values_to_be_unique"
    assert rules["gender:allowed_values"].kwargs["value_set"] == ["男", "女"]
    assert rules["allowance:range"].kwargs == {
        "column": "allowance",
        "min_value": 0.0,
        "max_value": 5000.0,
    }
    # dates: not in the future unless the spec sets max
    assert rules["approved_on:not_future"].kwargs["max_value"] == TODAY
    assert "expires_on:not_future" not in rules
    assert rules["expires_on:range"].kwargs["max_value"] == dt.date(2100, 12, 31)
    for name in ("id_card_no", "mobile", "org_code"):  # a derived boolean column of the view
        assert rules[f"{name}:format"].expectation_type == "expect_column_values_to_be_in_set"
        assert rules[f"{name}:format"].kwargs == {"column": f"_format_{name}", "value_set": [True]}
    derived = dict(suite.derived)
    assert "mulu_id_card_ok" in derived["_format_id_card_no"]
    assert f"DATE '{TODAY}'" in derived["_format_id_card_no"]
    assert f"DATE '{TODAY}'" in rules["id_card_no:format"].unexpected_where
    assert rules["id_card_no:type"].kwargs["unexpected_rows_query"].count("'VARCHAR'") == 1
    assert "'DECIMAL(10,2)'" in rules["allowance:type"].kwargs["unexpected_rows_query"]
    check = rules["check:0:expect_table_row_count_to_be_between"]
    assert (check.source, check.severity, check.kwargs) == ("check", "warning", {"min_value": 1})
    assert {e.severity for e in suite.expectations if e.source == "spec"} == {"error"}
    assert all(
        e.unexpected_where
        for e in suite.expectations
        if e.expectation_type.startswith("expect_column_values")
    )


def test_compound_key_and_timestamp():
    s = spec(
        columns=[
            {"name": "org", "nullable": False},
            {"name": "seq", "type": "integer"},
            {"name": "reported_at", "type": "timestamp"},
        ],
        primary_key=["org", "seq"],
        checks=[],
    )
    rules = {e.rule: e for e in build_suite(s, today=TODAY).expectations}
    assert rules["primary_key"].expectation_type == "expect_compound_columns_to_be_unique"
    assert rules["primary_key"].kwargs == {"column_list": ["org", "seq"]}
    assert rules["reported_at:not_future"].kwargs["max_value"] == dt.datetime(
        2026, 11, 25, 23, 59, 59, 999999
    )


def test_to_ge_suite_makes_ge_objects():
    import great_expectations as gx

    definition = build_suite(
        spec(
            checks=[
                {
                    "expectation": "expect_column_values_to_match_regex",
                    "column": "person_name",
                    "regex": "^[^0-9]+$",
                    "severity": "warning",
                }
            ]
        ),
        today=TODAY,
    )
    suite = to_ge_suite(definition)
    assert isinstance(suite, gx.ExpectationSuite)
    assert len(suite.expectations) == len(definition.expectations)
    by_rule = {e.meta["rule"]: e for e in suite.expectations}
    assert isinstance(by_rule["primary_key"], gx.expectations.ExpectColumnValuesToBeUnique)
    assert isinstance(by_rule["gender:allowed_values"], gx.expectations.ExpectColumnValuesToBeInSet)
    assert isinstance(by_rule["id_card_no:format"], gx.expectations.ExpectColumnValuesToBeInSet)
    # GE cannot run a regex on duckdb: the check becomes an unexpected-rows query
    regex = by_rule["check:0:expect_column_values_to_match_regex:person_name"]
    assert isinstance(regex, gx.expectations.UnexpectedRowsExpectation)
    assert regex.severity.value == "warning"
    assert by_rule["primary_key"].severity.value == "critical"
    # …and stays a regex expectation for a backend that has regex
    other = to_ge_suite(definition, dialect="postgresql")
    assert any(
        isinstance(e, gx.expectations.ExpectColumnValuesToMatchRegex) for e in other.expectations
    )


def test_unknown_check_expectation_is_an_error():
    definition = build_suite(
        spec(checks=[{"expectation": "expect_nothing_in_particular"}]), today=TODAY
    )
    with pytest.raises(ValueError, match="unknown expectation"):
        to_ge_suite(definition)


# --- the SQL macros vs the Python validators -----------------------------------------------
@pytest.fixture(scope="module")
def con():
    connection = duckdb.connect()
    for macro in SQL_MACROS:
        connection.execute(macro)
    yield connection
    connection.close()


def _agree(con, sql: str, values: list[str], python) -> None:
    got = con.execute(f"SELECT list_transform(?, s -> {sql}) AS r", [values]).fetchone()[0]
    wrong = [(v, g) for v, g in zip(values, got, strict=True) if bool(g) != python(v)]
    assert not wrong, f"{len(wrong)} disagreements, e.g. {wrong[:5]}"


def _corrupt(value: str, rng: random.Random, alphabet: str) -> str:
    kind = rng.randrange(8)
    i = rng.randrange(len(value))
    if kind == 0:  # one character changed
        return value[:i] + rng.choice(alphabet.replace(value[i], "")) + value[i + 1 :]
    if kind == 1:  # two neighbours swapped
        i = min(i, len(value) - 2)
        return value[:i] + value[i + 1] + value[i] + value[i + 2 :]
    if kind == 2:
        return value[:-1]
    if kind == 3:
        return value + rng.choice(alphabet)
    if kind == 4:  # surrounding whitespace (valid: the validators strip it)
        return rng.choice([" ", "\t", "\u3000", "\xa0"]) + value + rng.choice([" ", "\n", ""])
    if kind == 5:
        return value.lower()
    if kind == 6:  # a character outside the alphabet
        return value[:i] + rng.choice("IOSVZ-_a!０一") + value[i + 1 :]
    return value[:i] + " " + value[i + 1 :]


def _id_cards(rng: random.Random, n: int) -> list[str]:
    provinces = sorted(PROVINCE_CODES)
    out = []
    for _ in range(n):
        birth = dt.date(1900, 1, 1) + dt.timedelta(days=rng.randrange(46000))
        out.append(
            make_id_card(
                rng.choice(provinces) + f"{rng.randrange(10000):04d}", birth, rng.randrange(1000)
            )
        )
    return out


def test_id_card_macro_matches_python(con):
    rng = random.Random(11643)
    valid = _id_cards(rng, 3000)
    corrupted = [_corrupt(v, rng, "0123456789X") for v in valid]
    special = [
        "11010119900101001X",
        "11010119900101001x",
        "000101199001010000",
        "110101199002300015",
        "110101179901010011",
        "110101203001010011",
        "",
        "1101011990010100",
        "110101 99001010007",
    ]
    values = valid + corrupted + special
    assert sum(map(is_valid_id_card, valid)) == 3000
    assert sum(not is_valid_id_card(v) for v in corrupted) > 1000  # mostly really corrupted
    _agree(
        con,
        f"mulu_id_card_ok(s, {sql_literal(TODAY)})",
        values,
        lambda v: is_valid_id_card(v, today=TODAY),
    )
    _agree(con, "mulu_id_card_ok(s, NULL)", values, is_valid_id_card)


def test_id_card_birth_after_today_is_invalid(con):
    tomorrow = make_id_card("110101", TODAY + dt.timedelta(days=1), 7)
    today = make_id_card("110101", TODAY, 7)
    got = con.execute(
        "SELECT mulu_id_card_ok(?, ?), mulu_id_card_ok(?, ?)", [tomorrow, TODAY, today, TODAY]
    ).fetchone()
    assert got == (False, True)


def test_uscc_macro_matches_python(con):
    rng = random.Random(32100)
    valid = [
        make_uscc(
            rng.choice("19ABNY") + rng.choice("12359"),
            f"{rng.randrange(1000000):06d}",
            "".join(rng.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(8)),
        )
        for _ in range(3000)
    ]
    valid = [v for v in valid if all(c in USCC_ALPHABET for c in v)]
    corrupted = [_corrupt(v, rng, USCC_ALPHABET) for v in valid]
    assert len(valid) > 2500
    assert sum(map(is_valid_uscc, valid)) == len(valid)

    def python(v: str) -> bool:
        try:
            return is_valid_uscc(v)
        except ValueError:  # schemas.codes raises for a non-ASCII digit in 3-8 ('０'); invalid
            return False

    assert sum(not python(v) for v in corrupted) > 1000

    _agree(con, "mulu_uscc_ok(s)", valid + corrupted + ["91350100M000100Y43", ""], python)


def test_mobile_macro_matches_python(con):
    rng = random.Random(11)
    valid = [f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}" for _ in range(2000)]
    corrupted = [_corrupt(v, rng, "0123456789") for v in valid]
    _agree(
        con,
        "mulu_mobile_ok(s)",
        valid + corrupted + ["+8613800138000", "138-0013-8000"],
        is_valid_mobile,
    )
