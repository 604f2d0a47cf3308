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
-- methodology: Entries of the last 30 days (webbank.entry) grouped by client_profile_id: booked fees
--   (not reversed by the as-of moment) summed over all clients, divided by the number of clients with
--   any entry (the active clients of active_clients_30d).
--   Read through rollups/entry_client_day (whole days; today and the window's cut day from raw rows).

-- @value
-- every active client's booked fees summed, over the number of active clients (no per-client grouping needed)
SELECT round(coalesce(sum(r.fee) FILTER (WHERE r.reversed_at IS NULL OR r.reversed_at >= heartbeat.as_of()), 0)
             / nullif(count(DISTINCT r.client_profile_id), 0), 2) AS value
FROM rollups.entry_client_day r;

-- @detail
WITH per_client AS (
    SELECT r.client_profile_id,
           coalesce(sum(r.fee) FILTER (WHERE (r.reversed_at IS NULL OR r.reversed_at >= heartbeat.as_of())), 0) AS fee
    FROM rollups.entry_client_day r
    GROUP BY r.client_profile_id
)
SELECT c.tier, count(*) AS active_clients, sum(pc.fee) AS revenue_eur, round(sum(pc.fee) / count(*), 2) AS per_client_eur
FROM per_client pc
JOIN webbank.client_profile c ON c.id = pc.client_profile_id
GROUP BY c.tier
ORDER BY per_client_eur DESC;
