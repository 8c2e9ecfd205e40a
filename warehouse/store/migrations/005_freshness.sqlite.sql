-- Freshness (更新时效): per-entry and per-organisation overrides of the SLA a 更新周期 implies,
-- and the notices already sent, so none is sent twice.
CREATE TABLE freshness_policies (
    scope        TEXT NOT NULL CHECK (scope IN ('entry', 'organisation')),
    code         TEXT NOT NULL,             -- 信息资源代码 or 提供方代码
    cycle        TEXT,                      -- overrides the entry's 更新周期 (canonical label)
    grace_hours  REAL,                      -- after the deadline, before 'overdue'
    soon_hours   REAL,                      -- before the deadline, 'due soon'
    set_by       TEXT NOT NULL,
    set_at       TEXT NOT NULL,
    PRIMARY KEY (scope, code)
);

CREATE TABLE freshness_notices (
    id           INTEGER PRIMARY KEY,
    org_code     TEXT NOT NULL,
    channel      TEXT NOT NULL,             -- email | webhook
    recipient    TEXT NOT NULL,
    kind         TEXT NOT NULL,             -- overdue | due_soon
    entry_code   TEXT NOT NULL,
    deadline     TEXT NOT NULL,             -- the deadline noticed: a new deadline, a new notice
    sent_at      TEXT NOT NULL,
    UNIQUE (channel, recipient, kind, entry_code, deadline)
);
CREATE INDEX freshness_notices_org ON freshness_notices(org_code, sent_at);
