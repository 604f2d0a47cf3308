-- name: Revenue, last 30 days
-- period: 30d
-- unit: money:EUR
-- direction: higher_is_better
-- sources: webbank
-- owner: finance@example.com
-- team: finance
-- tags: revenue
-- typical: rolling_stat
-- typical_window: 28
-- typical_robust: true
-- z_amber: 2
-- z_red: 3
-- description: Fee revenue booked in the last 30 days, in EUR: the monthly run rate.
-- how_to_read: The slowest-moving revenue view; it should rise steadily. A flat or falling line
--   over several days is a trend worth a conversation with the product owners.
-- methodology: Sum of webbank.entry.fee over entries created in the 30 days before the as-of moment,
--   excluding entries reversed (entry_state_id 3) before it.
--   Read through rollups/entry_day (whole days; today and the window's cut day from raw rows).

-- @value
SELECT coalesce(sum(r.fee), 0) AS value
FROM rollups.entry_day r
WHERE (r.reversed_at IS NULL OR r.reversed_at >= heartbeat.as_of());

-- @detail
SELECT r.product, sum(r.entries) AS entries, sum(r.fee) AS revenue_eur, round(sum(r.fee) / sum(r.entries), 2) AS avg_fee_eur
FROM rollups.entry_day r
WHERE (r.reversed_at IS NULL OR r.reversed_at >= heartbeat.as_of())
GROUP BY r.product
ORDER BY revenue_eur DESC;

-- @segments
-- Booked fees per product from the day × product rollup (whole days; today and the window's cut day from
-- raw rows): a few hundred rows, not a month of ledger rows.
SELECT 'product' AS dimension, r.product AS segment, sum(r.fee) AS value, sum(r.fee) AS weight
FROM rollups.entry_day r
WHERE (r.reversed_at IS NULL OR r.reversed_at >= heartbeat.as_of())
GROUP BY r.product;
