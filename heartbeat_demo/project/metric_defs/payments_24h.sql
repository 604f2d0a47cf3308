-- name: Payments created, last 24 hours
-- period: 24h
-- unit: payments
-- direction: higher_is_better
-- sources: webbank
-- owner: payments-ops@example.com
-- team: payments
-- tags: payments
-- typical: rolling_stat
-- typical_window: 84
-- typical_seasonality: weekday
-- typical_min_points: 8
-- typical_robust: true
-- z_amber: 2
-- z_red: 3
-- description: Payments of every direction created in the last 24 hours.
-- how_to_read: The pulse of the platform. Compare with the same weekday; a sudden gap means clients
--   cannot initiate payments (app or API outage) or incoming rails stopped.
-- methodology: Count of webbank.payment rows whose create_time falls in the 24 hours before the
--   as-of moment, whatever their later state.

-- @value
SELECT count(*) AS value
FROM webbank.payment p
WHERE p.create_time >= heartbeat.window_start('24h') AND p.create_time < heartbeat.as_of();

-- @detail
SELECT p.direction, p.currency, count(*) AS payments, sum(p.amount) AS amount
FROM webbank.payment p
WHERE p.create_time >= heartbeat.window_start('24h') AND p.create_time < heartbeat.as_of()
GROUP BY p.direction, p.currency
ORDER BY payments DESC;
