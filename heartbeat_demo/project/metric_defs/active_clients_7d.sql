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
--   Read through rollups/entry_client_day (whole days; today and the window's cut day from raw rows).

-- @value
SELECT count(DISTINCT r.client_profile_id) AS value
FROM rollups.entry_client_day r;

-- @segments
WITH active AS (
    SELECT e.client_profile_id
    FROM webbank.entry e
    WHERE e.create_time >= heartbeat.window_start('7d') AND e.create_time < heartbeat.as_of()
    GROUP BY e.client_profile_id
)
SELECT 'tier' AS dimension, c.tier AS segment, count(*) AS value, count(*) AS weight
FROM active
JOIN webbank.client_profile c ON c.id = active.client_profile_id
GROUP BY c.tier;
