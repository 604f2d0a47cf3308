-- name: Payment processing time p50, 24 hours
-- period: 24h
-- unit: minutes
-- direction: lower_is_better
-- sources: webbank
-- norm: 10
-- alert: 20
-- owner: payments-ops@example.com
-- team: payments
-- tags: payments, latency
-- description: Median time from creation to completion of outgoing payments completed in the last 24 hours.
-- how_to_read: What a typical client waits for money to leave; about 4-5 minutes. A rising median
--   means the whole pipeline (screening or the payment rails) is slow, not a few stragglers.
-- methodology: For webbank.payment_state_log rows with state_id 4 (completed) in the window, joined to
--   the outgoing payment (type_id 1), the median of completion time minus create_time, in minutes.

-- @value
SELECT round((percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM l."timestamp" - p.create_time)) / 60)::numeric, 2) AS value
FROM webbank.payment_state_log l
JOIN webbank.payment p ON p.id = l.payment_id
WHERE l.state_id = 4
  AND l."timestamp" >= heartbeat.window_start('24h') AND l."timestamp" < heartbeat.as_of()
  AND p.type_id = 1
  AND p.create_time >= heartbeat.window_start('24h') - interval '2 days' AND p.create_time < heartbeat.as_of();
