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
-- active_clients_30d (gap rollup for whole days; the cut day and today's open part from raw rows).
WITH bounds AS (
    SELECT CASE WHEN heartbeat.window_start() = date_trunc('day', heartbeat.window_start())
                THEN heartbeat.window_start()
                ELSE date_trunc('day', heartbeat.window_start()) + interval '1 day' END AS whole_from,
           date_trunc('day', heartbeat.as_of()) AS whole_to
), whole AS (
    -- clients active on the window's whole days, each counted on its first active day there
    SELECT coalesce(sum(g.clients), 0) AS clients
    FROM rollups.entry_gap_day g
    CROSS JOIN bounds b
    WHERE g.day < b.whole_to::date AND g.gap > g.day - b.whole_from::date
), edge AS (
    -- the clients of the window's cut first day and of today's open part, from raw rows
    SELECT x.client_profile_id, max(x.today) AS today
    FROM (
        SELECT e.client_profile_id, 0 AS today
        FROM webbank.entry e
        WHERE e.create_time >= heartbeat.window_start()
          AND e.create_time < (SELECT least(b.whole_from, heartbeat.as_of()) FROM bounds b)
        UNION ALL
        SELECT e.client_profile_id, 1 AS today
        FROM webbank.entry e
        WHERE e.create_time >= (SELECT greatest(b.whole_to, heartbeat.window_start()) FROM bounds b)
          AND e.create_time < heartbeat.as_of()
    ) AS x
    GROUP BY x.client_profile_id
), next_after_cut AS MATERIALIZED (  -- hashed once, not probed per client
    -- a client of the cut day whose next active day lies in the whole days was active there
    SELECT r.client_profile_id
    FROM rollups.entry_client_prev_day r
    WHERE r.prev_day = (SELECT b.whole_from::date - 1 FROM bounds b)  -- a parameter: the prev_day index range
      AND r.day < (SELECT b.whole_to::date FROM bounds b)
), today_rows AS (
    -- today's row of a client: active on a whole day when its previous active day is one
    SELECT r.client_profile_id, r.prev_day
    FROM rollups.entry_client_prev_day r
    WHERE r.day = (SELECT b.whole_to::date FROM bounds b)
), late_seen AS (
    -- today's clients landed since the last refresh (no stored row for today) with an entry on a whole day:
    -- their keys as one array parameter, so the lookup is an index range per key, not a subquery per row
    SELECT DISTINCT p.client_profile_id
    FROM rollups.entry_client_prev_day p
    WHERE p.client_profile_id = ANY (ARRAY(  -- a set difference (hashed), never a nested loop over both
              SELECT edge.client_profile_id FROM edge WHERE edge.today = 1
              EXCEPT
              SELECT t.client_profile_id FROM today_rows t))
      AND p.day >= (SELECT b.whole_from::date FROM bounds b)
      AND p.day < (SELECT b.whole_to::date FROM bounds b)
), edge_only AS (
    -- edge clients with no entry on a whole day (a client of today missing from today's stored rows, landed
    -- since the last refresh, is looked up in late_seen)
    SELECT edge.client_profile_id
    FROM edge
    CROSS JOIN bounds b
    LEFT JOIN next_after_cut n ON n.client_profile_id = edge.client_profile_id
    LEFT JOIN today_rows t ON t.client_profile_id = edge.client_profile_id
    LEFT JOIN late_seen s ON s.client_profile_id = edge.client_profile_id
    WHERE n.client_profile_id IS NULL
      AND CASE WHEN t.client_profile_id IS NOT NULL THEN t.prev_day IS NULL OR t.prev_day < b.whole_from::date
               WHEN edge.today = 1 THEN s.client_profile_id IS NULL
               ELSE true END
), revenue AS (
    SELECT coalesce(sum(r.fee) FILTER (WHERE r.reversed_at IS NULL OR r.reversed_at >= heartbeat.as_of()), 0) AS fee
    FROM rollups.entry_day r
)
SELECT round(revenue.fee / nullif(whole.clients + (SELECT count(*) FROM edge_only), 0), 2) AS value
FROM revenue
CROSS JOIN whole;

-- @detail
-- Active clients per tier counted as in active_clients_30d's detail; booked fees per tier from the day × tier
-- rollup (a tier's fees are its clients' fees, a few hundred rows a month).
WITH bounds AS (
    SELECT CASE WHEN heartbeat.window_start() = date_trunc('day', heartbeat.window_start())
                THEN heartbeat.window_start()
                ELSE date_trunc('day', heartbeat.window_start()) + interval '1 day' END AS whole_from,
           date_trunc('day', heartbeat.as_of()) AS whole_to
), edge AS (
    -- the clients of the window's cut first day and of today's open part, from raw rows
    SELECT x.client_profile_id, max(x.today) AS today
    FROM (
        SELECT e.client_profile_id, 0 AS today
        FROM webbank.entry e
        WHERE e.create_time >= heartbeat.window_start()
          AND e.create_time < (SELECT least(b.whole_from, heartbeat.as_of()) FROM bounds b)
        UNION ALL
        SELECT e.client_profile_id, 1 AS today
        FROM webbank.entry e
        WHERE e.create_time >= (SELECT greatest(b.whole_to, heartbeat.window_start()) FROM bounds b)
          AND e.create_time < heartbeat.as_of()
    ) AS x
    GROUP BY x.client_profile_id
), next_after_cut AS MATERIALIZED (  -- hashed once, not probed per client
    -- a client of the cut day whose next active day lies in the whole days was active there
    SELECT r.client_profile_id
    FROM rollups.entry_client_prev_day r
    WHERE r.prev_day = (SELECT b.whole_from::date - 1 FROM bounds b)  -- a parameter: the prev_day index range
      AND r.day < (SELECT b.whole_to::date FROM bounds b)
), today_rows AS (
    -- today's row of a client: active on a whole day when its previous active day is one
    SELECT r.client_profile_id, r.prev_day
    FROM rollups.entry_client_prev_day r
    WHERE r.day = (SELECT b.whole_to::date FROM bounds b)
), late_seen AS (
    -- today's clients landed since the last refresh (no stored row for today) with an entry on a whole day:
    -- their keys as one array parameter, so the lookup is an index range per key, not a subquery per row
    SELECT DISTINCT p.client_profile_id
    FROM rollups.entry_client_prev_day p
    WHERE p.client_profile_id = ANY (ARRAY(  -- a set difference (hashed), never a nested loop over both
              SELECT edge.client_profile_id FROM edge WHERE edge.today = 1
              EXCEPT
              SELECT t.client_profile_id FROM today_rows t))
      AND p.day >= (SELECT b.whole_from::date FROM bounds b)
      AND p.day < (SELECT b.whole_to::date FROM bounds b)
), edge_only AS MATERIALIZED (  -- filtered before the profiles are joined
    -- edge clients with no entry on a whole day (a client of today missing from today's stored rows, landed
    -- since the last refresh, is looked up in late_seen)
    SELECT edge.client_profile_id
    FROM edge
    CROSS JOIN bounds b
    LEFT JOIN next_after_cut n ON n.client_profile_id = edge.client_profile_id
    LEFT JOIN today_rows t ON t.client_profile_id = edge.client_profile_id
    LEFT JOIN late_seen s ON s.client_profile_id = edge.client_profile_id
    WHERE n.client_profile_id IS NULL
      AND CASE WHEN t.client_profile_id IS NOT NULL THEN t.prev_day IS NULL OR t.prev_day < b.whole_from::date
               WHEN edge.today = 1 THEN s.client_profile_id IS NULL
               ELSE true END
), by_tier AS (
    -- the whole days' clients per tier from the gap rollup, and the edge clients' tiers from their profiles
    SELECT t.tier, sum(t.clients)::bigint AS active_clients
    FROM (
        SELECT g.tier, sum(g.clients) AS clients
        FROM rollups.entry_gap_day g
        CROSS JOIN bounds b
        WHERE g.day < b.whole_to::date AND g.gap > g.day - b.whole_from::date
        GROUP BY g.tier
        UNION ALL
        SELECT c.tier, count(*) AS clients
        FROM edge_only
        JOIN webbank.client_profile c ON c.id = edge_only.client_profile_id
        GROUP BY c.tier
    ) AS t
    WHERE t.tier IS NOT NULL
    GROUP BY t.tier
), revenue AS (
    SELECT r.tier, sum(r.fee) FILTER (WHERE r.reversed_at IS NULL OR r.reversed_at >= heartbeat.as_of()) AS fee
    FROM rollups.entry_tier_day r
    GROUP BY r.tier
)
SELECT a.tier, a.active_clients, coalesce(rv.fee, 0) AS revenue_eur,
       round(coalesce(rv.fee, 0) / a.active_clients, 2) AS per_client_eur
FROM by_tier a
LEFT JOIN revenue rv ON rv.tier = a.tier
ORDER BY per_client_eur DESC;
