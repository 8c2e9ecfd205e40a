"""Expectation suites from dataset specs: what a load's rows must satisfy.

``build_suite(spec, today=...)`` turns a spec's columns, keys and ``checks`` into a
``SuiteDefinition``: a pure description (plain dataclasses, no Great Expectations import), so
it can be shown, diffed, stored and tested without GE. ``to_ge_suite(definition)`` makes the
real GE 1.x ``ExpectationSuite`` from it (GE is imported there, lazily: importing it takes
seconds).

Each ``ExpectationDef`` also carries ``unexpected_where``: a DuckDB predicate that is true for
exactly the rows the expectation counts as unexpected (``{batch}`` stands for the table). The
validator uses it to fetch a sample of failing rows with their row numbers.

Check digits (身份证号 GB 11643, 统一社会信用代码 GB 32100) and 手机号 cannot be a GE regex on
DuckDB (GE's SQL regex support does not include the duckdb dialect), so they are GE
``UnexpectedRowsExpectation`` queries calling the SQL macros in ``SQL_MACROS``; the same macros
are what ``unexpected_where`` uses.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, Literal

from schemas.dataset_spec import Column, DatasetSpec
from schemas.identity import ID_CARD_CHECK_CHARS, ID_CARD_WEIGHTS, PROVINCE_CODES

Severity = Literal["error", "warning"]
UNEXPECTED_ROWS = "unexpected_rows_expectation"

# --- SQL macros ----------------------------------------------------------------------------
# Python's str.strip() removes every character for which str.isspace() is true; trim() with
# this set makes the macros agree with schemas.identity / schemas.codes (e.g. 全角空格 U+3000).
_WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680"
    + "".join(chr(c) for c in range(0x2000, 0x200B))
    + "\u2028\u2029\u202f\u205f\u3000"
)
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # GB 32100: no I, O, S, V, Z
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
EARLIEST_BIRTH = dt.date(1800, 1, 1)


def sql_literal(value: Any) -> str:
    """A DuckDB SQL literal for a spec value (text, number, boolean, date, timestamp)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float | Decimal):
        return str(value)
    if isinstance(value, dt.datetime):
        return f"TIMESTAMP '{value.isoformat(sep=' ')}'"
    if isinstance(value, dt.date):
        return f"DATE '{value.isoformat()}'"
    return "'" + str(value).replace("'", "''") + "'"


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _id_card_sum() -> str:
    # ascii(c) - 48 never errors (a CAST of a non-digit would); the regex guards the value.
    return " + ".join(
        f"(ascii(substr(t, {i + 1}, 1)) - 48) * {w}" for i, w in enumerate(ID_CARD_WEIGHTS)
    )


def _uscc_sum() -> str:
    return " + ".join(
        f"(strpos('{_USCC_ALPHABET}', substr(t, {i + 1}, 1)) - 1) * {w}"
        for i, w in enumerate(_USCC_WEIGHTS)
    )


_PROVINCES = ", ".join(f"'{p}'" for p in sorted(PROVINCE_CODES))
_USCC_CHAR = "[0-9A-HJ-NPQRTUWXY]"

