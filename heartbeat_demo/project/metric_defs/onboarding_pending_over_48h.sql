-- name: Applications pending over 48 hours
-- period: snapshot
-- unit: clients
-- direction: lower_is_better
-- sources: webbank
-- norm: 5
-- alert: 15
-- owner: compliance@example.com
-- team: onboarding
-- tags: onboarding, backlog
-- entity: application:client_id
-- entity_label: name
-- entity_owner: client:client_id
-- description: Applicants who signed up 2 to 60 days ago and had no onboarding decision at the as-of moment.
-- how_to_read: Normally zero to two. Each one is a prospective client waiting; the detail lists them.
-- methodology: webbank.client_profile rows created between 60 days and 48 hours before the as-of moment,
--   anti-joined to 'approved'/'rejected' rows of webbank.client_profile_state_log recorded before it.

-- @value
SELECT count(*) AS value
FROM webbank.client_profile c
LEFT JOIN (
    SELECT DISTINCT l.client_profile_id
    FROM webbank.client_profile_state_log l
    WHERE l.profile_state IN ('approved', 'rejected')
      AND l."timestamp" >= heartbeat.as_of() - interval '60 days' AND l."timestamp" < heartbeat.as_of()
) d ON d.client_profile_id = c.id
WHERE c.created_at >= heartbeat.as_of() - interval '60 days' AND c.created_at < heartbeat.as_of() - interval '48 hours'
  AND d.client_profile_id IS NULL;

-- @detail
SELECT c.id AS client_id, c.name, c.country, c.tier, c.created_at,
       round(extract(epoch FROM heartbeat.as_of() - c.created_at) / 3600, 1) AS hours_waiting
FROM webbank.client_profile c
LEFT JOIN (
    SELECT DISTINCT l.client_profile_id
    FROM webbank.client_profile_state_log l
    WHERE l.profile_state IN ('approved', 'rejected')
      AND l."timestamp" >= heartbeat.as_of() - interval '60 days' AND l."timestamp" < heartbeat.as_of()
) d ON d.client_profile_id = c.id
WHERE c.created_at >= heartbeat.as_of() - interval '60 days' AND c.created_at < heartbeat.as_of() - interval '48 hours'
  AND d.client_profile_id IS NULL
ORDER BY c.created_at;
