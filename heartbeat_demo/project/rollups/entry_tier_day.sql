-- name: Ledger entries per day and client tier
-- description: Per business day of webbank.entry.create_time and client tier: entries and booked fees,
--   reversed entries apart with the moment of their reversal (reversed_at), so a metric counts a reversal only
--   from that moment on, at any as-of. A few rows a day: the per-tier revenue of a month in a few hundred rows
--   instead of a month of per-client rows joined to the tier. The tier is the client's current one: a profile
--   changed since the last refresh rebuilds the days of that client's entries (`watch`).
-- table: webbank.entry
-- cursor: updated_at
-- time: create_time
-- watch: webbank.client_profile (cursor updated_at) id = client_profile_id

SELECT e.create_time::date AS day,
       c.tier,
       CASE WHEN e.entry_state_id = 3 THEN e.updated_at END AS reversed_at,
       count(*) AS entries,
       sum(e.fee) AS fee
FROM webbank.entry e
LEFT JOIN webbank.client_profile c ON c.id = e.client_profile_id
WHERE e.create_time >= heartbeat.rollup_from() AND e.create_time < heartbeat.rollup_to()
GROUP BY 1, 2, 3
