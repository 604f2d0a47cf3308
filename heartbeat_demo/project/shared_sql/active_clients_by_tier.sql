-- description: The window's active clients per tier (`by_tier (tier, clients)`, a NULL tier for clients
--   with no profile): the whole days' clients by tier from rollups/entry_gap_day, and the edge clients by
--   their profile's tier. Follows active_clients_window, which it includes.
-- @include active_clients_window
, by_tier AS (
    SELECT t.tier, sum(t.clients)::bigint AS clients
    FROM (
        SELECT g.tier, sum(g.clients) AS clients
        FROM rollups.entry_gap_day g
        CROSS JOIN bounds b
        WHERE g.day < b.whole_to::date AND g.gap > g.day - b.whole_from::date
        GROUP BY g.tier
        UNION ALL
        SELECT c.tier, count(*) AS clients
        FROM edge_only
        LEFT JOIN webbank.client_profile c ON c.id = edge_only.client_profile_id
        GROUP BY c.tier
    ) AS t
    GROUP BY t.tier
)
