"""Schema drift (口径变化): a source that no longer matches its spec, said with file, column and
row. A column missing or renamed is found as each file is bound (``check_columns``); a value that
no longer fits its column's type by a second, numbered read once a load stopped on it
(``cast_failures``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import duckdb

from schemas.dataset_spec import DatasetSpec
from warehouse.lake import quote_identifier
from warehouse.read.casts import BAD_PREFIX, typed_select
from warehouse.read.diagnose import cap, failing_file_error
from warehouse.read.errors import LoadError, SchemaDriftError
from warehouse.read.formats import csv_layout
from warehouse.read.ndjson import csv_record_line
from warehouse.read.views import META_COLUMNS, SOURCE_VIEW


def check_columns(
    spec: DatasetSpec,
    columns: Sequence[str],
    label: str,
    repeated: Mapping[str, Sequence[int]] | None = None,
) -> None:
    """Raise SchemaDriftError when the file ``label`` with these ``columns`` lacks a column the
    spec reads, or its header gives a name the spec reads more than once (``repeated``: name →
    1-based positions). The message lists unexpected columns too, since a rename shows as both;
    a repeated name is said as such, not as a rename."""
    repeated = repeated or {}
    present = [c for c in columns if c not in META_COLUMNS]
    wanted = [column.source for column in spec.columns]
    missing = [name for name in wanted if name not in present]
    ambiguous = [name for name in wanted if name in repeated]
    if not missing and not ambiguous:
        return
    by_source = {column.source: column.name for column in spec.columns}
    # The second 姓名 is named 姓名_1: not an unexpected column of its own.
    suffixed = {f"{name}_{n}" for name, found in repeated.items() for n in range(1, len(found))}
    unexpected = [name for name in present if name not in wanted and name not in suffixed]
    parts = []
    for name, found in repeated.items():
        if name in ambiguous or missing:
            places = ", ".join(str(n) for n in found[:-1]) + f" and {found[-1]}"
            reads = f": which one is {by_source[name]} is unclear" if name in ambiguous else ""
            parts.append(f"column {name} is repeated in the header (columns {places}){reads}")
    if missing:
        listed = ", ".join(f"{name} ({by_source[name]})" for name in missing)
        parts.append(f"missing column{'s' if len(missing) > 1 else ''} {listed}")
        if unexpected:
            parts.append(
                f"unexpected column{'s' if len(unexpected) > 1 else ''} "
                f"{', '.join(unexpected)} (a renamed column shows as missing and unexpected)"
            )
    column = ambiguous[0] if ambiguous else missing[0]
    raise SchemaDriftError(f"{label}: " + "; ".join(parts), file=label, column=column)


def cast_failures(
    con: duckdb.DuckDBPyConnection,
    spec: DatasetSpec,
    types: dict[str, str],
    inputs: list[tuple[Path, str]],
) -> LoadError:
    """The SchemaDriftError for the values that did not fit their column's type.

    A second read of the source (``read_source``'s views on ``con``), numbered, once staging
    has stopped on such a value: how many failed in each column, and the first one's file, row
    and value. ``inputs``: the (path, label) of each file, in read order.
    """
    labels = [label for _, label in inputs]
    sql = typed_select(spec, types, SOURCE_VIEW)
    bad = [c for c in spec.columns if BAD_PREFIX + c.name in con.sql(sql).columns]
    parts = []
    for c in bad:
        b = quote_identifier(BAD_PREFIX + c.name)
        parts.append(
            f"count({b}), arg_min({{'i': _source_index, 'r': _source_row, 'v': {b}}}, "
            f"{{'i': _source_index, 'r': _source_row}}) FILTER (WHERE {b} IS NOT NULL)"
        )
    try:
        found = con.execute(f"SELECT {', '.join(parts)} FROM ({sql})").fetchone() if bad else ()
    except (duckdb.Error, UnicodeDecodeError) as exc:  # a malformed row further on
        return failing_file_error(exc, inputs, spec)
    assert found is not None
    failures = [(c, found[2 * i], found[2 * i + 1]) for i, c in enumerate(bad) if found[2 * i]]
    if spec.source.format == "csv":  # the line, counting the empty lines DuckDB skipped
        for _, _, first in failures:
            first["r"] = _csv_line(spec, inputs[first["i"]][0], int(first["r"]))
    if not failures:
        return LoadError(
            f"{spec.name}: a value did not fit its column's type, but a second "
            f"read found none: was a source file changed during the load?"
        )
    lines = []
    for column, count, first in failures:
        lines.append(
            f"{labels[first['i']]}: column {column.source} ({column.name}) is "
            f"{column.type} in the spec, but {count} value{'s' if count > 1 else ''} "
            f"{'are' if count > 1 else 'is'} not: first {cap(str(first['v']))!r} at row "
            f"{first['r']}"
        )
    column, _, first = failures[0]
    return SchemaDriftError(
        "; ".join(lines), file=labels[first["i"]], column=column.source, row=int(first["r"])
    )


def _csv_line(spec: DatasetSpec, path: Path, row: int) -> int:
    """The line of a CSV row numbered ``skip + ordinality`` (``_source_row``), counting the
    empty lines DuckDB skipped; ``row`` as it is when the file cannot be looked at."""
    try:
        _, skip = csv_layout(spec, path, errors="replace")
        return csv_record_line(path, skip, row - skip)
    except (OSError, ValueError):
        return row
