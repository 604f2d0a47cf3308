-- name: Outgoing payment approval rate, 24 hours
-- period: 24h
-- unit: pct
-- direction: higher_is_better
-- sources: webbank
-- norm: 95
-- alert: 90
-- target: 98
-- owner: payments-ops@example.com
-- team: payments
-- tags: payments, screening
-- description: Share of outgoing payments decided in the last 24 hours that screening approved.
-- how_to_read: Normally 97-98%. Below 95% clients are being blocked from paying; below 90% something
--   is systematically wrong (a screening rule, a corridor, a partner). The detail splits it by currency.
-- methodology: Outgoing payments (webbank.payment.type_id 1) created in the window, joined to their
--   screening decision in webbank.payment_state_log (state_id 2 approved, 3 rejected) recorded before
--   the as-of moment; approved over decided, in percent. Payments still awaiting a decision are left out.

-- @value
WITH outgoing AS (
    SELECT p.id
    FROM webbank.payment p
    WHERE p.type_id = 1
      AND p.create_time >= heartbeat.window_start('24h') AND p.create_time < heartbeat.as_of()
), decided AS (
    SELECT l.payment_id, max(l.state_id) AS state_id
    FROM webbank.payment_state_log l
    WHERE l.state_id IN (2, 3)
      AND l."timestamp" >= heartbeat.window_start('24h') AND l."timestamp" < heartbeat.as_of()
    GROUP BY l.payment_id
)
SELECT round(100.0 * count(*) FILTER (WHERE d.state_id = 2) / nullif(count(*), 0), 2) AS value
FROM outgoing o
JOIN decided d ON d.payment_id = o.id;

-- @detail
WITH outgoing AS (
    SELECT p.id, p.currency
    FROM webbank.payment p
    WHERE p.type_id = 1
      AND p.create_time >= heartbeat.window_start('24h') AND p.create_time < heartbeat.as_of()
), decided AS (
    SELECT l.payment_id, max(l.state_id) AS state_id
    FROM webbank.payment_state_log l
    WHERE l.state_id IN (2, 3)
      AND l."timestamp" >= heartbeat.window_start('24h') AND l."timestamp" < heartbeat.as_of()
    GROUP BY l.payment_id
)
SELECT o.currency, count(*) AS decided,
       count(*) FILTER (WHERE d.state_id = 2) AS approved,
       count(*) FILTER (WHERE d.state_id = 3) AS rejected,
       round(100.0 * count(*) FILTER (WHERE d.state_id = 2) / count(*), 1) AS approval_rate_pct
FROM outgoing o
JOIN decided d ON d.payment_id = o.id
GROUP BY o.currency
ORDER BY rejected DESC;

-- @segments
WITH outgoing AS (
    SELECT p.id, p.currency
    FROM webbank.payment p
    WHERE p.type_id = 1
      AND p.create_time >= heartbeat.window_start('24h') AND p.create_time < heartbeat.as_of()
), decided AS (
    SELECT l.payment_id, max(l.state_id) AS state_id
    FROM webbank.payment_state_log l
    WHERE l.state_id IN (2, 3)
      AND l."timestamp" >= heartbeat.window_start('24h') AND l."timestamp" < heartbeat.as_of()
    GROUP BY l.payment_id
)
SELECT 'currency' AS dimension, o.currency AS segment,
       round(100.0 * count(*) FILTER (WHERE d.state_id = 2) / count(*), 2) AS value,
       count(*) FILTER (WHERE d.state_id = 2) AS numerator, count(*) AS denominator
FROM outgoing o
JOIN decided d ON d.payment_id = o.id
GROUP BY o.currency;
