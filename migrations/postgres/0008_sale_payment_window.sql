-- Each sale has its own payment window: orders placed during the sale that are still unpaid this
-- long after their placing are cancelled and restocked by the expiry task (exactly once), so a
-- bot cannot tie up a sale's units with fake unpaid orders for the shop-wide day.
ALTER TABLE sales ADD COLUMN pay_seconds BIGINT NOT NULL DEFAULT 900
    CHECK (pay_seconds BETWEEN 60 AND 86400);
