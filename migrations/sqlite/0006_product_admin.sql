-- The owner's products: archiving (an archived product is no longer shown or sold, its orders
-- stay), a per-order purchase limit, and the audit log of every change the owner makes to a
-- product — stock adjustments with their reason above all.

ALTER TABLE products ADD COLUMN archived INTEGER NOT NULL DEFAULT 0 CHECK (archived IN (0, 1));
-- the most units of this product one order may hold (NULL: no limit)
ALTER TABLE products ADD COLUMN max_per_order INTEGER CHECK (max_per_order IS NULL OR max_per_order > 0);

CREATE TABLE product_audit (
    id          INTEGER PRIMARY KEY,
    product_id  INTEGER NOT NULL REFERENCES products (id),
    -- created, edited, archived, restored, stock, picture, sale
    action      TEXT    NOT NULL,
    -- what changed, in words; for a stock adjustment the owner's reason
    detail      TEXT    NOT NULL,
    -- stock adjustments only: the change and the free stock after it
    stock_delta INTEGER,
    stock_after INTEGER,
    actor       TEXT    NOT NULL,
    at          TEXT    NOT NULL
) STRICT;

CREATE INDEX product_audit_by_product ON product_audit (product_id, id);
