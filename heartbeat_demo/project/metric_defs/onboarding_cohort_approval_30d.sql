-- name: Onboarding cohort approval within 7 days
-- period: 30d
-- unit: pct
-- direction: higher_is_better
-- sources: webbank
-- norm: 74
-- alert: 68
-- owner: compliance@example.com
-- team: onboarding
-- tags: onboarding, cohort
-- description: Of the clients who signed up 7 to 37 days ago, the share approved within 7 days of signing up.
-- how_to_read: The applicant's view of onboarding: speed and outcome in one number. It lags by a week
--   by design, so every client in the cohort has had the full 7 days.
-- methodology: Cohort = webbank.client_profile rows created between 37 and 7 days before the as-of
--   moment; joined (LEFT JOIN, conditional aggregation) to their first 'approved' entry in
--   webbank.client_profile_state_log; approved within 7 days of created_at over the cohort, in percent.

-- @value
WITH cohort AS (
    SELECT c.id, c.created_at
    FROM webbank.client_profile c
    WHERE c.created_at >= heartbeat.as_of() - interval '37 days' AND c.created_at < heartbeat.as_of() - interval '7 days'
), approved AS (
    SELECT l.client_profile_id, min(l."timestamp") AS approved_at
    FROM webbank.client_profile_state_log l
    WHERE l.profile_state = 'approved'
      AND l."timestamp" >= heartbeat.as_of() - interval '37 days' AND l."timestamp" < heartbeat.as_of()
    GROUP BY l.client_profile_id
)
SELECT round(100.0 * count(a.client_profile_id) FILTER (WHERE a.approved_at < c.created_at + interval '7 days')
             / nullif(count(*), 0), 2) AS value
FROM cohort c
LEFT JOIN approved a ON a.client_profile_id = c.id;

-- @detail
WITH cohort AS (
    SELECT c.id, c.created_at
    FROM webbank.client_profile c
    WHERE c.created_at >= heartbeat.as_of() - interval '37 days' AND c.created_at < heartbeat.as_of() - interval '7 days'
), approved AS (
    SELECT l.client_profile_id, min(l."timestamp") AS approved_at
    FROM webbank.client_profile_state_log l
    WHERE l.profile_state = 'approved'
      AND l."timestamp" >= heartbeat.as_of() - interval '37 days' AND l."timestamp" < heartbeat.as_of()
    GROUP BY l.client_profile_id
)
SELECT date_trunc('week', c.created_at)::date AS signup_week, count(*) AS signups,
       count(a.client_profile_id) FILTER (WHERE a.approved_at < c.created_at + interval '7 days') AS approved_within_7d,
       round(100.0 * count(a.client_profile_id) FILTER (WHERE a.approved_at < c.created_at + interval '7 days') / count(*), 1) AS rate_pct
FROM cohort c
LEFT JOIN approved a ON a.client_profile_id = c.id
GROUP BY 1
ORDER BY 1;
