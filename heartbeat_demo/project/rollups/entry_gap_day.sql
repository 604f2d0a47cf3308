-- name: Active ledger clients per day and tier, by gap since their previous active day
-- description: Per business day of webbank.entry.create_time, client tier and gap (days since the client's
--   previous day with an entry, 1..31; 32 = none in the 31 days before): how many clients had an entry that
--   day. About 32 rows a day per tier at any scale. The clients active in whole days [f, e) are Σ over days d
--   in [f, e) of the clients of d whose gap > d − f (each counted once, on its first active day there): the
--   active-client metrics read a month in a few hundred rows instead of a distinct count over millions, in
--   total or per tier. The tier is the client's current one: a profile changed since the last refresh
--   rebuilds the days of that client's entries (`watch`).
-- table: webbank.entry
-- cursor: updated_at
-- time: create_time
-- reach: 31 days
-- watch: webbank.client_profile (cursor updated_at) id = client_profile_id

WITH active AS (
    SELECT DISTINCT e.create_time::date AS day, e.client_profile_id
    FROM webbank.entry e
    WHERE e.create_time >= heartbeat.rollup_from() - interval '31 days' AND e.create_time < heartbeat.rollup_to()
), gaps AS (
    SELECT a.day, a.client_profile_id,
           a.day - lag(a.day) OVER (PARTITION BY a.client_profile_id ORDER BY a.day) AS gap
    FROM active a
)
SELECT g.day, c.tier, least(coalesce(g.gap, 32), 32) AS gap, count(*) AS clients
FROM gaps g
LEFT JOIN webbank.client_profile c ON c.id = g.client_profile_id
WHERE g.day >= heartbeat.rollup_from()::date
GROUP BY 1, 2, 3
