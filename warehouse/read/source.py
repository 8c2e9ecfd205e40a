"""``read_source``: every file of a load as one DuckDB relation, checked file by file.

Files are checked one by one before anything is written, so a missing or renamed column is
reported with the file it is missing from.
"""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from pathlib import Path

import duckdb

from schemas.dataset_spec import DatasetSpec
from warehouse.lake import load_extension
from warehouse.read.diagnose import failing_file_error
from warehouse.read.drift import check_columns
from warehouse.read.errors import LoadError, SourceError, source_error
from warehouse.read.formats import file_sql
from warehouse.read.views import SOURCE_VIEW, UNNUMBERED_VIEW
from warehouse.transcode import TranscodeError


def read_source(
    con: duckdb.DuckDBPyConnection,
    spec: DatasetSpec,
    files: Sequence[Path],
    *,
    names: Sequence[str] | None = None,
    workdir: Path | None = None,
) -> duckdb.DuckDBPyRelation:
    """Every row of ``files`` as one relation (also the temp view ``_mulu_source``).

    The relation has the source's own columns (text for CSV and Excel, native types for JSON
    and Parquet) plus ``_source_index`` (which file), ``_source_file`` and ``_source_row``.
    Files are unioned by name. Raises SchemaDriftError when a file lacks a column the spec
    names, SourceError when a file cannot be read. ``names`` are the files as people know
    them (source URLs), for messages; ``workdir`` receives UTF-8 copies of GBK/GB18030 files
    (default: a new temporary directory when one is needed; the caller deletes it). The temp view
    ``_mulu_source_unnumbered`` holds the same rows with ``_source_row`` NULL for CSV and JSON,
    which DuckDB reads in parallel.
    """
    if not files:
        raise SourceError(f"{spec.name}: no source files")
    labels = list(names) if names is not None else [str(f) for f in files]
    fmt = spec.source.format
    if fmt == "xlsx":
        load_extension(con, "excel")
    for index, (path, label) in enumerate(zip(files, labels, strict=True)):
        try:
            sql, unnumbered, repeated = file_sql(con, spec, Path(path), index, label, workdir)
            relation = con.sql(sql)  # binds: reads the header / samples the file
        except LoadError:
            raise
        except TranscodeError as exc:
            # The message without the file's name: a landed file is named by its hash.
            reason = str(exc).split(": ", 1)[-1]
            raise SourceError(f"{label}: {reason}", file=label, row=exc.line) from exc
        except (duckdb.Error, UnicodeDecodeError) as exc:
            raise failing_file_error(exc, [(Path(path), label)], spec) from exc
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
            raise source_error(label, exc) from exc
        check_columns(spec, relation.columns, label, repeated)
        con.execute(f"CREATE OR REPLACE TEMP VIEW {SOURCE_VIEW}_{index} AS {sql}")
        con.execute(f"CREATE OR REPLACE TEMP VIEW {UNNUMBERED_VIEW}_{index} AS {unnumbered}")
    for view in (SOURCE_VIEW, UNNUMBERED_VIEW):
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW {view} AS "
            + " UNION ALL BY NAME ".join(
                f"SELECT * FROM {view}_{index}" for index in range(len(files))
            )
        )
    return con.sql(f"SELECT * FROM {SOURCE_VIEW}")