SQL_MACROS: tuple[str, ...] = (
    # The value as the Python validators see it: surrounding whitespace removed.
    f"CREATE OR REPLACE MACRO mulu_strip(s) AS trim(s, {sql_literal(_WHITESPACE)})",
    # GB 11643-1999: 17 digits + check character; province code, real birth date from 1800 and
    # not after ``today`` (NULL: no upper bound); check = '10X98765432'[sum(d_i * w_i) % 11].
    "CREATE OR REPLACE MACRO mulu_id_card_ok_t(t, today) AS ("
    " regexp_full_match(t, '[0-9]{17}[0-9X]')"
    f" AND substr(t, 1, 2) IN ({_PROVINCES})"
    " AND coalesce(try_cast(substr(t, 7, 4) || '-' || substr(t, 11, 2) || '-' || substr(t, 13, 2)"
    f" AS DATE) BETWEEN DATE '{EARLIEST_BIRTH}'"
    " AND coalesce(today, DATE '9999-12-31'), false)"
    f" AND substr('{ID_CARD_CHECK_CHARS}', (({_id_card_sum()}) % 11) + 1, 1) = substr(t, 18, 1))",
    # Values already stripped and upper-case are decided by the first two branches; only the
    # rest pay for strip/upper inside the check (a macro argument is expanded at each of its
    # ~20 uses: normalising every value first took 10 s instead of 0.5 s on 1M rows).
    "CREATE OR REPLACE MACRO mulu_id_card_ok(s, today) AS CASE"
    " WHEN mulu_id_card_ok_t(s, today) THEN true WHEN s = upper(mulu_strip(s)) THEN false"
    " ELSE mulu_id_card_ok_t(upper(mulu_strip(s)), today) END",
    # GB 32100-2015: 18 characters of the 31-letter alphabet (digits 3-8 are the 行政区划代码);
    # check = alphabet[(31 - sum(index(c_i) * w_i) % 31) % 31].
    "CREATE OR REPLACE MACRO mulu_uscc_ok_t(t) AS ("
    f" regexp_full_match(t, '{_USCC_CHAR}{{2}}[0-9]{{6}}{_USCC_CHAR}{{10}}')"
    f" AND substr('{_USCC_ALPHABET}', ((31 - ({_uscc_sum()}) % 31) % 31) + 1, 1)"
    " = substr(t, 18, 1))",
    "CREATE OR REPLACE MACRO mulu_uscc_ok(s) AS CASE WHEN mulu_uscc_ok_t(s) THEN true"
    " WHEN s = upper(mulu_strip(s)) THEN false ELSE mulu_uscc_ok_t(upper(mulu_strip(s))) END",
    # schemas.identity.MOBILE_PATTERN: 1[3-9] then 9 digits, surrounding spaces ignored.
    # CASE, not OR: DuckDB evaluates both sides of an OR for every row (9x slower here).
    "CREATE OR REPLACE MACRO mulu_mobile_ok(s) AS CASE WHEN regexp_full_match(s, "
    "'1[3-9][0-9]{9}') THEN true ELSE regexp_full_match(mulu_strip(s), '1[3-9][0-9]{9}') END",
    # 电子邮箱: local@domain.tld, no spaces; deliberately loose (RFC 5322 is not the point).
    "CREATE OR REPLACE MACRO mulu_email_ok(s) AS"
    " regexp_full_match(mulu_strip(s), '[^@\\s]+@[^@\\s]+\\.[^@\\s.]+')",
)

# Named string formats → (SQL predicate template for a valid value, what a failure means).
_FORMAT_SQL = {
    "身份证号": (
        "mulu_id_card_ok({col}, {today})",
        "not a valid 身份证号 (18 characters, province, birth date or check digit)",
    ),
    "统一社会信用代码": (
        "mulu_uscc_ok({col})",
        "not a valid 统一社会信用代码 (format or check character)",
    ),
    "手机号": ("mulu_mobile_ok({col})", "not a mainland 手机号 (1[3-9] and 11 digits)"),
    "电子邮箱": ("mulu_email_ok({col})", "not an 电子邮箱 address"),
}


# --- the description -----------------------------------------------------------------------
@dataclass(frozen=True)
class ExpectationDef:
    """One expectation, described: GE type (snake_case) and kwargs, plus Mulu's metadata."""

    expectation_type: str
    kwargs: dict[str, Any]
    severity: Severity
    column: str | None
    source: Literal["spec", "check"]
    rule: str  # stable name: "<column>:<key>", "primary_key", "table:columns", "check:<n>:…"
    description: str = ""
    # DuckDB predicate for the rows this expectation counts as unexpected ({batch}: the table);
    # None for table-level expectations (row count, column set …), which have no failing rows.
    unexpected_where: str | None = None
    # Columns to show in a failing-row sample.
    sample_columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class SuiteDefinition:
    name: str
    today: dt.date
    expectations: list[ExpectationDef] = field(default_factory=list)
    macros: tuple[str, ...] = SQL_MACROS
    # Columns the batch view adds for GE (name, SQL over the data's columns).
    derived: tuple[tuple[str, str], ...] = ()

    def rule(self, rule: str) -> ExpectationDef:
        for expectation in self.expectations:
            if expectation.rule == rule:
                return expectation
        raise KeyError(rule)


def _end_of(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.max)


def _ge_value(value: Any) -> Any:
    """A spec value as GE kwargs take it (GE serialises kwargs: no Decimal)."""
    return float(value) if isinstance(value, Decimal) else value


