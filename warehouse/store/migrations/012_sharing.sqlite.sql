-- Sharing (issue 13): portal sessions and login attempts, applications (共享申请) with every
-- step in their history, grants (共享授权) and the hash-chained audit log (审计日志).
-- Times are catalogue ISO text (Asia/Shanghai) like every other table.

-- A portal session: the cookie holds a random secret; only its sha256 is stored. Ended at
-- logout, when the user is disabled, or at expiry.
CREATE TABLE web_sessions (
    id_hash      TEXT PRIMARY KEY,
    login        TEXT NOT NULL REFERENCES users(login),
    csrf_token   TEXT NOT NULL,
    via          TEXT NOT NULL DEFAULT 'password',   -- password | oidc
    remote       TEXT,
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    ended_at     TEXT
);
CREATE INDEX web_sessions_login ON web_sessions(login);

-- Every password login attempt, for rate limiting across processes (and for the audit).
CREATE TABLE login_attempts (
    id     INTEGER PRIMARY KEY,
    login  TEXT NOT NULL,
    remote TEXT NOT NULL,
    at     TEXT NOT NULL,
    ok     INTEGER NOT NULL
);
CREATE INDEX login_attempts_login ON login_attempts(login, at);
CREATE INDEX login_attempts_remote ON login_attempts(remote, at);

-- 共享申请: a user of one organisation asks for an entry's data held by another.
CREATE TABLE applications (
    id              INTEGER PRIMARY KEY,
    number          TEXT NOT NULL UNIQUE,            -- 申请编号, e.g. SQ20261207-0001
    entry_code      TEXT NOT NULL,
    dataset         TEXT,                            -- the dataset serving the entry, if any
    columns         TEXT NOT NULL DEFAULT '[]',      -- JSON list asked for; [] all
    purpose         TEXT NOT NULL,                   -- 用途
    scenario        TEXT NOT NULL,                   -- 应用场景
    period_end      TEXT,                            -- 使用期限: the grant's expiry asked for
    applicant       TEXT NOT NULL,                   -- login
    applicant_org   TEXT NOT NULL,
    grantees        TEXT NOT NULL DEFAULT '[]',      -- JSON logins; [] the applicant's organisation
    provider_org    TEXT NOT NULL,                   -- the entry's 提供方 code
    share_type      TEXT NOT NULL,                   -- 共享类型 when applied
    state           TEXT NOT NULL,                   -- submitted | forwarded | approved | refused | escalated | withdrawn
    step            TEXT NOT NULL,                   -- whose turn: office | provider | escalation | none
    step_started_at TEXT NOT NULL,
    due_at          TEXT,                            -- the current step's deadline (working days)
    decided_at      TEXT,
    decided_by      TEXT,
    reason          TEXT,                            -- the last decision's reason
    grant_id        INTEGER,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX applications_state ON applications(state, step);
CREATE INDEX applications_provider ON applications(provider_org, state);
CREATE INDEX applications_applicant ON applications(applicant_org, applicant);

CREATE TABLE application_events (
    id             INTEGER PRIMARY KEY,
    application_id INTEGER NOT NULL REFERENCES applications(id),
    action         TEXT NOT NULL,                    -- apply | forward | approve | refuse | escalate | settle | withdraw | notify
    from_state     TEXT,
    to_state       TEXT NOT NULL,
    actor          TEXT NOT NULL,
    at             TEXT NOT NULL,
    reason         TEXT,
    due_at         TEXT,                             -- the next step's deadline, if any
    detail         TEXT NOT NULL DEFAULT '{}'        -- JSON
);
CREATE INDEX application_events_app ON application_events(application_id, id);

-- 共享授权: (a user or an organisation) × dataset × columns (+ row filter) × purpose × expiry.
CREATE TABLE grants (
    id             INTEGER PRIMARY KEY,
    dataset        TEXT NOT NULL,
    entry_code     TEXT,
    grantee_login  TEXT,                             -- exactly one of grantee_login, grantee_org
    grantee_org    TEXT,
    columns        TEXT NOT NULL DEFAULT '[]',       -- JSON list; [] every column
    unmasked       TEXT NOT NULL DEFAULT '[]',       -- JSON list of PII columns shown in clear
    row_filter     TEXT NOT NULL DEFAULT '{}',       -- JSON {column: [values]}
    purpose        TEXT NOT NULL,
    application_id INTEGER REFERENCES applications(id),
    starts_at      TEXT NOT NULL,
    expires_at     TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    created_by     TEXT NOT NULL,
    revoked_at     TEXT,
    revoked_by     TEXT,
    revoke_reason  TEXT,
    CHECK ((grantee_login IS NULL) <> (grantee_org IS NULL))
);
CREATE INDEX grants_dataset ON grants(dataset);
CREATE INDEX grants_login ON grants(grantee_login);
CREATE INDEX grants_org ON grants(grantee_org);

-- 审计日志: append-only; each row's hash covers its content and the previous row's hash, so
-- an edited or deleted row breaks the chain (``mulu audit verify``).
CREATE TABLE audit_log (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    at         TEXT NOT NULL,
    actor      TEXT NOT NULL,
    actor_org  TEXT,
    action     TEXT NOT NULL,                        -- access | decision | grant | revoke | login | …
    channel    TEXT,                                 -- portal | rest | download | ckan | sql | cli
    dataset    TEXT,
    entry_code TEXT,
    columns    TEXT,                                 -- JSON list
    rows       INTEGER,
    grant_id   INTEGER,
    purpose    TEXT,
    remote     TEXT,                                 -- client address, or the CLI's host
    detail     TEXT NOT NULL DEFAULT '{}',           -- JSON
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL
);
CREATE INDEX audit_log_actor ON audit_log(actor, seq);
CREATE INDEX audit_log_dataset ON audit_log(dataset, seq);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
