-- Issue 12, faithful imports.
-- Dates keep the precision the source gave: a year stays a year. The value columns hold the
-- start of the period (so comparisons and the freshness sweep keep working); the precision
-- says how much of it the source stated. NULL means full precision (a day for 发布日期, a
-- second for 最近更新时间).
ALTER TABLE entries ADD COLUMN published_precision TEXT
    CHECK (published_precision IN ('year', 'month', 'day'));
ALTER TABLE entries ADD COLUMN updated_precision TEXT
    CHECK (updated_precision IN ('year', 'month', 'day', 'minute', 'second'));
-- Every field the source record had, as read (JSON object), so nothing of it is lost.
ALTER TABLE entries ADD COLUMN source_record TEXT;

-- An import always ends in a state: running (its process is alive), finished, failed (an
-- error ended it, recorded in error) or interrupted (its process died; re-running the import
-- resumes it, since applying the same records again changes nothing already applied).
ALTER TABLE imports ADD COLUMN status TEXT NOT NULL DEFAULT 'finished'
    CHECK (status IN ('running', 'finished', 'failed', 'interrupted'));
ALTER TABLE imports ADD COLUMN pid INTEGER;
ALTER TABLE imports ADD COLUMN host TEXT;
ALTER TABLE imports ADD COLUMN error TEXT;
ALTER TABLE imports ADD COLUMN warned INTEGER NOT NULL DEFAULT 0;
ALTER TABLE imports ADD COLUMN duplicates INTEGER NOT NULL DEFAULT 0;
UPDATE imports SET status = 'interrupted' WHERE finished_at IS NULL;

-- Problems of an import: rejects (the record did not land) and warnings (it landed; the raw
-- value is kept here). raw is the record's verbatim source text.
ALTER TABLE import_rejects ADD COLUMN severity TEXT NOT NULL DEFAULT 'reject'
    CHECK (severity IN ('reject', 'warning'));
ALTER TABLE import_rejects ADD COLUMN code TEXT;
ALTER TABLE import_rejects ADD COLUMN raw TEXT;
