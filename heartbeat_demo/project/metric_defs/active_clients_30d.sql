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
--   Read through rollups/entry_client_day (whole days; today and the window's cut day from raw rows).

-- @value
SELECT count(DISTINCT r.client_profile_id) AS value
FROM rollups.entry_client_day r;

-- @detail
WITH active AS (
    SELECT DISTINCT r.client_profile_id
    FROM rollups.entry_client_day r
)
SELECT c.tier, count(*) AS active_clients
FROM active
JOIN webbank.client_profile c ON c.id = active.client_profile_id
GROUP BY c.tier
ORDER BY active_clients DESC;
