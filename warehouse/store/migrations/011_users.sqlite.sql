-- Identities (issue 13): users of an organisation, their roles, their API tokens, and the log
-- of every change to them with its actor. Passwords and token secrets are never stored: only
-- an argon2 hash of the password and a sha256 of the token secret.
CREATE TABLE users (
    login         TEXT PRIMARY KEY,          -- login name (登录名), unique
    display_name  TEXT NOT NULL,             -- 姓名
    org_code      TEXT NOT NULL REFERENCES organisations(code),
    password_hash TEXT,                      -- argon2 ($argon2id$…); NULL: no password login
    active        INTEGER NOT NULL DEFAULT 1,
    created_at    TEXT NOT NULL,
    created_by    TEXT NOT NULL
);
CREATE INDEX users_org ON users(org_code);

CREATE TABLE user_roles (
    login       TEXT NOT NULL REFERENCES users(login),
    role        TEXT NOT NULL,               -- admin | steward | officer | analyst
    granted_at  TEXT NOT NULL,
    granted_by  TEXT NOT NULL,
    PRIMARY KEY (login, role)
);

CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    login        TEXT NOT NULL REFERENCES users(login),
    name         TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,       -- sha256 hex of the secret, shown once
    created_at   TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    revoked_at   TEXT,
    revoked_by   TEXT,
    last_used_at TEXT
);
CREATE INDEX api_tokens_login ON api_tokens(login);

-- Every change to a user, a role or a token: who did what, when.
CREATE TABLE user_events (
    id        INTEGER PRIMARY KEY,
    login     TEXT NOT NULL,
    action    TEXT NOT NULL,                 -- add | disable | enable | password | grant | revoke | token | revoke_token
    detail    TEXT NOT NULL DEFAULT '',
    actor     TEXT NOT NULL,
    at        TEXT NOT NULL
);
CREATE INDEX user_events_login ON user_events(login, id);
