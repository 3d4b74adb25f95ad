-- The shop's owners (admin accounts), their sessions and failed logins.
-- Passwords are argon2id PHC strings; a session is stored by the SHA-256 of its token, never the
-- token itself. Times are RFC 3339 UTC text.

CREATE TABLE owners (
    id            INTEGER PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at    TEXT NOT NULL
);

CREATE TABLE owner_sessions (
    token_hash   TEXT PRIMARY KEY,
    owner_id     INTEGER NOT NULL REFERENCES owners (id) ON DELETE CASCADE,
    csrf_token   TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    -- the absolute end, whatever the activity
    expires_at   TEXT NOT NULL
);

CREATE INDEX owner_sessions_by_owner ON owner_sessions (owner_id);

CREATE TABLE login_failures (
    id     INTEGER PRIMARY KEY,
    email  TEXT NOT NULL,
    client TEXT NOT NULL,
    at     TEXT NOT NULL
);

CREATE INDEX login_failures_by_email ON login_failures (email, at);
CREATE INDEX login_failures_by_client ON login_failures (client, at);
