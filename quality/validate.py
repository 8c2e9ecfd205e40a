"""Validate a staged load's Parquet against its spec's suite, where the data is (DuckDB).

``validate_parquet(path, spec, today=...)`` builds the suite (``quality.suites``), runs it with
Great Expectations' SQL engine on DuckDB (SQLAlchemy + duckdb-engine; every metric is a query
pushed down to DuckDB over a VIEW on ``read_parquet``, so no rows are pulled into pandas and
memory stays bounded), then asks DuckDB itself for up to ``SAMPLE_ROWS`` failing rows of each
failed row-level expectation, with their row numbers.

GE on duckdb-engine needs two things (both handled in ``_ge_batch``):

* one persistent connection: duckdb-engine runs BEGIN/ROLLBACK around each pooled checkout and
  GE fetches a query's rows *after* handing its connection back, when DuckDB has already
  dropped the result ("list index out of range", "'NoneType' object is not subscriptable").
  The engine gets a ``creator`` making one in-memory DuckDB connection (with the view and the
  ``mulu_*`` macros) wrapped so begin/commit/rollback are no-ops (validation only reads), in a
  ``StaticPool``;
* no regex and no column-type expectations through GE's SQL dialect on duckdb: they raise
  (regex: NotImplementedError; types: KeyError 'type'). ``quality.suites`` expresses those as
  ``UnexpectedRowsExpectation`` queries, still run by GE.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from quality.suites import (
    SuiteDefinition,
    build_suite,
    quote_identifier,
    sql_literal,
)
from schemas.dataset_spec import DatasetSpec
from warehouse.lake import scalar

SAMPLE_ROWS = 20
VIEW = "batch"
# DuckDB spills beyond its memory limit. A validation's big part is the uniqueness window over
# every key, which fills whatever limit it is given: process peaks at 1M / 10M / 30M rows were
# 401 / 893 / 1,141 MiB under 512 MB and 376 / 515 / 566 MiB under 128 MB, within 1.4-2.5x a
# single hand-written scan either way (BENCHMARKS.md). Per thread, with a floor, since
# each DuckDB thread needs working memory of its own.
MEMORY_PER_THREAD_MB = 64
MEMORY_FLOOR_MB = 128
# Columns the loader writes into staged Parquet (warehouse.read.META_COLUMNS) that point a
# person at the source file and row.
SOURCE_COLUMNS = ("_source_index", "_source_row")
ENGINE = "great_expectations+SqlAlchemyExecutionEngine(duckdb)"


@dataclass
class ExpectationResult:
    rule: str
    expectation_type: str
    column: str | None
    severity: str
    source: str  # spec | check
    success: bool
    unexpected_count: int | None
    element_count: int | None
    observed_value: Any = None
    description: str = ""
    error: str | None = None  # GE raised while computing it (counts as a failure)
    samples: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ValidationReport:
    dataset: str
    parquet: str
    today: dt.date
    started_at: str
    finished_at: str
    seconds: float
    rows: int
    engine: str  # the GE execution engine the suite ran on
    results: list[ExpectationResult]
    # GE's own ExpectationSuiteValidationResult, for Data Docs (quality.data_docs); not stored.
    ge_result: Any = field(default=None, repr=False, compare=False)

    @property
    def failures(self) -> list[ExpectationResult]:
        return [r for r in self.results if not r.success]

    @property
    def errors(self) -> list[ExpectationResult]:
        """Failed error-severity expectations: any of them blocks the load."""
        return [r for r in self.failures if r.severity == "error"]

    @property
    def warnings(self) -> list[ExpectationResult]:
        """Failed warning-severity expectations: reported, not blocking."""
        return [r for r in self.failures if r.severity == "warning"]

    @property
    def blocked(self) -> bool:
        return bool(self.errors)

    def result(self, rule: str) -> ExpectationResult:
        for result in self.results:
            if result.rule == rule:
                return result
        raise KeyError(rule)

    def to_records(self, run_id: str) -> dict[str, list[dict[str, Any]]]:
        """The report as rows for three tables (quality_runs, quality_results,
        quality_samples), ready to be stored as data."""
        run = {
            "run_id": run_id,
            "dataset": self.dataset,
            "parquet": self.parquet,
            "today": self.today.isoformat(),
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "seconds": self.seconds,
            "rows": self.rows,
            "engine": self.engine,
            "blocked": self.blocked,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
        }
        results, samples = [], []
        for r in self.results:
            row = asdict(r)
            row.pop("samples")
            row["observed_value"] = None if r.observed_value is None else str(r.observed_value)
            results.append({"run_id": run_id, **row})
            for s in r.samples:
                samples.append(
                    {
                        "run_id": run_id,
                        "rule": r.rule,
                        "row_number": s["row_number"],
                        "source_index": s.get("source_index"),
                        "source_row": s.get("source_row"),
                        "reason": s["reason"],
                        "values": {
                            k: None if v is None else str(v) for k, v in s["values"].items()
                        },
                    }
                )
        return {"quality_runs": [run], "quality_results": results, "quality_samples": samples}


# --- DuckDB --------------------------------------------------------------------------------
def connect(
    parquet: Path,
    definition: SuiteDefinition,
    *,
    temp_dir: Path | None = None,
    derived: bool = True,
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with ``batch`` (a VIEW over the Parquet file) and the
    suite's macros.

    ``derived``: the view also has the suite's derived columns (format verdicts). They are
    computed once, in one parallel scan, into a small temp table of booleans joined to the
    file by position: GE queries the view several times per rule (count, unexpected values,
    non-null count), and a check-digit macro in a plain view would run in each of them.
    """
    con = duckdb.connect()
    limit_memory(con)
    if temp_dir is not None:
        con.execute(f"SET temp_directory = {sql_literal(str(temp_dir))}")
    for macro in definition.macros:
        con.execute(macro)
    source = f"read_parquet({sql_literal(str(Path(parquet).resolve()))})"
    if derived and definition.derived:
        columns = ", ".join(
            f"{sql} AS {quote_identifier(name)}" for name, sql in definition.derived
        )
        con.execute(f"CREATE TEMP TABLE _derived AS SELECT {columns} FROM {source}")
        con.execute(f"CREATE VIEW {VIEW} AS SELECT * FROM {source} POSITIONAL JOIN _derived")
    else:
        con.execute(f"CREATE VIEW {VIEW} AS SELECT * FROM {source}")
    return con


