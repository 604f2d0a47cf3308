-- description: The clients active in the metric's window [window_start(), as_of()), exactly, without a
--   distinct count over a month of ledger rows: CTEs `bounds (whole_from, whole_to)` (the window's whole
--   days), `edge_only (client_profile_id)` (the clients of the window's cut first day and of today's open
--   part, read from raw rows, that had no entry on a whole day) and their helpers. The whole days' clients
--   come from rollups/entry_gap_day: Σ clients WHERE day < whole_to AND gap > day − whole_from (each client
--   counted once, on its first active day there). Used by the active-client metrics' values, details and
--   segments.
bounds AS (
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
), edge_only AS MATERIALIZED (  -- filtered before a detail joins the profiles
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
