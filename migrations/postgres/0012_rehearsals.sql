-- Sale rehearsals the owner ran (as migrations/sqlite/0011): the only thing a rehearsal writes to
-- the live database; at most one running.
CREATE TABLE rehearsals (
    id               BIGSERIAL PRIMARY KEY,
    product_id       BIGINT  NOT NULL REFERENCES products (id),
    state            TEXT    NOT NULL CHECK (state IN ('running', 'finished', 'cancelled', 'failed')),
    plan             TEXT    NOT NULL,
    progress         TEXT,
    report           TEXT,
    error            TEXT,
    cancel_requested BOOLEAN NOT NULL DEFAULT FALSE,
    started_at       TEXT    NOT NULL,
    beat_at          TEXT    NOT NULL,
    finished_at      TEXT
);

CREATE UNIQUE INDEX one_rehearsal_at_a_time ON rehearsals (state) WHERE state = 'running';
CREATE INDEX rehearsals_by_product ON rehearsals (product_id, id);
