-- loads gains the status 'waiting' (issue 11): the source was still being written (it changed
-- while it was landed, or within the spec's settle time) or its ready marker was missing.
-- Nothing was staged or published; the next run or sensor tick loads it. SQLite cannot change
-- a CHECK constraint in place, so the table is rebuilt (with every column it has).
CREATE TABLE loads_v8 (
    load_id        TEXT PRIMARY KEY,
    dataset        TEXT NOT NULL,
    entry_code     TEXT,
    status         TEXT NOT NULL CHECK (status IN ('started', 'published', 'unchanged', 'failed',
                                                    'blocked', 'rejected', 'waiting')),
    fingerprint    TEXT,
    sources        TEXT NOT NULL DEFAULT '[]',
    rows           INTEGER,
    schema         TEXT,
    snapshot_id    INTEGER,
    table_name     TEXT,
    location       TEXT,
    started_at     TEXT NOT NULL,
    finished_at    TEXT,
    error          TEXT,
    error_file     TEXT,
    error_column   TEXT,
    error_row      INTEGER,
    quality_run_id TEXT,
    quality        TEXT CHECK (quality IN ('passed', 'warned', 'blocked')),
    held_path      TEXT
);
INSERT INTO loads_v8 (load_id, dataset, entry_code, status, fingerprint, sources, rows, schema,
                      snapshot_id, table_name, location, started_at, finished_at, error,
                      error_file, error_column, error_row, quality_run_id, quality, held_path)
    SELECT load_id, dataset, entry_code, status, fingerprint, sources, rows, schema, snapshot_id,
           table_name, location, started_at, finished_at, error, error_file, error_column,
           error_row, quality_run_id, quality, held_path FROM loads;
DROP TABLE loads;
ALTER TABLE loads_v8 RENAME TO loads;
CREATE INDEX loads_dataset ON loads(dataset, status, snapshot_id);
