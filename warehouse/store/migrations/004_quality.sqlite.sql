-- Quality (质量校验): every load is validated before it is published; these tables keep every
-- run, expectation result, failing-row sample and steward decision as history.
--
-- loads gains two statuses: 'blocked' (an error-severity expectation failed: the staged rows
-- are held in held_path, the live table is untouched, a steward decides) and 'rejected' (the
-- steward kept them out). An accepted blocked load becomes 'published'. SQLite cannot change
-- a CHECK constraint in place, so the table is rebuilt.
CREATE TABLE loads_v4 (
    load_id        TEXT PRIMARY KEY,
    dataset        TEXT NOT NULL,
    entry_code     TEXT,
    status         TEXT NOT NULL CHECK (status IN ('started', 'published', 'unchanged', 'failed',
                                                    'blocked', 'rejected')),
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
    quality_run_id TEXT,                  -- quality_runs.run_id of the validation of this load
    quality        TEXT CHECK (quality IN ('passed', 'warned', 'blocked')),
    held_path      TEXT                   -- staged Parquet of a blocked load, until decided
);
INSERT INTO loads_v4 (load_id, dataset, entry_code, status, fingerprint, sources, rows, schema,
                      snapshot_id, table_name, location, started_at, finished_at, error,
                      error_file, error_column, error_row)
    SELECT load_id, dataset, entry_code, status, fingerprint, sources, rows, schema, snapshot_id,
           table_name, location, started_at, finished_at, error, error_file, error_column,
           error_row FROM loads;
DROP TABLE loads;
ALTER TABLE loads_v4 RENAME TO loads;
CREATE INDEX loads_dataset ON loads(dataset, status, snapshot_id);

-- One validation of one load's staged rows. status is the suite's verdict; decision is the
-- steward's on a blocked run (NULL: none yet). score = 100 × (passed + waived) / expectations.
CREATE TABLE quality_runs (
    run_id           TEXT PRIMARY KEY,      -- = the load_id it validated
    dataset          TEXT NOT NULL,
    entry_code       TEXT,
    load_id          TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('passed', 'warned', 'blocked')),
    decision         TEXT CHECK (decision IN ('accepted', 'rejected')),
    rows             INTEGER NOT NULL,
    expectations     INTEGER NOT NULL,
    passed           INTEGER NOT NULL,
    errors           INTEGER NOT NULL,      -- failed error-severity expectations (not waived)
    warnings         INTEGER NOT NULL,      -- failed warning-severity expectations (not waived)
    waived           INTEGER NOT NULL DEFAULT 0,
    score            REAL NOT NULL,
    today            TEXT NOT NULL,         -- the date 'not in the future' was checked against
    engine           TEXT,
    started_at       TEXT NOT NULL,
    finished_at      TEXT NOT NULL,
    seconds          REAL,
    quarantine_path  TEXT,                  -- Parquet of the failing rows (blocked runs)
    quarantined_rows INTEGER NOT NULL DEFAULT 0,
    data_docs        TEXT,                  -- GE Data Docs page of the run
    spec             TEXT NOT NULL          -- JSON of the dataset spec the suite came from
);
CREATE INDEX quality_runs_dataset ON quality_runs(dataset, started_at);
CREATE INDEX quality_runs_entry ON quality_runs(entry_code, started_at);

CREATE TABLE quality_results (
    run_id           TEXT NOT NULL REFERENCES quality_runs(run_id),
    rule             TEXT NOT NULL,         -- stable name, e.g. id_card_no:format, primary_key
    expectation_type TEXT NOT NULL,
    column_name      TEXT,
    severity         TEXT NOT NULL CHECK (severity IN ('error', 'warning')),
    source           TEXT NOT NULL,         -- spec | check
    success          INTEGER NOT NULL,
    unexpected_count INTEGER,
    element_count    INTEGER,
    observed_value   TEXT,
    description      TEXT,
    error            TEXT,                  -- GE raised computing it (counts as a failure)
    waived           INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, rule)
);

CREATE TABLE quality_samples (
    run_id      TEXT NOT NULL REFERENCES quality_runs(run_id),
    rule        TEXT NOT NULL,
    position    INTEGER NOT NULL,          -- 1..20, first failing rows first
    source_file TEXT,                      -- the source file, as its URL
    source_row  INTEGER,                   -- the CSV line / spreadsheet row / record number
    reason      TEXT,
    "values"    TEXT NOT NULL,             -- JSON {column: value}; PII columns masked
    PRIMARY KEY (run_id, rule, position)
);

CREATE TABLE quality_reviews (
    review_id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id    TEXT NOT NULL REFERENCES quality_runs(run_id),
    action    TEXT NOT NULL CHECK (action IN ('accept', 'reject', 'waive')),
    rule      TEXT,                         -- the expectation waived
    note      TEXT,
    reviewer  TEXT NOT NULL,
    at        TEXT NOT NULL,
    outcome   TEXT                          -- what it did: published snapshot n, kept out …
);
CREATE INDEX quality_reviews_run ON quality_reviews(run_id, review_id);