def limit_memory(con: duckdb.DuckDBPyConnection) -> None:
    """Validation's memory limit on ``con`` (``MEMORY_PER_THREAD_MB`` per thread, at least
    ``MEMORY_FLOOR_MB``); DuckDB spills to its temp directory beyond it."""
    threads = int(scalar(con, "SELECT current_setting('threads')"))
    con.execute(f"SET memory_limit = '{max(MEMORY_FLOOR_MB, MEMORY_PER_THREAD_MB * threads)}MB'")


def mask(value: Any) -> Any:
    """A PII value as samples show it: first 3 and last 2 characters."""
    if value is None:
        return None
    text = str(value)
    return text[:3] + "*" * (len(text) - 5) + text[-2:] if len(text) > 6 else "***"


def _samples(
    con: duckdb.DuckDBPyConnection,
    parquet: Path,
    where: str,
    columns: tuple[str, ...],
    reason: str,
    pii: set[str],
    present: set[str],
) -> list[dict[str, Any]]:
    """Up to SAMPLE_ROWS rows matching ``where``, first rows first (a top-N: bounded memory)."""
    meta = [c for c in SOURCE_COLUMNS if c in present]
    shown = [c for c in columns if c in present]
    select = ", ".join(["file_row_number + 1"] + [quote_identifier(c) for c in meta + shown])
    rows = con.execute(
        f"SELECT {select} FROM read_parquet({sql_literal(str(Path(parquet).resolve()))}, "
        f"file_row_number = true) WHERE {where.format(batch=VIEW)} "
        f"ORDER BY file_row_number LIMIT {SAMPLE_ROWS}"
    ).fetchall()
    out = []
    for row in rows:
        sample: dict[str, Any] = {"row_number": int(row[0]), "reason": reason}
        for name, value in zip(meta, row[1 : 1 + len(meta)], strict=True):
            sample[name.lstrip("_")] = value
        sample["values"] = {
            name: mask(value) if name in pii else value
            for name, value in zip(shown, row[1 + len(meta) :], strict=True)
        }
        out.append(sample)
    return out


