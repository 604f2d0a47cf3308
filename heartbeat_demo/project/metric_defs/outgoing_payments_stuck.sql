-- name: Outgoing payments stuck over 1 hour
-- period: snapshot
-- unit: payments
-- direction: lower_is_better
-- sources: webbank
-- norm: 5
-- alert: 20
-- owner: payments-ops@example.com
-- team: payments
-- tags: payments, latency
-- entity: payment:payment_id
-- entity_owner: client:client_id
-- description: Outgoing payments created 1 to 48 hours ago that had no final state (rejected, completed, failed) at the as-of moment.
-- how_to_read: Normally zero or one. Each one is a client waiting for money that left their balance.
--   The detail lists them, oldest first.
-- methodology: Outgoing webbank.payment rows (type_id 1) created between 48 h and 1 h before the as-of
--   moment, anti-joined to webbank.payment_state_log final states (3, 4, 5) recorded before it.

-- @value
SELECT count(*) AS value
FROM webbank.payment p
LEFT JOIN (
    SELECT l.payment_id  -- no DISTINCT: an anti-join needs none, and hashing 220k ids first cost a third
    FROM webbank.payment_state_log l
    WHERE l.state_id IN (3, 4, 5)
      AND l."timestamp" >= heartbeat.as_of() - interval '48 hours' AND l."timestamp" < heartbeat.as_of()
) f ON f.payment_id = p.id
WHERE p.type_id = 1
  AND p.create_time >= heartbeat.as_of() - interval '48 hours' AND p.create_time < heartbeat.as_of() - interval '1 hour'
  AND f.payment_id IS NULL;

-- @detail
SELECT p.id AS payment_id, p.sender_profile_id AS client_id, p.amount, p.currency, p.create_time,
       round(extract(epoch FROM heartbeat.as_of() - p.create_time) / 3600, 1) AS hours_waiting
FROM webbank.payment p
LEFT JOIN (
    SELECT l.payment_id  -- no DISTINCT: an anti-join needs none, and hashing 220k ids first cost a third
    FROM webbank.payment_state_log l
    WHERE l.state_id IN (3, 4, 5)
      AND l."timestamp" >= heartbeat.as_of() - interval '48 hours' AND l."timestamp" < heartbeat.as_of()
) f ON f.payment_id = p.id
WHERE p.type_id = 1
  AND p.create_time >= heartbeat.as_of() - interval '48 hours' AND p.create_time < heartbeat.as_of() - interval '1 hour'
  AND f.payment_id IS NULL
ORDER BY p.create_time;
