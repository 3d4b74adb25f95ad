-- The owner's products: archiving (an archived product is no longer shown or sold, its orders
-- stay), a per-order purchase limit, and the audit log of every change the owner makes to a
-- product — stock adjustments with their reason above all. Same as migrations/sqlite.

ALTER TABLE products ADD COLUMN archived BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE products ADD COLUMN max_per_order BIGINT CHECK (max_per_order IS NULL OR max_per_order > 0);

CREATE TABLE product_audit (
    id          BIGSERIAL PRIMARY KEY,
    product_id  BIGINT NOT NULL REFERENCES products (id),
    action      TEXT   NOT NULL,
    detail      TEXT   NOT NULL,
    stock_delta BIGINT,
    stock_after BIGINT,
    actor       TEXT   NOT NULL,
    at          TEXT   NOT NULL
);

CREATE INDEX product_audit_by_product ON product_audit (product_id, id);