# --- GE ------------------------------------------------------------------------------------
def _ge_batch(
    parquet: Path, definition: SuiteDefinition, temp_dir: Path | None
) -> tuple[Any, Callable[[], None]]:
    """A GE batch over the view, on a SQLAlchemy engine holding one persistent DuckDB
    connection, and a function that closes that connection (and frees its memory)."""
    import great_expectations as gx
    import sqlalchemy as sa
    from duckdb_engine import ConnectionWrapper
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    class _ReadOnlyConnection(ConnectionWrapper):
        """duckdb-engine's connection without transactions: a ROLLBACK would drop the result
        GE is about to fetch."""

        def begin(self) -> None:
            pass

        def commit(self) -> None:
            pass

        def rollback(self) -> None:
            pass

    opened: list[duckdb.DuckDBPyConnection] = []

    def creator() -> _ReadOnlyConnection:
        # GE's engine asks for a connection more than once; one DuckDB connection serves all,
        # so the view's derived columns are computed once.
        if not opened:
            opened.append(connect(parquet, definition, temp_dir=temp_dir))
        return _ReadOnlyConnection(opened[0])

    context = gx.get_context(
        mode="ephemeral",
        project_config=DataContextConfig(
            analytics_enabled=False,
            progress_bars=ProgressBarsConfig(globally=False),
            store_backend_defaults=InMemoryStoreBackendDefaults(),
        ),
    )
    source = context.data_sources.add_sql(
        "staged",
        connection_string="duckdb:///:memory:",
        create_temp_table=False,
        # GE's stub omits add_sql's engine ``kwargs`` field, which the model accepts at runtime.
        kwargs={"creator": creator, "poolclass": sa.pool.StaticPool},  # type: ignore[call-arg]
    )
    asset = source.add_table_asset(VIEW, table_name=VIEW)

    def close() -> None:
        for con in opened:
            con.close()

    return asset.add_batch_definition_whole_table("all").get_batch(), close


def _exception(result: Any) -> str | None:
    info = result.exception_info or {}
    if info.get("raised_exception"):
        return str(info.get("exception_message"))
    for value in info.values():  # {metric id: {...}} when a metric failed
        if isinstance(value, dict) and value.get("raised_exception"):
            return str(value.get("exception_message"))
    return None


def validate_parquet(
    parquet: Path,
    spec: DatasetSpec,
    *,
    today: dt.date,
    temp_dir: Path | None = None,
    mask_pii: bool = True,
    samples: bool = True,
) -> ValidationReport:
    """Run ``spec``'s suite on ``parquet`` (e.g. ``StagedLoad.path``) with GE on DuckDB.

    ``today``: the date 'not in the future' and 身份证号 birth dates are checked against.
    ``mask_pii``: mask values of ``pii`` columns in failing-row samples (samples are stored
    outside the warehouse). ``samples``: False leaves failing-row samples to the caller
    (``quality.quarantine`` takes them from the source files, with their rows).
    """
    from quality.suites import to_ge_suite

    started, clock = dt.datetime.now().isoformat(timespec="seconds"), time.perf_counter()
    parquet = Path(parquet)
    definition = build_suite(spec, today=today)
    batch, close_ge = _ge_batch(parquet, definition, temp_dir)
    try:
        engine = type(batch.data.execution_engine).__name__
        ge_result = batch.validate(to_ge_suite(definition), result_format="BASIC")
        by_rule = {r.expectation_config.meta["rule"]: r for r in ge_result.results}
    finally:
        # Before the next database opens: two would hold two buffer pools at once.
        close_ge()

    con = connect(parquet, definition, temp_dir=temp_dir, derived=False)
    try:
        rows = scalar(con, f"SELECT count(*) FROM {VIEW}")
        present = set(con.sql(f"SELECT * FROM {VIEW} LIMIT 0").columns)
        pii = {c.name for c in spec.columns if c.pii is not None} if mask_pii else set()
        results = []
        for expectation in definition.expectations:
            ge = by_rule[expectation.rule]
            error = _exception(ge)
            got = dict(ge.result or {})
            unexpected, element = got.get("unexpected_count"), got.get("element_count")
            observed = got.get("observed_value")
            if expectation.expectation_type == "unexpected_rows_expectation" or (
                unexpected is None and expectation.unexpected_where and error is None
            ):
                # GE reports the unexpected row count as observed_value here.
                unexpected = observed if isinstance(observed, int) else unexpected
                element = rows if expectation.unexpected_where else element
            success = bool(ge.success) and error is None
            found = []
            if samples and not success and error is None and expectation.unexpected_where:
                found = _samples(
                    con,
                    parquet,
                    expectation.unexpected_where,
                    expectation.sample_columns,
                    expectation.description,
                    pii,
                    present,
                )
            results.append(
                ExpectationResult(
                    rule=expectation.rule,
                    expectation_type=expectation.expectation_type,
                    column=expectation.column,
                    severity=expectation.severity,
                    source=expectation.source,
                    success=success,
                    unexpected_count=unexpected,
                    element_count=element,
                    observed_value=observed,
                    description=expectation.description,
                    error=error,
                    samples=found,
                )
            )
    finally:
        con.close()
    return ValidationReport(
        dataset=spec.name,
        parquet=str(parquet),
        today=today,
        started_at=started,
        finished_at=dt.datetime.now().isoformat(timespec="seconds"),
        seconds=round(time.perf_counter() - clock, 3),
        rows=int(rows),
        engine=engine,
        results=results,
        ge_result=ge_result,
    )