def _column_expectations(column: Column, today: dt.date, key_alone: bool) -> list[ExpectationDef]:
    name, col = column.name, quote_identifier(column.name)
    kind = column.type.split("(")[0]
    out: list[ExpectationDef] = []

    def add(
        key: str,
        expectation_type: str,
        kwargs: dict[str, Any],
        description: str,
        where: str | None,
        columns: tuple[str, ...] = (name,),
    ) -> None:
        out.append(
            ExpectationDef(
                expectation_type,
                kwargs,
                "error",
                name,
                "spec",
                f"{name}:{key}",
                description,
                where,
                columns,
            )
        )

    # Type: the staged Parquet is typed by the loader, so this catches a file that was not
    # (or a spec changed since). GE's column-type expectations fail on duckdb-engine (the
    # reflected columns carry no 'type'), so it is a one-row query instead.
    expected = column.duckdb_type()
    add(
        "type",
        UNEXPECTED_ROWS,
        {
            "unexpected_rows_query": f"SELECT typeof({col}) AS actual_type FROM "
            f"(SELECT {col} FROM {{batch}} LIMIT 1) "
            f"WHERE typeof({col}) <> {sql_literal(expected)}"
        },
        f"{name} is not {expected}",
        None,
    )
    if not column.nullable:
        add(
            "nullable",
            "expect_column_values_to_not_be_null",
            {"column": name},
            f"{name} is empty (nullable: false)",
            f"{col} IS NULL",
        )
    if column.unique and not key_alone:
        add(
            "unique",
            "expect_column_values_to_be_unique",
            {"column": name},
            f"{name} repeats a value (unique: true)",
            _duplicates_where([name]),
        )
    if column.allowed_values is not None:
        values = ", ".join(sql_literal(v) for v in column.allowed_values)
        add(
            "allowed_values",
            "expect_column_values_to_be_in_set",
            {"column": name, "value_set": [_ge_value(v) for v in column.allowed_values]},
            f"{name} is not one of allowed_values",
            f"{col} IS NOT NULL AND {col} NOT IN ({values})",
        )
    if column.min is not None or column.max is not None:
        bounds = [f"{col} < {sql_literal(column.min)}"] if column.min is not None else []
        bounds += [f"{col} > {sql_literal(column.max)}"] if column.max is not None else []
        add(
            "range",
            "expect_column_values_to_be_between",
            {
                "column": name,
                "min_value": _ge_value(column.min),
                "max_value": _ge_value(column.max),
            },
            f"{name} is outside [{column.min}, {column.max}]",
            " OR ".join(bounds),
        )
    if kind in ("date", "timestamp") and column.max is None:
        latest = today if kind == "date" else _end_of(today)
        add(
            "not_future",
            "expect_column_values_to_be_between",
            {"column": name, "max_value": latest},
            f"{name} is after {today} (dates are not in the future unless max says so)",
            f"{col} > {sql_literal(latest)}",
        )
    if kind == "string" and column.format in _FORMAT_SQL:
        template, meaning = _FORMAT_SQL[column.format]
        ok = template.format(col=col, today=sql_literal(today))
        where = f"{col} IS NOT NULL AND NOT coalesce({ok}, false)"
        # GE checks a derived boolean column of the batch view (format_column) with an
        # ordinary in-set expectation, which it bundles into its one aggregate scan with the
        # other column rules; as an unexpected-rows query it scanned twice (rows, then count).
        add(
            "format",
            "expect_column_values_to_be_in_set",
            {"column": format_column(name), "value_set": [True]},
            f"{name} {meaning}",
            where,
        )
    return out


FORMAT_PREFIX = "_format_"


def format_column(name: str) -> str:
    """The batch view's boolean column saying whether ``name``'s value has its format."""
    return FORMAT_PREFIX + name


def derived_columns(spec: DatasetSpec, today: dt.date) -> tuple[tuple[str, str], ...]:
    """(name, SQL) of the columns the batch view adds: each format rule's verdict, NULL for a
    NULL value (GE's in-set ignores NULLs, as the rule does)."""
    out = []
    for column in spec.columns:
        if column.type.split("(")[0] == "string" and column.format in _FORMAT_SQL:
            col = quote_identifier(column.name)
            ok = _FORMAT_SQL[column.format][0].format(col=col, today=sql_literal(today))
            out.append(
                (
                    format_column(column.name),
                    f"CASE WHEN {col} IS NULL THEN NULL ELSE coalesce({ok}, false) END",
                )
            )
    return tuple(out)


def _duplicates_where(columns: list[str]) -> str:
    """Rows whose (non-null) key appears more than once: what GE's unique expectations count."""
    cols = ", ".join(quote_identifier(c) for c in columns)
    target = f"({cols})" if len(columns) > 1 else cols
    not_null = " AND ".join(f"{quote_identifier(c)} IS NOT NULL" for c in columns)
    return (
        f"{target} IN (SELECT {cols} FROM {{batch}} WHERE {not_null} "
        f"GROUP BY ALL HAVING count(*) > 1)"
    )


def _check_expectation(index: int, check: Any) -> ExpectationDef:
    kwargs = dict(check.kwargs)
    if check.column is not None:
        kwargs["column"] = check.column
    where = None
    col = quote_identifier(check.column) if check.column else None
    if (
        check.expectation
        in ("expect_column_values_to_match_regex", "expect_column_values_to_not_match_regex")
        and col
        and "regex" in kwargs
    ):
        match = f"regexp_matches({col}, {sql_literal(kwargs['regex'])})"
        negate = "NOT " if check.expectation.endswith("to_match_regex") else ""
        where = f"{col} IS NOT NULL AND {negate}{match}"
    elif check.expectation == "expect_column_values_to_not_be_null" and col:
        where = f"{col} IS NULL"
    rule = f"check:{index}:{check.expectation}" + (f":{check.column}" if check.column else "")
    return ExpectationDef(
        check.expectation,
        kwargs,
        check.severity,
        check.column,
        "check",
        rule,
        f"checks[{index}] {check.expectation}",
        where,
        (check.column,) if check.column else (),
    )


