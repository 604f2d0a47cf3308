-- name: Active ledger clients per day, by gap since their previous active day
-- description: Per business day of webbank.entry.create_time and gap (days since the client's previous day
--   with an entry, 1..31; 32 = none in the 31 days before): how many clients had an entry that day. About 32
--   rows a day at any scale. The clients active in whole days [f, e) are Σ over days d in [f, e) of the
--   clients of d whose gap > d − f (each counted once, on its first active day there): the active-client
--   metrics read a month in a few hundred rows instead of a distinct count over millions.
-- table: webbank.entry
-- cursor: updated_at
-- time: create_time
-- reach: 31 days

WITH active AS (
    SELECT DISTINCT e.create_time::date AS day, e.client_profile_id
    FROM webbank.entry e
    WHERE e.create_time >= heartbeat.rollup_from() - interval '31 days' AND e.create_time < heartbeat.rollup_to()
), gaps AS (
    SELECT a.day, a.day - lag(a.day) OVER (PARTITION BY a.client_profile_id ORDER BY a.day) AS gap
    FROM active a
)
SELECT g.day, least(coalesce(g.gap, 32), 32) AS gap, count(*) AS clients
FROM gaps g
WHERE g.day >= heartbeat.rollup_from()::date
GROUP BY 1, 2
