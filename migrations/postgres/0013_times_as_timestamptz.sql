-- Every instant as `timestamptz`, compared and ordered by the database as time. Before, times
-- were TEXT in one RFC 3339 form ('2026-11-01T00:00:00.000Z'), which sorts as time only while
-- every writer writes that form. Each text reads as the instant it names (any RFC 3339 form
-- does); a row that does not read as a time stops the migration, and with it the shop's start,
-- rather than being guessed. (SQLite keeps the text form: it has no time type; see `At`.)
--
-- An order whose status never changed kept '' as when it last changed: it changed when the
-- order was placed. The sale's two times change in one statement, so its CHECK compares times.

ALTER TABLE products ALTER COLUMN created_at TYPE timestamptz USING created_at::timestamptz;

ALTER TABLE orders
    ALTER COLUMN created_at TYPE timestamptz USING created_at::timestamptz,
    ALTER COLUMN status_changed_at DROP DEFAULT,
    ALTER COLUMN status_changed_at TYPE timestamptz
        USING COALESCE(NULLIF(status_changed_at, ''), created_at)::timestamptz;

ALTER TABLE idempotency_keys ALTER COLUMN created_at TYPE timestamptz USING created_at::timestamptz;

ALTER TABLE sales
    ALTER COLUMN starts_at TYPE timestamptz USING starts_at::timestamptz,
    ALTER COLUMN ends_at TYPE timestamptz USING ends_at::timestamptz;

ALTER TABLE queue_tickets
    ALTER COLUMN joined_at TYPE timestamptz USING joined_at::timestamptz,
    ALTER COLUMN updated_at TYPE timestamptz USING updated_at::timestamptz;

ALTER TABLE holds
    ALTER COLUMN expires_at TYPE timestamptz USING expires_at::timestamptz,
    ALTER COLUMN created_at TYPE timestamptz USING created_at::timestamptz;

ALTER TABLE owners ALTER COLUMN created_at TYPE timestamptz USING created_at::timestamptz;

ALTER TABLE owner_sessions
    ALTER COLUMN created_at TYPE timestamptz USING created_at::timestamptz,
    ALTER COLUMN last_seen_at TYPE timestamptz USING last_seen_at::timestamptz,
    ALTER COLUMN expires_at TYPE timestamptz USING expires_at::timestamptz;

ALTER TABLE login_failures ALTER COLUMN at TYPE timestamptz USING at::timestamptz;

ALTER TABLE order_events ALTER COLUMN at TYPE timestamptz USING at::timestamptz;

ALTER TABLE brakes ALTER COLUMN paused_at TYPE timestamptz USING paused_at::timestamptz;

ALTER TABLE product_audit ALTER COLUMN at TYPE timestamptz USING at::timestamptz;

ALTER TABLE shop_settings
    ALTER COLUMN updated_at DROP DEFAULT,
    ALTER COLUMN updated_at TYPE timestamptz USING updated_at::timestamptz,
    ALTER COLUMN updated_at SET DEFAULT '1970-01-01T00:00:00Z';

ALTER TABLE shop_pictures ALTER COLUMN created_at TYPE timestamptz USING created_at::timestamptz;

ALTER TABLE rehearsals
    ALTER COLUMN started_at TYPE timestamptz USING started_at::timestamptz,
    ALTER COLUMN beat_at TYPE timestamptz USING beat_at::timestamptz,
    ALTER COLUMN finished_at TYPE timestamptz USING finished_at::timestamptz;
