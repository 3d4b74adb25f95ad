-- Flash sales, the waiting room, timed holds and per-customer limits (as migrations/sqlite/0002).
-- stock + sold + held(live) = everything the shop put up.

CREATE TABLE sales (
    product_id         BIGINT  PRIMARY KEY REFERENCES products (id),
    starts_at          TEXT    NOT NULL,
    ends_at            TEXT    NOT NULL CHECK (ends_at > starts_at),
    sale_price_cents   BIGINT  NOT NULL CHECK (sale_price_cents >= 0),
    per_customer_limit BIGINT  CHECK (per_customer_limit IS NULL OR per_customer_limit > 0),
    waiting_room       BOOLEAN NOT NULL DEFAULT FALSE,
    hold_seconds       BIGINT  NOT NULL DEFAULT 300 CHECK (hold_seconds BETWEEN 1 AND 86400)
);

CREATE TABLE customer_units (
    product_id BIGINT NOT NULL REFERENCES products (id),
    phone_key  TEXT   NOT NULL,
    units      BIGINT NOT NULL CHECK (units >= 0),
    PRIMARY KEY (product_id, phone_key)
);

CREATE TABLE queue_tickets (
    id         BIGSERIAL PRIMARY KEY,
    product_id BIGINT NOT NULL REFERENCES products (id),
    phone_key  TEXT   NOT NULL,
    quantity   BIGINT NOT NULL CHECK (quantity > 0),
    rank       BIGINT NOT NULL,
    state      TEXT   NOT NULL CHECK (state IN ('waiting', 'admitted', 'sold_out', 'expired', 'left', 'ordered')),
    hold_id    BIGINT,
    joined_at  TEXT   NOT NULL,
    updated_at TEXT   NOT NULL
);

CREATE INDEX queue_line ON queue_tickets (product_id, state, rank, quantity);
CREATE UNIQUE INDEX queue_one_live_ticket ON queue_tickets (product_id, phone_key)
    WHERE state IN ('waiting', 'admitted');

CREATE TABLE holds (
    id               BIGSERIAL PRIMARY KEY,
    ticket_id        BIGINT NOT NULL REFERENCES queue_tickets (id),
    product_id       BIGINT NOT NULL REFERENCES products (id),
    phone_key        TEXT   NOT NULL,
    quantity         BIGINT NOT NULL CHECK (quantity > 0),
    unit_price_cents BIGINT NOT NULL CHECK (unit_price_cents >= 0),
    state            TEXT   NOT NULL CHECK (state IN ('live', 'used', 'expired', 'released')),
    expires_at       TEXT   NOT NULL,
    order_id         BIGINT REFERENCES orders (id),
    created_at       TEXT   NOT NULL
);

CREATE INDEX holds_live ON holds (state, expires_at);
CREATE INDEX holds_by_product ON holds (product_id, state, expires_at);
CREATE SEQUENCE queue_arrival;
