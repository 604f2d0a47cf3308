-- name: Revenue per active client, 30 days
-- period: 30d
-- unit: money:EUR
-- direction: higher_is_better
-- sources: webbank
-- owner: finance@example.com
-- team: finance
-- tags: revenue, clients
-- norm: 7.5
-- alert: 6.5
-- description: Average fee revenue per client who moved money in the last 30 days.
-- how_to_read: Independent of how many clients there are: it falls when clients move to cheaper
--   products or when paid payments fail, even while headline revenue still grows.
-- methodology: Sum of booked fees (webbank.entry, not reversed by the as-of moment) over the last
--   30 days divided by the distinct client_profile_id of those entries.

-- @value
SELECT round(coalesce(sum(e.fee), 0) / nullif(count(DISTINCT e.client_profile_id), 0), 2) AS value
FROM webbank.entry e
WHERE e.create_time >= heartbeat.window_start('30d') AND e.create_time < heartbeat.as_of()
  AND NOT (e.entry_state_id = 3 AND e.updated_at < heartbeat.as_of());
