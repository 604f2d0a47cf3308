-- name: Ledger clients per day, with their previous active day
-- description: Per business day of webbank.entry.create_time and client with an entry that day: the client's
--   previous day with an entry if it lies within the 31 days before (NULL otherwise). Read for the clients of
--   a window's cut first day and of today's open part (raw rows): a cut-day client was active on a whole day
--   of the window when its next active day (the row whose prev_day is the cut day) lies in it, and a client
--   active today when today's row has prev_day on or after the window's first whole day — two index ranges
--   instead of one probe per client.
-- table: webbank.entry
-- cursor: updated_at
-- time: create_time
-- reach: 31 days
-- index: prev_day; client_profile_id, day

WITH active AS (
    SELECT DISTINCT e.create_time::date AS day, e.client_profile_id
    FROM webbank.entry e
    WHERE e.create_time >= heartbeat.rollup_from() - interval '31 days' AND e.create_time < heartbeat.rollup_to()
), previous AS (
    SELECT a.day, a.client_profile_id,
           lag(a.day) OVER (PARTITION BY a.client_profile_id ORDER BY a.day) AS prev_day
    FROM active a
)
SELECT p.day, p.client_profile_id, CASE WHEN p.day - p.prev_day <= 31 THEN p.prev_day END AS prev_day
FROM previous p
WHERE p.day >= heartbeat.rollup_from()::date
