-- name: Ledger fees per day and payment currency
-- description: Per business day of webbank.entry.create_time and the currency of the entry's payment: entries
--   and booked fees, reversed entries apart with the moment of their reversal (reversed_at). A few dozen rows
--   a day: the revenue metrics' currency segments read a week in a few hundred rows instead of a week of
--   ledger rows joined to their payments. A payment landing after its entry (or changed since) rebuilds the
--   days of its entries (`watch`).
-- table: webbank.entry
-- cursor: updated_at
-- time: create_time
-- watch: webbank.payment (cursor updated_at) id = payment_id

SELECT e.create_time::date AS day,
       p.currency,
       CASE WHEN e.entry_state_id = 3 THEN e.updated_at END AS reversed_at,
       count(*) AS entries,
       sum(e.fee) AS fee
FROM webbank.entry e
JOIN webbank.payment p ON p.id = e.payment_id
    -- a payment completes (and books its entry) within minutes of its creation; a week bounds the scan
    AND p.create_time >= heartbeat.rollup_from() - interval '7 days' AND p.create_time < heartbeat.rollup_to()
WHERE e.create_time >= heartbeat.rollup_from() AND e.create_time < heartbeat.rollup_to()
GROUP BY 1, 2, 3
