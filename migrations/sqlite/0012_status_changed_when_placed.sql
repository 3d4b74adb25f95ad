-- An order whose status never changed kept '' as when it last changed: it changed when it was
-- placed (as migrations/postgres/0013). Orders are now placed with both times set.
UPDATE orders SET status_changed_at = created_at WHERE status_changed_at = '';
