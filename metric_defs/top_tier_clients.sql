-- name: Top-tier clients
-- period: snapshot
-- unit: clients
-- direction: higher_is_better
-- sources: webbank
-- owner: growth@example.com
-- team: growth
-- tags: clients, top-tier
-- typical: rolling_stat
-- typical_window: 28
-- typical_robust: true
-- z_amber: 2
-- z_red: 3
-- description: Approved, not blocked clients on the top tier.
-- how_to_read: Top-tier clients carry a large share of revenue; the count should only grow. A drop
--   means top clients were blocked or left.
-- methodology: Clients with tier 'top' whose state log has an 'approved' entry and no 'blocked' entry
--   before the as-of moment (webbank.client_profile_state_log, conditional aggregation per client).

-- @value
SELECT count(*) AS value
FROM webbank.client_profile c
JOIN (
    SELECT l.client_profile_id,
           bool_or(l.profile_state = 'approved') AS approved,
           bool_or(l.profile_state = 'blocked') AS blocked
    FROM webbank.client_profile_state_log l
    WHERE l."timestamp" < heartbeat.as_of()
    GROUP BY l.client_profile_id
) s ON s.client_profile_id = c.id
WHERE c.tier = 'top' AND s.approved AND NOT s.blocked;

-- @detail
SELECT c.country, count(*) AS top_tier_clients
FROM webbank.client_profile c
JOIN (
    SELECT l.client_profile_id,
           bool_or(l.profile_state = 'approved') AS approved,
           bool_or(l.profile_state = 'blocked') AS blocked
    FROM webbank.client_profile_state_log l
    WHERE l."timestamp" < heartbeat.as_of()
    GROUP BY l.client_profile_id
) s ON s.client_profile_id = c.id
WHERE c.tier = 'top' AND s.approved AND NOT s.blocked
GROUP BY c.country
ORDER BY top_tier_clients DESC;
