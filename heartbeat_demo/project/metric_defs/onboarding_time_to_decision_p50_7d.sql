-- name: Onboarding time to decision p50, 7 days
-- period: 7d
-- unit: hours
-- direction: lower_is_better
-- sources: webbank
-- norm: 12
-- alert: 24
-- owner: compliance@example.com
-- team: onboarding
-- tags: onboarding, latency
-- description: Median hours from sign-up to the onboarding decision, for decisions made in the last 7 days.
-- how_to_read: About 6 hours when KYC is staffed. Over 12 hours applicants start to drop out; over a
--   day the queue is not being worked.
-- methodology: webbank.client_profile_state_log 'approved'/'rejected' rows in the window joined to
--   webbank.client_profile.created_at; median of the difference, in hours.

-- @value
SELECT round((percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM l."timestamp" - c.created_at)) / 3600)::numeric, 2) AS value
FROM webbank.client_profile_state_log l
JOIN webbank.client_profile c ON c.id = l.client_profile_id
WHERE l.profile_state IN ('approved', 'rejected')
  AND l."timestamp" >= heartbeat.window_start('7d') AND l."timestamp" < heartbeat.as_of();
