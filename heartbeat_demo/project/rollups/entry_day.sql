-- name: Ledger entries per day and product
-- description: Per business day of webbank.entry.create_time and product: entries and booked fees, reversed
--   entries apart with the moment of their reversal (reversed_at). A few rows a day: the revenue metrics
--   of 7 and 30 days read it instead of a month of ledger rows.
-- table: webbank.entry
-- cursor: updated_at
-- time: create_time

SELECT e.create_time::date AS day,
       e.product,
       CASE WHEN e.entry_state_id = 3 THEN e.updated_at END AS reversed_at,
       count(*) AS entries,
       sum(e.fee) AS fee
FROM webbank.entry e
WHERE e.create_time >= heartbeat.rollup_from() AND e.create_time < heartbeat.rollup_to()
GROUP BY 1, 2, 3
