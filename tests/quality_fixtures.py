"""Helpers the quality tests share: a staged load's Parquet file, written by DuckDB."""

from __future__ import annotations

from pathlib import Path

import duckdb

from quality.suites import sql_literal


def write_parquet(path: Path, rows: list[tuple]) -> Path:
    """Rows (id_card_no, person_name, gender, monthly_allowance, approved_on) as the loader
    stages them: typed columns plus _source_index/_source_row."""
    values = ", ".join(
        "(" + ", ".join(sql_literal(v) for v in row) + f", 0, {i + 2})"
        for i, row in enumerate(rows)
    )
    con = duckdb.connect()
    con.execute(
        f"COPY (SELECT id_card_no::VARCHAR AS id_card_no, person_name::VARCHAR AS person_name, "
        f"gender::VARCHAR AS gender, monthly_allowance::DECIMAL(10,2) AS monthly_allowance, "
        f"approved_on::DATE AS approved_on, _source_index::INTEGER AS _source_index, "
        f"_source_row::BIGINT AS _source_row FROM (VALUES {values}) t(id_card_no, person_name, "
        f"gender, monthly_allowance, approved_on, _source_index, _source_row)) "
        f"TO {sql_literal(str(path))} (FORMAT parquet)"
    )
    con.close()
    return path