def build_suite(spec: DatasetSpec, *, today: dt.date) -> SuiteDefinition:
    """The expectations ``spec`` implies for a load's rows, as of ``today`` (for 'not in the
    future': pass the catalogue's local date, so a run is reproducible)."""
    names = [c.name for c in spec.columns]
    expectations = [
        ExpectationDef(
            "expect_table_columns_to_match_set",
            {"column_set": names, "exact_match": False},
            "error",
            None,
            "spec",
            "table:columns",
            "a spec column is missing from the data",
        )
    ]
    single_key = spec.primary_key[0] if len(spec.primary_key) == 1 else None
    for column in spec.columns:
        expectations += _column_expectations(column, today, key_alone=column.name == single_key)
    if spec.primary_key:
        keys = list(spec.primary_key)
        kwargs: dict[str, Any]
        if single_key:
            expectation_type, kwargs = "expect_column_values_to_be_unique", {"column": single_key}
        else:
            expectation_type, kwargs = "expect_compound_columns_to_be_unique", {"column_list": keys}
        expectations.append(
            ExpectationDef(
                expectation_type,
                kwargs,
                "error",
                single_key,
                "spec",
                "primary_key",
                f"primary key ({', '.join(keys)}) repeats",
                _duplicates_where(keys),
                tuple(keys),
            )
        )
    expectations += [_check_expectation(i, c) for i, c in enumerate(spec.checks)]
    return SuiteDefinition(
        name=spec.name,
        today=today,
        expectations=[_with_severity(spec, e) for e in expectations],
        derived=derived_columns(spec, today),
    )


def _with_severity(spec: DatasetSpec, expectation: ExpectationDef) -> ExpectationDef:
    """The spec's ``severity`` for a generated rule; upsert's key defaults to warning: a key
    repeated within one load is resolved by the load itself (the last row wins)."""
    if expectation.source != "spec":
        return expectation
    default = (
        "warning"
        if (expectation.rule == "primary_key" and spec.load.mode == "upsert")
        else expectation.severity
    )
    severity = spec.severity.get(expectation.rule, default)
    description = expectation.description
    if expectation.rule == "primary_key" and spec.load.mode == "upsert":
        description += " within this load (upsert keeps the last row)"
    return replace(expectation, severity=severity, description=description)


# --- GE ------------------------------------------------------------------------------------
# GE's SQL regex metrics raise NotImplementedError for the duckdb dialect.
_REGEX_ON_DUCKDB = {
    "expect_column_values_to_match_regex",
    "expect_column_values_to_not_match_regex",
}


def _class_name(expectation_type: str) -> str:
    if expectation_type == UNEXPECTED_ROWS:
        return "UnexpectedRowsExpectation"
    return "".join(part.capitalize() for part in expectation_type.split("_"))


def to_ge_expectation(definition: ExpectationDef, *, dialect: str = "duckdb") -> Any:
    """The GE 1.x expectation object for one definition; ``meta`` carries rule and severity."""
    import great_expectations as gx
    from great_expectations.expectations.metadata_types import FailureSeverity

    expectation_type, kwargs = definition.expectation_type, dict(definition.kwargs)
    if dialect == "duckdb" and expectation_type in _REGEX_ON_DUCKDB:
        if "mostly" in kwargs:
            raise ValueError(
                f"{definition.rule}: 'mostly' is not supported for a regex check on "
                f"duckdb (it runs as an unexpected-rows query)"
            )
        expectation_type = UNEXPECTED_ROWS
        kwargs = {
            "unexpected_rows_query": f"SELECT * FROM {{batch}} WHERE {definition.unexpected_where}"
        }
    cls = getattr(gx.expectations, _class_name(expectation_type), None)
    if cls is None:
        raise ValueError(f"{definition.rule}: unknown expectation {definition.expectation_type!r}")
    severity = (
        FailureSeverity.CRITICAL if definition.severity == "error" else FailureSeverity.WARNING
    )
    return cls(
        **kwargs,
        severity=severity,
        description=definition.description or None,
        meta={
            "rule": definition.rule,
            "severity": definition.severity,
            "source": definition.source,
        },
    )


def to_ge_suite(definition: SuiteDefinition, *, dialect: str = "duckdb") -> Any:
    """A ``great_expectations.core.ExpectationSuite`` of GE 1.x expectation objects."""
    from great_expectations.core import ExpectationSuite

    return ExpectationSuite(
        name=definition.name,
        expectations=[to_ge_expectation(e, dialect=dialect) for e in definition.expectations],
        meta={"today": definition.today.isoformat()},
    )
