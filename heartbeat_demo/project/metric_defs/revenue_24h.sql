-- name: Revenue, last 24 hours
-- period: 24h
-- unit: money:EUR
-- direction: higher_is_better
-- sources: webbank
-- owner: finance@example.com
-- team: finance
-- tags: revenue
-- typical: rolling_stat
-- typical_window: 84
-- typical_seasonality: weekday
-- typical_min_points: 8
-- typical_robust: true
-- z_amber: 2
-- z_red: 3
-- description: Fee revenue booked in the last 24 hours, in EUR.
-- how_to_read: Compare with the same weekday of past weeks (the typical band); weekends are
--   naturally about half of a weekday. A drop well below the band means fewer paid payments.
-- methodology: Sum of webbank.entry.fee over ledger entries created in the 24 hours before the
--   as-of moment, excluding entries that had been reversed (entry_state_id 3) by then. Entries
--   are booked in EUR when the payment completes.
--   The value read through rollups/entry_day (whole days; the window's partial days from raw rows).

-- @value
-- Booked fees from the day × product rollup: a past day's end reads one stored day; today mid-day the
-- window's two partial days come from raw rows, as before.
SELECT coalesce(sum(r.fee), 0) AS value
FROM rollups.entry_day r
WHERE (r.reversed_at IS NULL OR r.reversed_at >= heartbeat.as_of());

-- @detail
SELECT e.product, count(*) AS entries, sum(e.fee) AS revenue_eur, sum(e.amount) AS volume_eur
FROM webbank.entry e
WHERE e.create_time >= heartbeat.window_start('24h') AND e.create_time < heartbeat.as_of()
  AND NOT (e.entry_state_id = 3 AND e.updated_at < heartbeat.as_of())
GROUP BY e.product
ORDER BY revenue_eur DESC;

-- @segments
-- Booked fees per payment currency from the day × currency rollup (whole days from the table; today and the
-- window's cut day from raw rows, each entry joined to its payment of the week before).
SELECT 'currency' AS dimension, r.currency AS segment, sum(r.fee) AS value, sum(r.fee) AS weight
FROM rollups.entry_currency_day r
WHERE (r.reversed_at IS NULL OR r.reversed_at >= heartbeat.as_of())
GROUP BY r.currency;
