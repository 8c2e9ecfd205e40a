-- Search (目录检索): a full-text index of the catalogue, kept by catalog.search.
--
-- search_docs: one row per indexed entry (active = 0 once retired or deleted: rows are kept so
-- that in-memory copies can be patched by generation). v_* are ids in search_values of the
-- facet values. soon_at / overdue_at: when the freshness status becomes 'due_soon' and, once
-- past, 'overdue' (seconds since 1970 of catalogue local time, read as if it were UTC).
-- search_fts: the same rows' text as jieba tokens joined by spaces (rowid = search_docs.id).
-- search_pending: codes of entries written since they were indexed, filled by the triggers
-- below inside the writer's own transaction, so no change is missed whoever makes it.
CREATE TABLE search_docs (
    id            INTEGER PRIMARY KEY,
    code          TEXT NOT NULL UNIQUE,
    active        INTEGER NOT NULL DEFAULT 1,
    gen           INTEGER NOT NULL DEFAULT 0,
    name          TEXT NOT NULL,
    name_key      TEXT NOT NULL,
    provider_code TEXT,
    provider_name TEXT,
    category      TEXT,
    share_type    TEXT,
    open_type     TEXT,
    update_cycle  TEXT,
    formats       TEXT NOT NULL DEFAULT '',
    summary       TEXT NOT NULL DEFAULT '',
    updated_at    TEXT,
    tracked       INTEGER NOT NULL DEFAULT 0,
    soon_at       REAL,
    overdue_at    REAL,
    v_org         INTEGER NOT NULL DEFAULT 0,
    v_category    INTEGER NOT NULL DEFAULT 0,
    v_share       INTEGER NOT NULL DEFAULT 0,
    v_open        INTEGER NOT NULL DEFAULT 0,
    v_cycle       INTEGER NOT NULL DEFAULT 0,
    v_formats     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX search_docs_name ON search_docs(name_key);
CREATE INDEX search_docs_gen ON search_docs(gen);
CREATE INDEX search_docs_provider_code ON search_docs(provider_code);

CREATE TABLE search_values (
    id     INTEGER PRIMARY KEY,
    facet  TEXT NOT NULL,
    value  TEXT NOT NULL,
    UNIQUE (facet, value)
);

CREATE VIRTUAL TABLE search_fts USING fts5(
    name, chars, pinyin, tags, category, provider, items, summary,
    tokenize = 'unicode61 remove_diacritics 2'
);

CREATE TABLE search_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE search_pending (
    id   INTEGER PRIMARY KEY,
    code TEXT NOT NULL
);

CREATE TRIGGER search_entries_insert AFTER INSERT ON entries
BEGIN
    INSERT INTO search_pending (code) VALUES (NEW.code);
END;

CREATE TRIGGER search_entries_update AFTER UPDATE ON entries
BEGIN
    INSERT INTO search_pending (code) VALUES (NEW.code);
    INSERT INTO search_pending (code) SELECT OLD.code WHERE OLD.code IS NOT NEW.code;
END;

CREATE TRIGGER search_entries_delete AFTER DELETE ON entries
BEGIN
    INSERT INTO search_pending (code) VALUES (OLD.code);
END;

-- Entries that exist already are indexed by the first refresh.
INSERT INTO search_pending (code) SELECT code FROM entries;
