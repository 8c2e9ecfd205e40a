-- Warehouse loads (装载记录): one row per attempt to load a dataset into the lake, whatever its
-- outcome. A load is 'started' until it ends 'published' (a new lake snapshot), 'unchanged'
-- (the source files were already loaded: nothing written) or 'failed' (error* say where).
-- A 'started' row whose process died is settled by the next load of the dataset: 'published'
-- when its lake commit had happened (the lake snapshot names its load_id), else 'failed'.
CREATE TABLE loads (
    load_id      TEXT PRIMARY KEY,
    dataset      TEXT NOT NULL,           -- the spec's name = the lake table
    entry_code   TEXT,                    -- 信息资源代码 the dataset serves
    status       TEXT NOT NULL CHECK (status IN ('started', 'published', 'unchanged', 'failed')),
    fingerprint  TEXT,                    -- sha256 over the sorted sha256s of the landed files
    sources      TEXT NOT NULL DEFAULT '[]',  -- JSON [{url, sha256, landed_path}] of files loaded
    rows         INTEGER,                 -- rows written by this load
    schema       TEXT,                    -- JSON [[column, DuckDB type], …]
    snapshot_id  INTEGER,                 -- the lake snapshot (version) the load made or found
    table_name   TEXT,                    -- lake.main.<dataset>
    location     TEXT,                    -- folder of the table's Parquet files
    started_at   TEXT NOT NULL,           -- ISO, Asia/Shanghai local time
    finished_at  TEXT,
    error        TEXT,
    error_file   TEXT,                    -- the source file, as its URL
    error_column TEXT,                    -- the source column name
    error_row    INTEGER                  -- the CSV line / spreadsheet row
);
CREATE INDEX loads_dataset ON loads(dataset, status, snapshot_id);
