-- name: Ledger entries per day of top and business clients
-- description: Per business day of webbank.entry.create_time and client of the top and business tiers:
--   entries and booked fees, reversed entries apart with the moment of their reversal (reversed_at), so a
--   metric counts a reversal only from that moment on, at any as-of. Read by the top clients of
--   top_tier_revenue_share_30d: a month of the big tiers' rows (about an eighth of all clients'), clustered
--   by day. The tier is the client's current one: a client whose tier changed since the last refresh has the
--   days of its entries rebuilt (`watch`), so one moving in or out of the big tiers appears or leaves.
-- table: webbank.entry
-- cursor: updated_at
-- time: create_time
-- watch: webbank.client_profile (cursor updated_at) id = client_profile_id, columns tier

SELECT e.create_time::date AS day,
       e.client_profile_id,
       c.tier,
       CASE WHEN e.entry_state_id = 3 THEN e.updated_at END AS reversed_at,
       count(*) AS entries,
       sum(e.fee) AS fee
FROM webbank.entry e
JOIN webbank.client_profile c ON c.id = e.client_profile_id AND c.tier IN ('top', 'business')
WHERE e.create_time >= heartbeat.rollup_from() AND e.create_time < heartbeat.rollup_to()
GROUP BY 1, 2, 3, 4
