-- name: New sign-ups, 7 days
-- period: 7d
-- unit: clients
-- direction: higher_is_better
-- sources: webbank
-- owner: growth@example.com
-- team: growth
-- tags: onboarding
-- typical: rolling_stat
-- typical_window: 28
-- typical_robust: true
-- z_amber: 2
-- z_red: 3
-- description: Client profiles created (applications submitted) in the last 7 days.
-- how_to_read: The top of the onboarding funnel. A drop against its typical band points at
--   marketing, the sign-up form or the app store listing.
-- methodology: Count of webbank.client_profile rows with created_at in the 7 days before the as-of moment.

-- @value
SELECT count(*) AS value
FROM webbank.client_profile c
WHERE c.created_at >= heartbeat.window_start('7d') AND c.created_at < heartbeat.as_of();

-- @detail
SELECT c.country, count(*) AS signups
FROM webbank.client_profile c
WHERE c.created_at >= heartbeat.window_start('7d') AND c.created_at < heartbeat.as_of()
GROUP BY c.country
ORDER BY signups DESC;
