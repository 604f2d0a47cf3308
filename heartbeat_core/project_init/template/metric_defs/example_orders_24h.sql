-- name: Example orders, last 24 hours
-- period: 24h
-- unit: count
-- direction: higher_is_better
-- sources: example
-- owner: you@example.com
-- typical: rolling_stat
-- typical_window: 28
-- typical_min_points: 7
-- z_amber: 2
-- z_red: 3
-- description: Sample orders created in the 24 hours before the as-of moment.
-- how_to_read: Fewer orders than a typical day turns it amber, then red; look at the detail by status.
-- methodology: Count of example.orders rows whose created_at falls in the 24 hours before the as-of
--   moment (heartbeat.as_of(), never now(), so past days can be recomputed).

-- @value
-- The worked example: one metric per file, a header of `-- key` lines, then SQL sections (@value: one
-- numeric row; @detail: the rows behind it). Check it with `heartbeat metric validate example_orders_24h`.
SELECT count(*) AS value
FROM example.orders o
WHERE o.created_at >= heartbeat.window_start('24h') AND o.created_at < heartbeat.as_of();

-- @detail
SELECT o.status, count(*) AS orders, sum(o.amount) AS amount
FROM example.orders o
WHERE o.created_at >= heartbeat.window_start('24h') AND o.created_at < heartbeat.as_of()
GROUP BY o.status
ORDER BY orders DESC;
