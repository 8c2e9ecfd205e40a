"""Failing rows with the file and row they came from: samples and the quarantine table.

A staged load's Parquet holds typed rows but not, for replace and append, where each row came
from (numbering rows makes DuckDB read a CSV on one thread, so the loader only numbers them
for upsert). When a run has failing rows, the landed source files are read again here, typed
the way the loader typed them, with ``_source_index`` and ``_source_row``; every failed
row-level expectation's ``unexpected_where`` predicate then picks its rows there. A staged
load passed the loader's cast checks, so these rows are exactly the staged ones.

* ``source_samples``: ≤ ``SAMPLE_ROWS`` failing rows per rule, first rows first, naming file
  and row (PII masked).
* ``write_quarantine``: every row failing any failed row-level rule, with the rules it fails
  (``_failed_rules``), its ``_source_file`` and ``_source_row``, to
  ``target`` (the gate writes ``<Workspace.quarantine_dir>/<dataset>/<run_id>.parquet``): the
  quarantine table (``mulu sql``: ``quarantine.<dataset>``). Written in one streaming COPY, so
  memory stays bounded.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from quality.suites import SuiteDefinition, quote_identifier, sql_literal
from quality.validate import SAMPLE_ROWS, VIEW, ValidationReport, limit_memory, mask
from schemas.dataset_spec import DatasetSpec
from warehouse.read import SOURCE_VIEW, read_source, typed_select
from warehouse.workspace import Workspace


@contextmanager
def numbered_rows(
    workspace: Workspace,
    spec: DatasetSpec,
    files: list[tuple[Path, str]],
    definition: SuiteDefinition,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A DuckDB connection whose view ``batch`` is the typed rows of ``files`` ((landed path,
    source URL) pairs) with ``_source_index`` and ``_source_row``, plus the suite's macros."""
    con = duckdb.connect()
    scratch = Path(tempfile.mkdtemp(prefix="quarantine-", dir=_tmp(workspace)))
    try:
        limit_memory(con)
        con.execute(f"SET temp_directory = {sql_literal(str(scratch / 'spill'))}")
        for macro in definition.macros:
            con.execute(macro)
        relation = read_source(
            con,
            spec,
            [path for path, _ in files],
            names=[label for _, label in files],
            workdir=scratch / "utf8",
        )
        types = {n: str(t) for n, t in zip(relation.columns, relation.types, strict=True)}
        names = ", ".join(quote_identifier(c.name) for c in spec.columns)
        con.execute(
            f"CREATE TEMP VIEW {VIEW} AS SELECT {names}, _source_index, _source_row "
            f"FROM ({typed_select(spec, types, SOURCE_VIEW)})"
        )
        yield con
    finally:
        con.close()
        shutil.rmtree(scratch, ignore_errors=True)


def _tmp(workspace: Workspace) -> Path:
    folder = workspace.staging_dir
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _row_level_failures(
    report: ValidationReport, definition: SuiteDefinition
) -> list[tuple[str, str, tuple[str, ...], str]]:
    """(rule, predicate, sample columns, reason) of each failed expectation that has rows."""
    out = []
    for result in report.failures:
        expectation = definition.rule(result.rule)
        if expectation.unexpected_where and result.error is None:
            out.append(
                (
                    result.rule,
                    expectation.unexpected_where.format(batch=VIEW),
                    expectation.sample_columns,
                    expectation.description,
                )
            )
    return out


def source_samples(
    con: duckdb.DuckDBPyConnection,
    spec: DatasetSpec,
    report: ValidationReport,
    definition: SuiteDefinition,
    labels: list[str],
    *,
    mask_pii: bool = True,
) -> dict[str, list[dict[str, Any]]]:
    """{rule: up to SAMPLE_ROWS failing rows} with source_file, source_row, values, reason."""
    pii = {c.name for c in spec.columns if c.pii is not None} if mask_pii else set()
    samples: dict[str, list[dict[str, Any]]] = {}
    for rule, where, columns, reason in _row_level_failures(report, definition):
        shown = [c for c in dict.fromkeys(columns)]
        select = ", ".join(["_source_index", "_source_row"] + [quote_identifier(c) for c in shown])
        rows = con.execute(
            f"SELECT {select} FROM {VIEW} WHERE {where} ORDER BY _source_index, "
            f"_source_row LIMIT {SAMPLE_ROWS}"
        ).fetchall()
        samples[rule] = [
            {
                "source_file": labels[row[0]] if row[0] is not None else None,
                "source_row": row[1],
                "reason": reason,
                "values": {
                    name: mask(value) if name in pii else value
                    for name, value in zip(shown, row[2:], strict=True)
                },
            }
            for row in rows
        ]
    return samples


def write_quarantine(
    con: duckdb.DuckDBPyConnection,
    report: ValidationReport,
    definition: SuiteDefinition,
    labels: list[str],
    target: Path,
) -> int:
    """Every failing row, with ``_failed_rules``, ``_source_file``, ``_source_row``, to
    ``target`` (Parquet); the number of rows written (0: no file)."""
    failures = _row_level_failures(report, definition)
    if not failures:
        return 0
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".part")
    reasons = ", ".join(
        f"CASE WHEN coalesce(({where}), false) THEN {sql_literal(rule)} END"
        for rule, where, _, _ in failures
    )
    any_failure = " OR ".join(f"coalesce(({where}), false)" for _, where, _, _ in failures)
    files = "[" + ", ".join(sql_literal(label) for label in labels) + "]"
    written = con.execute(
        f"COPY (SELECT {files}[_source_index + 1] AS _source_file, _source_row, "
        f"list_filter([{reasons}], r -> r IS NOT NULL) AS _failed_rules, "
        f"* EXCLUDE (_source_index, _source_row) FROM {VIEW} WHERE {any_failure} "
        f"ORDER BY _source_index, _source_row) TO {sql_literal(str(partial))} (FORMAT parquet)"
    ).fetchone()
    partial.replace(target)
    return int(written[0]) if written else 0
