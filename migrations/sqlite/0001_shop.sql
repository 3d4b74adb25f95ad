-- The shop: products with stock, orders with their lines, and idempotency keys.
-- Money is integer cents; times are RFC 3339 UTC text.

CREATE TABLE products (
    id          INTEGER PRIMARY KEY,
    slug        TEXT    NOT NULL UNIQUE,
    name        TEXT    NOT NULL,
    description TEXT    NOT NULL DEFAULT '',
    price_cents INTEGER NOT NULL CHECK (price_cents >= 0),
    stock       INTEGER NOT NULL CHECK (stock >= 0),
    image_url   TEXT    NOT NULL,
    flash_sale  INTEGER NOT NULL DEFAULT 0 CHECK (flash_sale IN (0, 1)),
    position    INTEGER NOT NULL DEFAULT 0,
    created_at  TEXT    NOT NULL
) STRICT;

CREATE TABLE product_images (
    product_id INTEGER NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    position   INTEGER NOT NULL,
    url        TEXT    NOT NULL,
    alt        TEXT    NOT NULL,
    PRIMARY KEY (product_id, position)
) STRICT;

CREATE TABLE orders (
    id            INTEGER PRIMARY KEY,
    code          TEXT    NOT NULL UNIQUE,
    status        TEXT    NOT NULL CHECK (status IN ('awaiting_payment', 'paid', 'shipped', 'completed', 'cancelled')),
    customer_name TEXT    NOT NULL,
    phone         TEXT    NOT NULL,
    address       TEXT    NOT NULL,
    note          TEXT    NOT NULL,
    total_cents   INTEGER NOT NULL CHECK (total_cents >= 0),
    created_at    TEXT    NOT NULL
) STRICT;

CREATE INDEX orders_by_phone ON orders (phone);

CREATE TABLE order_lines (
    order_id         INTEGER NOT NULL REFERENCES orders (id),
    product_id       INTEGER NOT NULL REFERENCES products (id),
    product_name     TEXT    NOT NULL,
    unit_price_cents INTEGER NOT NULL CHECK (unit_price_cents >= 0),
    quantity         INTEGER NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (order_id, product_id)
) STRICT;

CREATE INDEX order_lines_by_product ON order_lines (product_id);

CREATE TABLE idempotency_keys (
    key          TEXT    PRIMARY KEY,
    request_hash TEXT    NOT NULL,
    order_id     INTEGER NOT NULL REFERENCES orders (id),
    created_at   TEXT    NOT NULL
) STRICT;
