"""Typing a source's columns as its spec says, in SQL over ``read_source``'s views.

``checked_select`` is the SQL a load writes: each spec column cast to its type, nothing else, and
a value that does not fit stops the query (``CAST_FAILURE``), so writing the rows is the check.
``typed_select`` is the same casts with, beside each typed column, the value that did not cast
(``_bad_<column>``): the second look, only after a failure, that counts the bad values and names
the first one's file and row (``drift.cast_failures``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from schemas.dataset_spec import PII, Column, DatasetSpec
from schemas.identity import ID_CARD_LOWER_X
from warehouse.lake import quote_identifier, quote_literal
from warehouse.read.blanks import BLANKS
from warehouse.read.views import SOURCE_VIEW, UNNUMBERED_VIEW

# The message of the error() a value that does not fit its column raises in checked_select.
CAST_FAILURE = "mulu: a value does not fit its column's type"
BAD_PREFIX = "_bad_"
_TRUE = ("true", "t", "yes", "y", "1", "是", "对", "真")
_FALSE = ("false", "f", "no", "n", "0", "否", "错", "假")
_EXTRA_DATE_FORMATS = ("%Y%m%d", "%Y.%m.%d", "%Y年%m月%d日")
_EXTRA_TIMESTAMP_FORMATS = (
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y%m%d%H%M%S",
    "%Y%m%d %H:%M:%S",
    "%Y年%m月%d日 %H:%M:%S",
    "%Y年%m月%d日 %H:%M",
    "%Y%m%d",
    "%Y.%m.%d",
    "%Y年%m月%d日",
)
# Excel stores dates as days since 1899-12-30; read as text they arrive as "46024" / "46024.5".
_EXCEL_EPOCH = "1899-12-30"
_EXCEL_MAX_SERIAL = 2958465  # 9999-12-31


def checked_select(
    spec: DatasetSpec,
    source_types: dict[str, str],
    source: str = UNNUMBERED_VIEW,
    *,
    keep: Sequence[str] = (),
) -> str:
    """SQL: the spec's columns typed exactly as the table types them, in spec order, then the
    ``keep`` columns of ``source`` (e.g. ``_source_index``, ``_source_row``); nothing else.

    A value that does not fit its column stops the query with CAST_FAILURE (DuckDB's
    ``error()``), so the one pass that writes the rows is also the check; ``typed_select``
    then finds what failed. Values and rows are those of ``typed_select``.
    """
    fail = f"error({quote_literal(CAST_FAILURE)})"
    values, typed, final, present = list(keep), list(keep), [], []
    for i, column in enumerate(spec.columns):
        read_as = column.source or column.name  # the spec fills it in; the type allows None
        raw, name = quote_identifier(read_as), quote_identifier(column.name)
        source_type = source_types[read_as]
        check = None
        if source_type in ("VARCHAR", "JSON"):
            text = f"json_extract_string({raw}, '$')" if source_type == "JSON" else raw
            as_written = column.type == "string" or _trim_free(column)
            values.append(f"{_blank_as_null(text, trim=not as_written)} AS _v{i}")
            value = f"_v{i}"
            can_fail, cast = _text_cast(column, value, spec.source.format == "xlsx")
            if can_fail and as_written:
                # Cast as written; only a value that fails is trimmed and cast again.
                _, again = _text_cast(
                    column, f"trim({value}, {quote_literal(BLANKS)})", spec.source.format == "xlsx"
                )
                check = (
                    f"CASE WHEN {name} IS NOT NULL OR {value} IS NULL THEN {name} "
                    f"ELSE coalesce({again}, {fail}) END AS {name}"
                )
        else:  # native types: JSON numbers and booleans, Parquet columns
            value = f"_n{i}"
            values.append(f"{raw} AS {value}")
            can_fail, cast = _native_cast(column, value, source_type)
        present.append(value)
        typed.append(f"{cast} AS {name}")
        if can_fail:
            typed.append(value)
            final.append(
                check
                or f"CASE WHEN {name} IS NULL AND {value} IS NOT NULL THEN "
                f"{fail} ELSE {name} END AS {name}"
            )
        else:
            final.append(name)
    return (
        f"SELECT {', '.join([*final, *keep])} FROM "
        f"(SELECT {', '.join(typed)} FROM (SELECT {', '.join(values)} FROM {source}) "
        f"WHERE {' OR '.join(f'{p} IS NOT NULL' for p in present)})"
    )


def typed_select(spec: DatasetSpec, source_types: dict[str, str], source: str = SOURCE_VIEW) -> str:
    """SQL: the spec's columns typed, ``_bad_<name>`` (the value that did not cast, else NULL)
    for each typed column, and the source's ``_source_index``, ``_source_row``.

    Rows without a value in any spec column are left out (blank lines, empty spreadsheet
    rows). ``source_types``: DuckDB type of each source column (after the union).
    """
    # Three projections, so each value is trimmed once and each cast computed once.
    values, typed, final = ["_source_index", "_source_row"], ["_source_index", "_source_row"], []
    present = []
    for i, column in enumerate(spec.columns):
        read_as = column.source or column.name
        raw = quote_identifier(read_as)
        name = quote_identifier(column.name)
        source_type = source_types[read_as]
        if source_type in ("VARCHAR", "JSON"):
            text = f"json_extract_string({raw}, '$')" if source_type == "JSON" else raw
            values.append(f"{_blank_as_null(text, trim=column.type != 'string')} AS _v{i}")
            present.append(f"_v{i}")
            can_fail, cast = _text_cast(column, f"_v{i}", spec.source.format == "xlsx")
            value = f"_v{i}"
        else:  # native types: JSON numbers and booleans, Parquet columns
            values.append(f"{raw} AS _n{i}")
            present.append(f"_n{i}")
            can_fail, cast = _native_cast(column, f"_n{i}", source_type)
            value = f"CAST(_n{i} AS VARCHAR)"
        typed.append(f"{cast} AS {name}")
        final.append(name)
        if can_fail:
            bad = quote_identifier(BAD_PREFIX + column.name)
            typed.append(f"{value} AS {bad}")
            final.append(f"CASE WHEN {name} IS NULL THEN {bad} END AS {bad}")
    return (
        f"SELECT {', '.join(final)}, _source_index, _source_row FROM "
        f"(SELECT {', '.join(typed)} FROM (SELECT {', '.join(values)} FROM {source}) "
        f"WHERE {' OR '.join(f'{p} IS NOT NULL' for p in present)})"
    )


def _trim_free(column: Column) -> bool:
    """True when casting a value as written gives, whenever it succeeds, what casting it
    trimmed gives: DuckDB's number and ISO date parsers skip surrounding whitespace, and the
    whole-number, boolean and extra date patterns match whole values only. Not so for
    timestamps ('…Z ' casts, as UTC) or a date ``format`` that DuckDB's ISO cast could also
    read differently."""
    kind = column.type.split("(")[0]
    return kind in ("integer", "bigint", "double", "decimal", "boolean") or (
        kind == "date" and not column.format
    )


def _blank_as_null(text: str, *, trim: bool) -> str:
    """SQL: NULL when ``text`` is empty or only blanks; else the text, as written or trimmed.

    A blank value is empty or starts with a blank, so cheap comparisons go first (text that
    starts with U+3000 sorts from '\u3000' to before '\u3001') and the regex runs only on the
    few values they let through; trim() only when there is something to trim: on 1M rows this
    is about twice as fast as trim() on every value."""
    starts_blank = " OR ".join(
        [f"{text} < '!'"]
        + [  # ' ', tab, CR, LF sort before '!'
            f"({text} >= {quote_literal(blank)} AND {text} < {quote_literal(chr(ord(blank) + 1))})"
            for blank in BLANKS
            if blank > " "
        ]
    )
    blank = f"({starts_blank}) AND regexp_full_match({text}, '[{BLANKS}]*')"
    if not trim:
        return f"CASE WHEN {blank} THEN NULL ELSE {text} END"
    edge = f"regexp_matches({text}, '^[{BLANKS}]|[{BLANKS}]$')"
    return (
        f"CASE WHEN {blank} THEN NULL WHEN {edge} THEN trim({text}, "
        f"{quote_literal(BLANKS)}) ELSE {text} END"
    )


def _native_cast(column: Column, n: str, source_type: str) -> tuple[bool, str]:
    """(can a value fail, the typed value) for a natively typed source column ``n``."""
    target = column.duckdb_type()
    kind = column.type.split("(")[0]
    if kind == "string":
        return False, _id_card_x(column, f"CAST({n} AS VARCHAR)")
    if source_type == target:
        return False, n
    cast = f"TRY_CAST({n} AS {target})"
    if kind in ("integer", "bigint") and source_type.startswith(("DOUBLE", "FLOAT", "DEC")):
        cast = f"CASE WHEN {n} = trunc({n}) THEN {cast} END"  # 12.5 is not 13
    return True, cast


def _text_cast(column: Column, v: str, from_excel: bool) -> tuple[bool, str]:
    """(can a value fail, the typed value) for text ``v``: blank is NULL already, and for
    typed columns surrounding blanks are trimmed."""
    target = column.duckdb_type()
    kind = column.type.split("(")[0]
    if kind == "string":
        # Text is kept as written (leading zeros, inner spaces); only blank becomes NULL, and a
        # 身份证号's lowercase check character x becomes X.
        return False, _id_card_x(column, v)
    return True, _typed_text(column, kind, target, v, from_excel)


def _id_card_x(column: Column, v: str) -> str:
    """SQL: ``v`` with a 身份证号's lowercase check character ``x`` as ``X`` (GB 11643 writes X;
    schemas.identity.normalise_id_card) for a column whose pii or format is 身份证号; else ``v``.
    The regex runs only on values that contain an x."""
    if column.pii != PII.ID_CARD and column.format != "身份证号":
        return v
    return (
        f"CASE WHEN contains({v}, 'x') THEN regexp_replace({v}, "
        f"{quote_literal(ID_CARD_LOWER_X)}, '\\1X\\2') ELSE {v} END"
    )


def _typed_text(column: Column, kind: str, target: str, v: str, from_excel: bool) -> str:
    if kind in ("integer", "bigint"):
        # TRY_CAST rounds '12.5' to 13 and reads '0x10' as 16: accept only whole numbers.
        return f"CASE WHEN regexp_full_match({v}, '[+-]?[0-9]+(\\.0*)?') THEN TRY_CAST({v} AS {target}) END"
    if kind in ("double", "decimal"):
        return f"TRY_CAST({v} AS {target})"
    if kind == "boolean":
        return (
            f"CASE WHEN lower({v}) IN ({_sql_list(_TRUE)}) THEN true "
            f"WHEN lower({v}) IN ({_sql_list(_FALSE)}) THEN false END"
        )
    if kind == "date":
        options = (
            [f"CAST(try_strptime({v}, {quote_literal(column.format)}) AS DATE)"]
            if column.format
            else []
        )
        options += [
            f"TRY_CAST({v} AS DATE)",
            f"CAST(try_strptime({v}, [{_sql_list(_EXTRA_DATE_FORMATS)}]) AS DATE)",
        ]
        if from_excel:
            options.append(
                f"CASE WHEN {_excel_serial(v)} THEN DATE '{_EXCEL_EPOCH}' + "
                f"CAST(floor(TRY_CAST({v} AS DOUBLE)) AS INTEGER) END"
            )
        return f"coalesce({', '.join(options)})"
    if kind == "timestamp":
        options = [
            # An offset (+08:00, Z) is honoured: the value becomes Asia/Shanghai local time.
            f"CASE WHEN regexp_matches({v}, '(Z|[+-][0-9]{{2}}:?[0-9]{{2}})$') THEN "
            f"timezone('Asia/Shanghai', TRY_CAST({v} AS TIMESTAMPTZ)) END",
            f"CAST(try_strptime({v}, {quote_literal(column.format)}) AS TIMESTAMP)"
            if column.format
            else "NULL",
            f"TRY_CAST({v} AS TIMESTAMP)",
            f"CAST(try_strptime({v}, [{_sql_list(_EXTRA_TIMESTAMP_FORMATS)}]) AS TIMESTAMP)",
        ]
        if from_excel:
            options.append(
                f"CASE WHEN {_excel_serial(v)} THEN TIMESTAMP '{_EXCEL_EPOCH}' + "
                f"to_microseconds(CAST(round(TRY_CAST({v} AS DOUBLE) * 86400000000) "
                f"AS BIGINT)) END"
            )
        return f"coalesce({', '.join(options)})"
    raise ValueError(f"unknown column type {column.type!r}")


def _excel_serial(v: str) -> str:
    return (
        f"(regexp_full_match({v}, '[0-9]+(\\.[0-9]+)?') AND "
        f"TRY_CAST({v} AS DOUBLE) BETWEEN 1 AND {_EXCEL_MAX_SERIAL})"
    )


def _sql_list(values: Sequence[Any]) -> str:
    return ", ".join(quote_literal(str(value)) for value in values)
