-- The web console (issue 14): sign-ins under way and signed-in sessions, server-side so every
-- replica shares them. Only SHA-256 digests of the browser's secrets (the login and session
-- cookies) are stored, so a copy of the database cannot be replayed as a cookie. Who signed in
-- and out, and which sessions expired, is in the audit log.
CREATE TABLE console_logins (
    state_sha256  TEXT PRIMARY KEY,          -- the OAuth state sent to the identity provider
    cookie_sha256 TEXT NOT NULL,             -- the login cookie of the browser that began it
    agency        TEXT NOT NULL,             -- the client certificate's agency
    pkce_verifier TEXT NOT NULL,             -- single use, deleted by the callback
    nonce         TEXT NOT NULL,
    redirect_uri  TEXT NOT NULL,
    created_at    TEXT NOT NULL              -- RFC 3339, UTC (db::ts); older than 10 min is void
);

CREATE TABLE console_sessions (
    id            TEXT PRIMARY KEY,          -- a UUID, named in the audit entries
    token_sha256  TEXT NOT NULL UNIQUE,      -- the session cookie's digest
    agency        TEXT NOT NULL,             -- bound to the client certificate's agency
    sub           TEXT NOT NULL,
    roles         TEXT NOT NULL,             -- JSON array of role names
    csrf          TEXT NOT NULL,             -- the token every form of the session carries
    method        TEXT NOT NULL,             -- oidc | dev
    created_at    TEXT NOT NULL,             -- RFC 3339, UTC (db::ts)
    last_seen_at  TEXT NOT NULL,
    ended_at      TEXT,
    end_reason    TEXT                       -- sign_out | idle | absolute
);

CREATE INDEX console_sessions_open ON console_sessions (ended_at, last_seen_at);
