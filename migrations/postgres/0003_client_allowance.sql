-- Per-client rate limits shared by every server on this database: a fixed window per client that
-- starts at its first request. UNLOGGED: counters are not worth a WAL flush, and after a crash
-- (when Postgres empties unlogged tables) every client simply starts with a full allowance.
CREATE UNLOGGED TABLE client_windows (
    client          TEXT   PRIMARY KEY,
    window_start_ms BIGINT NOT NULL,
    hits            BIGINT NOT NULL CHECK (hits >= 0)
);

CREATE INDEX client_windows_by_start ON client_windows (window_start_ms);
