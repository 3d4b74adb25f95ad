-- The owner's brake: a row pauses checkout for one product, or for the whole shop when its
-- product_id is 0. While paused, orders for it are refused with "paused, try again shortly", the
-- waiting line admits nobody (so it keeps its order) and holds do not run out.
CREATE TABLE brakes (
    product_id INTEGER PRIMARY KEY,
    paused_at  TEXT NOT NULL,
    paused_by  TEXT NOT NULL
);
