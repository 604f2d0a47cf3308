-- name: Revenue, last 7 days
-- period: 7d
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
-- description: Fee revenue booked in the last 7 days, in EUR.
-- how_to_read: A week smooths out weekends; the value should drift up with client growth. A fall
--   below its 28-day typical band is a real loss of revenue, not a quiet Sunday.
-- methodology: Sum of webbank.entry.fee over entries created in the 7 days before the as-of moment,
--   excluding entries reversed (entry_state_id 3) before it.
--   Read through rollups/entry_day (whole days; today and the window's cut day from raw rows).

-- @value
SELECT coalesce(sum(r.fee), 0) AS value
FROM rollups.entry_day r
WHERE (r.reversed_at IS NULL OR r.reversed_at >= heartbeat.as_of());

-- @detail
SELECT r.day, sum(r.entries) AS entries, sum(r.fee) AS revenue_eur
FROM rollups.entry_day r
WHERE (r.reversed_at IS NULL OR r.reversed_at >= heartbeat.as_of())
GROUP BY 1
ORDER BY 1 DESC;

-- @segments
-- Booked fees per payment currency from the day × currency rollup (whole days from the table; today and the
-- window's cut day from raw rows, each entry joined to its payment of the week before).
SELECT 'currency' AS dimension, r.currency AS segment, sum(r.fee) AS value, sum(r.fee) AS weight
FROM rollups.entry_currency_day r
WHERE (r.reversed_at IS NULL OR r.reversed_at >= heartbeat.as_of())
GROUP BY r.currency;
