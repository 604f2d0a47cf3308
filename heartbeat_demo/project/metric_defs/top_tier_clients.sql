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
--   before the as-of moment (webbank.client_profile_state_log joined and aggregated per client).

-- @value
SELECT count(*) AS value
FROM (
    SELECT c.id
    FROM webbank.client_profile c
    JOIN webbank.client_profile_state_log l ON l.client_profile_id = c.id
    WHERE c.tier = 'top' AND l."timestamp" < heartbeat.as_of()
    GROUP BY c.id
    HAVING bool_or(l.profile_state = 'approved') AND NOT bool_or(l.profile_state = 'blocked')
) AS top_tier;

-- @detail
SELECT top_tier.country, count(*) AS top_tier_clients
FROM (
    SELECT c.id, c.country
    FROM webbank.client_profile c
    JOIN webbank.client_profile_state_log l ON l.client_profile_id = c.id
    WHERE c.tier = 'top' AND l."timestamp" < heartbeat.as_of()
    GROUP BY c.id, c.country
    HAVING bool_or(l.profile_state = 'approved') AND NOT bool_or(l.profile_state = 'blocked')
) AS top_tier
GROUP BY top_tier.country
ORDER BY top_tier_clients DESC;

-- @history
-- Every past day's end at once: a top-tier client counts at the end of day d when it was approved before then
-- and not blocked before then, so each client's first approval and first block are read once, and each day
-- counts the clients between them.
WITH moments AS (
    SELECT c.id,
           min(l."timestamp") FILTER (WHERE l.profile_state = 'approved') AS approved_at,
           min(l."timestamp") FILTER (WHERE l.profile_state = 'blocked') AS blocked_at
    FROM webbank.client_profile c
    JOIN webbank.client_profile_state_log l ON l.client_profile_id = c.id
    WHERE c.tier = 'top' AND l."timestamp" < date_trunc('day', heartbeat.as_of())
    GROUP BY c.id
), days AS (
    SELECT g::date AS as_of_date, (g::date + 1)::timestamptz AS as_of
    FROM generate_series(heartbeat.history_from(), date_trunc('day', heartbeat.as_of())::date - 1, interval '1 day') AS g
)
SELECT days.as_of_date,
       count(m.id) FILTER (WHERE m.approved_at < days.as_of AND (m.blocked_at IS NULL OR m.blocked_at >= days.as_of))
           AS value
FROM days
CROSS JOIN moments m
GROUP BY days.as_of_date;
