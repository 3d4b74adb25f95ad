-- The shop on Postgres: the same tables and rules as migrations/sqlite, in Postgres types.
-- Money is integer cents; times are RFC 3339 UTC text with milliseconds (sorts as text, and reads
-- the same on both backends).

CREATE TABLE products (
    id          BIGSERIAL PRIMARY KEY,
    slug        TEXT    NOT NULL UNIQUE,
    name        TEXT    NOT NULL,
    description TEXT    NOT NULL DEFAULT '',
    price_cents BIGINT  NOT NULL CHECK (price_cents >= 0),
    stock       BIGINT  NOT NULL CHECK (stock >= 0),
    image_url   TEXT    NOT NULL,
    flash_sale  BOOLEAN NOT NULL DEFAULT FALSE,
    position    BIGINT  NOT NULL DEFAULT 0,
    created_at  TEXT    NOT NULL
);

CREATE TABLE product_images (
    product_id BIGINT NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    position   BIGINT NOT NULL,
    url        TEXT   NOT NULL,
    alt        TEXT   NOT NULL,
    PRIMARY KEY (product_id, position)
);

CREATE TABLE orders (
    id            BIGSERIAL PRIMARY KEY,
    code          TEXT   NOT NULL UNIQUE,
    status        TEXT   NOT NULL CHECK (status IN ('awaiting_payment', 'paid', 'shipped', 'completed', 'cancelled')),
    customer_name TEXT   NOT NULL,
    phone         TEXT   NOT NULL,
    address       TEXT   NOT NULL,
    note          TEXT   NOT NULL,
    total_cents   BIGINT NOT NULL CHECK (total_cents >= 0),
    created_at    TEXT   NOT NULL
);

CREATE INDEX orders_by_phone ON orders (phone);

CREATE TABLE order_lines (
    order_id         BIGINT NOT NULL REFERENCES orders (id),
    product_id       BIGINT NOT NULL REFERENCES products (id),
    product_name     TEXT   NOT NULL,
    unit_price_cents BIGINT NOT NULL CHECK (unit_price_cents >= 0),
    quantity         BIGINT NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (order_id, product_id)
);

CREATE INDEX order_lines_by_product ON order_lines (product_id);

CREATE TABLE idempotency_keys (
    key          TEXT   PRIMARY KEY,
    request_hash TEXT   NOT NULL,
    order_id     BIGINT NOT NULL REFERENCES orders (id),
    created_at   TEXT   NOT NULL
);
