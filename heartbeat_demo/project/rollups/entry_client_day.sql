-- name: Ledger entries per day and client
-- description: Per business day of webbank.entry.create_time and client: entries and booked fees, reversed
--   entries apart with the moment of their reversal (reversed_at), so a metric counts a reversal only from
--   that moment on, at any as-of. Read by the active-client and per-client revenue metrics.
-- table: webbank.entry
-- cursor: updated_at
-- time: create_time

SELECT e.create_time::date AS day,
       e.client_profile_id,
       CASE WHEN e.entry_state_id = 3 THEN e.updated_at END AS reversed_at,
       count(*) AS entries,
       sum(e.fee) AS fee
FROM webbank.entry e
WHERE e.create_time >= heartbeat.rollup_from() AND e.create_time < heartbeat.rollup_to()
GROUP BY 1, 2, 3
