-- Sale rehearsals the owner ran. A rehearsal runs on a copy of the shop's data; this table is the
-- only thing it writes to the live database: the one running (at most one: the partial unique
-- index), its progress and heartbeat while it runs, and its report, kept for later.
CREATE TABLE rehearsals (
    id               INTEGER PRIMARY KEY,
    product_id       INTEGER NOT NULL REFERENCES products (id),
    state            TEXT    NOT NULL CHECK (state IN ('running', 'finished', 'cancelled', 'failed')),
    -- what the owner asked for (JSON: shoppers, arrival, behaviour)
    plan             TEXT    NOT NULL,
    -- while running: shoppers done, units sold so far (JSON)
    progress         TEXT,
    -- when over: the report (JSON), or why it failed
    report           TEXT,
    error            TEXT,
    cancel_requested INTEGER NOT NULL DEFAULT 0 CHECK (cancel_requested IN (0, 1)),
    started_at       TEXT    NOT NULL,
    -- a running rehearsal says it is alive every second; one silent for long has died
    beat_at          TEXT    NOT NULL,
    finished_at      TEXT
) STRICT;

CREATE UNIQUE INDEX one_rehearsal_at_a_time ON rehearsals (state) WHERE state = 'running';
CREATE INDEX rehearsals_by_product ON rehearsals (product_id, id);
