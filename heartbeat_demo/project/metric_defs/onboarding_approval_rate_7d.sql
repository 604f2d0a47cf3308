-- name: Onboarding approval rate, 7 days
-- period: 7d
-- unit: pct
-- direction: higher_is_better
-- sources: webbank
-- norm: 74
-- alert: 68
-- owner: compliance@example.com
-- team: onboarding
-- tags: onboarding
-- description: Share of onboarding decisions in the last 7 days that approved the client.
-- how_to_read: Usually around 80%. A fall means either worse applicants (check sign-ups by country) or a
--   stricter KYC rule; a jump towards 100% is as suspicious as a fall.
-- methodology: webbank.client_profile_state_log rows with profile_state 'approved' or 'rejected'
--   timestamped in the 7 days before the as-of moment; approved over both, in percent.

-- @value
SELECT round(100.0 * count(*) FILTER (WHERE l.profile_state = 'approved') / nullif(count(*), 0), 2) AS value
FROM webbank.client_profile_state_log l
WHERE l.profile_state IN ('approved', 'rejected')
  AND l."timestamp" >= heartbeat.window_start('7d') AND l."timestamp" < heartbeat.as_of();

-- @detail
SELECT c.tier, count(*) AS decisions,
       count(*) FILTER (WHERE l.profile_state = 'approved') AS approved,
       round(100.0 * count(*) FILTER (WHERE l.profile_state = 'approved') / count(*), 1) AS approval_rate_pct
FROM webbank.client_profile_state_log l
JOIN webbank.client_profile c ON c.id = l.client_profile_id
WHERE l.profile_state IN ('approved', 'rejected')
  AND l."timestamp" >= heartbeat.window_start('7d') AND l."timestamp" < heartbeat.as_of()
GROUP BY c.tier
ORDER BY decisions DESC;
