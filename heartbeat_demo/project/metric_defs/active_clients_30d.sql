-- name: Active clients, 30 days
-- period: 30d
-- unit: clients
-- direction: higher_is_better
-- sources: webbank
-- owner: growth@example.com
-- team: growth
-- tags: clients
-- typical: rolling_stat
-- typical_window: 28
-- typical_robust: true
-- z_amber: 2
-- z_red: 3
-- description: Clients with at least one booked ledger entry in the last 30 days.
-- how_to_read: The size of the business that actually uses the account. It grows with onboarding;
--   a dip means clients went quiet or left.
-- methodology: Distinct webbank.entry.client_profile_id over entries created in the 30 days before the
--   as-of moment (any product, reversed ones included: the client was active).
--   Read through rollups/entry_gap_day (clients per day and tier by gap since their previous active day:
--   whole days, in total or per tier)
--   and rollups/entry_client_prev_day (per client: its previous active day) for the clients of the
--   window's cut day and today's open part, read from raw rows.

-- @value
-- Whole days of the window from the gap rollup (a client counts once, on its first active day there: its gap
-- since the previous active day reaches before the first whole day), plus the clients of the window's cut
-- first day and of today's open part (raw rows) that had no entry on a whole day.
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
)
SELECT whole.clients + (SELECT count(*) FROM edge_only) AS value
FROM whole;

-- @detail
-- Active clients per tier: the whole days' clients by tier from the gap rollup (each counted on its first
-- active day there), and the cut day's and today's clients with no whole day by their profile's tier.
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
)
SELECT t.tier, sum(t.clients)::bigint AS active_clients
FROM by_tier t
WHERE t.tier IS NOT NULL
GROUP BY t.tier
ORDER BY active_clients DESC;
