-- Running orders from the admin: a tracking number for shipped orders, when the status last
-- changed, and every change in an audit trail (who: an owner's id, or the expiry task).

ALTER TABLE orders ADD COLUMN tracking_number TEXT NOT NULL DEFAULT '';
ALTER TABLE orders ADD COLUMN status_changed_at TEXT NOT NULL DEFAULT '';

CREATE INDEX orders_by_status_created ON orders (status, created_at);
CREATE INDEX orders_by_created ON orders (created_at);

CREATE TABLE order_events (
    id          BIGSERIAL PRIMARY KEY,
    order_id    BIGINT  NOT NULL REFERENCES orders (id),
    from_status TEXT    NOT NULL,
    to_status   TEXT    NOT NULL,
    actor       TEXT    NOT NULL,
    note        TEXT    NOT NULL DEFAULT '',
    at          TEXT    NOT NULL
);

CREATE INDEX order_events_by_order ON order_events (order_id);
