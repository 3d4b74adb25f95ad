-- Flash sales, the waiting room, timed holds and per-customer limits.
-- Stock accounting: products.stock is what is free to take; units in live holds are neither free
-- nor sold, so  stock + sold + held(live) = everything the shop put up.

CREATE TABLE sales (
    product_id         INTEGER PRIMARY KEY REFERENCES products (id),
    starts_at          TEXT    NOT NULL,
    ends_at            TEXT    NOT NULL CHECK (ends_at > starts_at),
    sale_price_cents   INTEGER NOT NULL CHECK (sale_price_cents >= 0),
    -- units one phone number may buy of this product during the sale (NULL: no limit)
    per_customer_limit INTEGER CHECK (per_customer_limit IS NULL OR per_customer_limit > 0),
    waiting_room       INTEGER NOT NULL DEFAULT 0 CHECK (waiting_room IN (0, 1)),
    hold_seconds       INTEGER NOT NULL DEFAULT 300 CHECK (hold_seconds BETWEEN 1 AND 86400)
) STRICT;

-- Units each phone number (its digits) has bought or holds during a limited sale.
CREATE TABLE customer_units (
    product_id INTEGER NOT NULL REFERENCES products (id),
    phone_key  TEXT    NOT NULL,
    units      INTEGER NOT NULL CHECK (units >= 0),
    PRIMARY KEY (product_id, phone_key)
) STRICT, WITHOUT ROWID;

-- A place in the waiting room. rank orders the line: shoppers who join before the sale starts get
-- a random rank below 2^62 (a draw nobody can game by arriving early); later ones 2^62 + id.
CREATE TABLE queue_tickets (
    id         INTEGER PRIMARY KEY,
    product_id INTEGER NOT NULL REFERENCES products (id),
    phone_key  TEXT    NOT NULL,
    quantity   INTEGER NOT NULL CHECK (quantity > 0),
    rank       INTEGER NOT NULL,
    state      TEXT    NOT NULL CHECK (state IN ('waiting', 'admitted', 'sold_out', 'expired', 'left', 'ordered')),
    hold_id    INTEGER,
    joined_at  TEXT    NOT NULL,
    updated_at TEXT    NOT NULL
) STRICT;

CREATE INDEX queue_line ON queue_tickets (product_id, state, rank, quantity);
-- one place in line per phone number and product at a time
CREATE UNIQUE INDEX queue_one_live_ticket ON queue_tickets (product_id, phone_key)
    WHERE state IN ('waiting', 'admitted');

-- Units taken out of stock for one admitted shopper, for a limited time, usable once.
CREATE TABLE holds (
    id               INTEGER PRIMARY KEY,
    ticket_id        INTEGER NOT NULL REFERENCES queue_tickets (id),
    product_id       INTEGER NOT NULL REFERENCES products (id),
    phone_key        TEXT    NOT NULL,
    quantity         INTEGER NOT NULL CHECK (quantity > 0),
    unit_price_cents INTEGER NOT NULL CHECK (unit_price_cents >= 0),
    state            TEXT    NOT NULL CHECK (state IN ('live', 'used', 'expired', 'released')),
    expires_at       TEXT    NOT NULL,
    order_id         INTEGER REFERENCES orders (id),
    created_at       TEXT    NOT NULL
) STRICT;

CREATE INDEX holds_live ON holds (state, expires_at);
CREATE INDEX holds_by_product ON holds (product_id, state, expires_at);
