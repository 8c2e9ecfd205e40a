"""Staging: a source's checked, typed rows in ``staging/<dataset>/<load_id>.parquet``.

One streaming DuckDB COPY reads, checks and writes them, so writing the rows is the drift check;
only when it stops on a value that does not fit is the source read again, to say where.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb

from schemas.dataset_spec import DatasetSpec
from warehouse.lake import quote_literal
from warehouse.landing import LandedFile
from warehouse.load.changes import fingerprint
from warehouse.load.results import SourceFile, StagedLoad, new_load_id
from warehouse.read import (
    CAST_FAILURE,
    SOURCE_VIEW,
    UNNUMBERED_VIEW,
    cast_failures,
    checked_select,
    failing_file_error,
    read_source,
)
from warehouse.workspace import Workspace

# DuckDB spills to staging/.duckdb-tmp beyond this, so a load's memory stays bounded.
MEMORY_LIMIT = "2GB"
_ROW_COLUMNS = ("_source_index", "_source_row")


def stage(
    workspace: Workspace,
    spec: DatasetSpec,
    landed: list[LandedFile],
    *,
    load_id: str | None = None,
    fingerprint_of: list[LandedFile] | None = None,
    con: duckdb.DuckDBPyConnection | None = None,
) -> StagedLoad:
    """Read, check and type ``landed`` into ``staging/<dataset>/<load_id>.parquet``.

    Raises SchemaDriftError (missing/renamed column, a value that does not fit its column's
    type) or SourceError (unreadable file); then nothing is left in staging.
    ``fingerprint_of``: the files the fingerprint covers (default ``landed``). ``con``: the
    connection to work on (load_dataset passes its lake connection); default a new one.
    """
    load_id = load_id or new_load_id()
    work = con if con is not None else bounded(duckdb.connect(), workspace)
    try:
        target, rows = stage_rows(
            workspace, spec, work, load_id, [(f.path, f.source_url) for f in landed]
        )
    finally:
        if con is None:
            work.close()
    return staged(spec, load_id, target, rows, landed, fingerprint_of)


def staged(
    spec: DatasetSpec,
    load_id: str,
    target: Path,
    rows: int,
    landed: list[LandedFile],
    fingerprint_of: list[LandedFile] | None,
) -> StagedLoad:
    """The StagedLoad of rows already written to ``target`` from ``landed``."""
    return StagedLoad(
        dataset=spec.name,
        load_id=load_id,
        path=target,
        rows=int(rows),
        schema=[(c.name, c.duckdb_type()) for c in spec.columns],
        sources=[SourceFile(f.source_url, f.sha256, str(f.path)) for f in landed],
        fingerprint=fingerprint(fingerprint_of if fingerprint_of is not None else landed),
        numbered=spec.load.mode == "upsert",
    )


def stage_rows(
    workspace: Workspace,
    spec: DatasetSpec,
    work: duckdb.DuckDBPyConnection,
    load_id: str,
    inputs: list[tuple[Path, str]],
) -> tuple[Path, int]:
    """COPY the checked, typed rows of ``inputs`` ((path, label) pairs) to the staging file:
    (its path, rows). Nothing is left behind when it raises."""
    folder = workspace.staging_dir / spec.name
    folder.mkdir(parents=True, exist_ok=True)
    target, workdir = folder / f"{load_id}.parquet", folder / f"{load_id}.work"
    numbered = spec.load.mode == "upsert"  # last wins: each row's file and row are kept
    try:
        relation = read_source(
            work,
            spec,
            [path for path, _ in inputs],
            names=[label for _, label in inputs],
            workdir=workdir,
        )
        types = {
            name: str(kind) for name, kind in zip(relation.columns, relation.types, strict=True)
        }
        # One pass reads, checks and writes. Numbering rows makes DuckDB read a CSV on one
        # thread, so only upsert, which needs them, pays for it; a failed check reads again,
        # numbered, to say where.
        select = (
            checked_select(spec, types, SOURCE_VIEW, keep=_ROW_COLUMNS)
            if numbered
            else checked_select(spec, types, UNNUMBERED_VIEW)
        )
        try:
            copied = work.execute(
                f"COPY ({select}) TO {quote_literal(str(target))} (FORMAT parquet)"
            ).fetchone()
        # Malformed rows surface while streaming, not at bind. A UnicodeDecodeError is DuckDB's
        # message quoting a long line cut inside a character.
        except (duckdb.Error, UnicodeDecodeError) as exc:
            if CAST_FAILURE in str(exc):
                raise cast_failures(work, spec, types, inputs) from None
            raise failing_file_error(exc, inputs, spec) from exc
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    assert copied is not None
    return target, int(copied[0])


def bounded(con: duckdb.DuckDBPyConnection, workspace: Workspace) -> duckdb.DuckDBPyConnection:
    """Cap DuckDB's memory; beyond it, sorts and windows spill to staging/.duckdb-tmp.

    Rows need not keep the source's order (upsert orders by ``_source_row`` itself, and a
    table has no order), so DuckDB may write them as its threads finish: less buffering,
    and about 15% faster staging."""
    spill = workspace.staging_dir / ".duckdb-tmp"
    con.execute(f"SET temp_directory = {quote_literal(str(spill))}")
    con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
    con.execute("SET preserve_insertion_order = false")
    return con
