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
--   Fees read through rollups/entry_day, active clients through rollups/entry_gap_day and
--   rollups/entry_client_prev_day (as active_clients_30d); the detail per tier through the same and
--   rollups/entry_tier_day (fees per day and tier).

-- @value
-- Booked fees of the window from the day × product rollup, over the active clients counted as in
-- active_clients_30d.
WITH
-- @include active_clients_window
, whole AS (
    -- clients active on the window's whole days, each counted on its first active day there
    SELECT coalesce(sum(g.clients), 0) AS clients
    FROM rollups.entry_gap_day g
    CROSS JOIN bounds b
    WHERE g.day < b.whole_to::date AND g.gap > g.day - b.whole_from::date
), revenue AS (
    SELECT coalesce(sum(r.fee) FILTER (WHERE r.reversed_at IS NULL OR r.reversed_at >= heartbeat.as_of()), 0) AS fee
    FROM rollups.entry_day r
)
SELECT round(revenue.fee / nullif(whole.clients + (SELECT count(*) FROM edge_only), 0), 2) AS value
FROM revenue
CROSS JOIN whole;

-- @detail
-- Active clients per tier counted as in active_clients_30d; booked fees per tier from the day × tier rollup
-- (a tier's fees are its clients' fees, a few hundred rows a month).
WITH
-- @include active_clients_by_tier
, revenue AS (
    SELECT r.tier, sum(r.fee) FILTER (WHERE r.reversed_at IS NULL OR r.reversed_at >= heartbeat.as_of()) AS fee
    FROM rollups.entry_tier_day r
    GROUP BY r.tier
)
SELECT a.tier, a.clients AS active_clients, coalesce(rv.fee, 0) AS revenue_eur,
       round(coalesce(rv.fee, 0) / a.clients, 2) AS per_client_eur
FROM by_tier a
LEFT JOIN revenue rv ON rv.tier = a.tier
WHERE a.tier IS NOT NULL
ORDER BY per_client_eur DESC;
