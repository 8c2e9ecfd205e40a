-- The web tier's shared state (issue 14): several server processes (`mulu serve --workers N`,
-- several machines behind one proxy) answer one site, so nothing a later request needs may be
-- kept in one process. One file for SQLite and PostgreSQL.

-- Single sign-on logins begun and not yet come back (catalog.sharing.oidc.PendingLogins): the
-- callback may land on another worker than the one that redirected the browser. Each row is
-- taken (deleted) once; rows older than 10 minutes are removed when the next login begins.
CREATE TABLE oidc_pending (
    id {{serial_pk}},                    -- the order begun (logins of one millisecond too)
    state TEXT NOT NULL UNIQUE,
    nonce TEXT NOT NULL,
    code_verifier TEXT NOT NULL,
    binding_hash TEXT NOT NULL,          -- sha256 of the browser's binding cookie, never the cookie
    next_url TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    started_ms BIGINT NOT NULL           -- Unix time in milliseconds (wall clock: shared by hosts)
);
CREATE INDEX oidc_pending_started ON oidc_pending (started_ms);

-- Keys every server process must share, by name (e.g. "flash": the HMAC key of the portal's
-- flash cookies). Created once by whichever process asks first; never changed afterwards.
CREATE TABLE web_keys (
    name TEXT PRIMARY KEY,
    secret TEXT NOT NULL,
    created_at TEXT NOT NULL
);
