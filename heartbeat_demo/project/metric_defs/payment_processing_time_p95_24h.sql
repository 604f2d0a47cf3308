-- name: Payment processing time p95, 24 hours
-- period: 24h
-- unit: minutes
-- direction: lower_is_better
-- sources: webbank
-- norm: 30
-- alert: 60
-- owner: payments-ops@example.com
-- team: payments
-- tags: payments, latency
-- description: 95th percentile of creation-to-completion time of outgoing payments completed in the last 24 hours.
-- how_to_read: The slow tail; normally under 20 minutes. A high p95 with a normal p50 means a subset of
--   payments (a corridor, a manual queue) is stuck. The detail lists the slowest currencies.
-- methodology: As the p50 metric, with percentile_cont(0.95): webbank.payment_state_log state_id 4 in the
--   window joined to outgoing webbank.payment rows.

-- @value
SELECT round((percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM l."timestamp" - p.create_time)) / 60)::numeric, 2) AS value
FROM webbank.payment_state_log l
JOIN webbank.payment p ON p.id = l.payment_id
WHERE l.state_id = 4
  AND l."timestamp" >= heartbeat.window_start('24h') AND l."timestamp" < heartbeat.as_of()
  AND p.type_id = 1
  AND p.create_time >= heartbeat.window_start('24h') - interval '2 days' AND p.create_time < heartbeat.as_of();

-- @detail
SELECT p.currency, count(*) AS completed,
       round((percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM l."timestamp" - p.create_time)) / 60)::numeric, 2) AS p50_minutes,
       round((percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM l."timestamp" - p.create_time)) / 60)::numeric, 2) AS p95_minutes
FROM webbank.payment_state_log l
JOIN webbank.payment p ON p.id = l.payment_id
WHERE l.state_id = 4
  AND l."timestamp" >= heartbeat.window_start('24h') AND l."timestamp" < heartbeat.as_of()
  AND p.type_id = 1
  AND p.create_time >= heartbeat.window_start('24h') - interval '2 days' AND p.create_time < heartbeat.as_of()
GROUP BY p.currency
ORDER BY p95_minutes DESC;
