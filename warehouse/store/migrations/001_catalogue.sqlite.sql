-- Catalogue metadata: organisations (提供方), entries (目录条目), their change history,
-- update events (数据更新记录) and bulk imports.

CREATE TABLE organisations (
    code          TEXT PRIMARY KEY,          -- 提供方代码 (统一社会信用代码 or local)
    name          TEXT NOT NULL,             -- 提供方名称
    parent_code   TEXT,                      -- 上级部门代码
    kind          TEXT,                      -- 机构类别
    contact_name  TEXT,
    contact_phone TEXT,
    contact_email TEXT,
    created_at    TEXT NOT NULL
);
CREATE INDEX organisations_name ON organisations(name);

CREATE TABLE entries (
    code            TEXT PRIMARY KEY,        -- 信息资源代码 分类码/顺序码
    classification  TEXT NOT NULL,           -- 分类码 (类+项+目+细目)
    resource_class  TEXT NOT NULL,           -- 类: 1 基础, 2 主题, 3 部门
    name            TEXT NOT NULL,           -- 信息资源名称
    category_name   TEXT,                    -- 信息资源分类名称
    provider_code   TEXT NOT NULL REFERENCES organisations(code),
    provider_name   TEXT NOT NULL,
    summary         TEXT NOT NULL DEFAULT '',
    format_category TEXT,
    formats         TEXT NOT NULL DEFAULT '[]',   -- JSON list
    data_items      TEXT NOT NULL DEFAULT '[]',   -- JSON list of {name, data_type, length, description}
    share_type      TEXT NOT NULL,           -- 共享类型
    share_condition TEXT,
    share_method    TEXT,
    open_type       TEXT,                    -- 开放属性
    update_cycle    TEXT,                    -- 更新周期 (canonical label)
    published_at    TEXT,                    -- 发布日期 (ISO date)
    updated_at      TEXT,                    -- 最近更新时间 (ISO datetime, catalogue local time)
    related_codes   TEXT NOT NULL DEFAULT '[]',
    theme           TEXT,
    tags            TEXT NOT NULL DEFAULT '[]',
    landing_page    TEXT,
    status          TEXT NOT NULL DEFAULT 'active',
    source          TEXT,                    -- mapping / importer that created it
    source_key      TEXT UNIQUE,             -- identity in the source, for idempotent re-import
    version         INTEGER NOT NULL DEFAULT 1,
    created_at      TEXT NOT NULL,
    modified_at     TEXT NOT NULL
);
CREATE INDEX entries_provider ON entries(provider_code);
CREATE INDEX entries_classification ON entries(classification);

-- Every change to an entry: who, when, what (old and new values per changed field).
CREATE TABLE entry_history (
    id          INTEGER PRIMARY KEY,
    code        TEXT NOT NULL,
    version     INTEGER NOT NULL,
    action      TEXT NOT NULL,               -- create | update | retire | restore
    changed_at  TEXT NOT NULL,
    changed_by  TEXT NOT NULL,
    changes     TEXT NOT NULL,               -- JSON {field: [old, new]}
    import_id   INTEGER
);
CREATE INDEX entry_history_code ON entry_history(code, version);

-- When an entry's data was actually updated (数据更新), from loads, reports or harvests.
CREATE TABLE entry_updates (
    id          INTEGER PRIMARY KEY,
    code        TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    source      TEXT NOT NULL,               -- pipeline | report | harvest | demo
    reported_by TEXT,
    note        TEXT,
    recorded_at TEXT NOT NULL
);
CREATE INDEX entry_updates_code ON entry_updates(code, updated_at);

CREATE TABLE imports (
    id          INTEGER PRIMARY KEY,
    file        TEXT NOT NULL,
    mapping     TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    by          TEXT NOT NULL,
    records     INTEGER NOT NULL DEFAULT 0,
    created     INTEGER NOT NULL DEFAULT 0,
    updated     INTEGER NOT NULL DEFAULT 0,
    unchanged   INTEGER NOT NULL DEFAULT 0,
    rejected    INTEGER NOT NULL DEFAULT 0,
    rejects_file TEXT
);

-- Rows an import rejected, with the raw record, so nothing is lost.
CREATE TABLE import_rejects (
    import_id  INTEGER NOT NULL REFERENCES imports(id),
    row        INTEGER NOT NULL,
    field      TEXT NOT NULL,
    reason     TEXT NOT NULL,
    record     TEXT NOT NULL
);
