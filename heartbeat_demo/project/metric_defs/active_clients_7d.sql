-- name: Active clients, 7 days
-- period: 7d
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
-- description: Clients with at least one booked ledger entry in the last 7 days.
-- how_to_read: Weekly engagement; a sharper signal than the 30-day count when clients stop transacting.
-- methodology: Distinct webbank.entry.client_profile_id over entries created in the 7 days before the
--   as-of moment.
--   Read through rollups/entry_gap_day (clients per day and tier by gap since their previous active day:
--   whole days, in total or per tier)
--   and rollups/entry_client_prev_day (per client: its previous active day) for the clients of the
--   window's cut day and today's open part, read from raw rows.

-- @value
-- Whole days of the window from the gap rollup (a client counts once, on its first active day there), plus the
-- clients of the window's cut first day and of today's open part (raw rows) that had no entry on a whole day.
WITH
-- @include active_clients_window
, whole AS (
    -- clients active on the window's whole days, each counted on its first active day there
    SELECT coalesce(sum(g.clients), 0) AS clients
    FROM rollups.entry_gap_day g
    CROSS JOIN bounds b
    WHERE g.day < b.whole_to::date AND g.gap > g.day - b.whole_from::date
)
SELECT whole.clients + (SELECT count(*) FROM edge_only) AS value
FROM whole;

-- @segments
-- Active clients per tier, counted as the value.
WITH
-- @include active_clients_by_tier
SELECT 'tier' AS dimension, t.tier AS segment, t.clients AS value, t.clients AS weight
FROM by_tier t
WHERE t.tier IS NOT NULL;
