-- Phone numbers in one form, E.164 ('+8613800138000'), so that the same phone written two ways
-- ('138 0013 8000', '+86 138 0013 8000') is one shopper for per-customer limits, the waiting room
-- and order lookups. Before, orders kept a number as typed reduced to digits and a leading '+',
-- and the counters keyed it by its digits alone. (The same steps as SQLite's 0008.)

-- orders: an 11-digit Chinese mobile number typed without +86, or with 86 but no +; a number
-- typed with the international prefix 00. Any other number without '+' cannot be placed in a
-- country and stays as it is (its key is then '+' and its digits, as below).
UPDATE orders SET phone = '+86' || phone WHERE phone ~ '^1[3-9][0-9]{9}$';
UPDATE orders SET phone = '+' || phone WHERE phone ~ '^861[3-9][0-9]{9}$';
UPDATE orders SET phone = '+' || substr(phone, 3) WHERE phone ~ '^00[1-9]';

-- every key in use, old (digits) and new (E.164). Digits such as 15550102030 were either a
-- Chinese mobile number typed without +86 or +1 555 010 2030: an order stored with the '+' tells
-- it was the latter; without one, a Chinese shop's shopper is taken to be Chinese.
CREATE TEMP TABLE phone_keys ON COMMIT DROP AS
SELECT old, CASE
        WHEN EXISTS (SELECT 1 FROM orders WHERE phone = '+' || old) THEN '+' || old
        WHEN old ~ '^1[3-9][0-9]{9}$' THEN '+86' || old
        WHEN old ~ '^00[1-9]' THEN '+' || substr(old, 3)
        ELSE '+' || old
    END AS new
FROM (SELECT phone_key AS old FROM customer_units
      UNION SELECT phone_key FROM queue_tickets
      UNION SELECT phone_key FROM holds) AS keys
WHERE old NOT LIKE '+%';

-- units bought under two ways of writing one number now count together
INSERT INTO customer_units (product_id, phone_key, units)
SELECT c.product_id, k.new, SUM(c.units)
  FROM customer_units c JOIN phone_keys k ON k.old = c.phone_key
 GROUP BY c.product_id, k.new
ON CONFLICT (product_id, phone_key) DO UPDATE SET units = customer_units.units + excluded.units;
DELETE FROM customer_units WHERE phone_key IN (SELECT old FROM phone_keys);

-- places in line: one live place per number and product; where one number held two (written two
-- ways), the earlier keeps it under the new key and the later keeps its old key (it stays usable
-- by the number written as then)
UPDATE queue_tickets t
   SET phone_key = k.new
  FROM phone_keys k
 WHERE k.old = t.phone_key
   AND NOT (t.state IN ('waiting', 'admitted') AND EXISTS (
        SELECT 1 FROM queue_tickets earlier
          JOIN phone_keys ke ON ke.old = earlier.phone_key
         WHERE earlier.product_id = t.product_id
           AND earlier.state IN ('waiting', 'admitted')
           AND earlier.id < t.id
           AND ke.new = k.new));

-- a hold is its ticket's
UPDATE holds h SET phone_key = t.phone_key
  FROM queue_tickets t
 WHERE t.id = h.ticket_id AND h.phone_key IN (SELECT old FROM phone_keys);
