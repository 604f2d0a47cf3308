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

-- @history
-- Every past day's end at once. A client counts at as-of A when it signed up in [A − 60 days, A − 48 h)
-- with no decision in [A − 60 days, A): with its first decision since sign-up and its last one before
-- (if any), that is A in (greatest(sign-up + 48 h, last before + 60 days), least(sign-up + 60 days, first
-- after)] — +1 at the interval's start and −1 at its end (shared_sql/open_items_by_day): each client's
-- decisions read once, not a two-month scan per day.
WITH signups AS (
    SELECT c.id, c.created_at
    FROM webbank.client_profile c
    WHERE c.created_at < date_trunc('day', heartbeat.as_of()) - interval '48 hours'
      AND c.created_at >= (heartbeat.history_from() + 1)::timestamptz - interval '60 days'
), decided AS (
    -- decisions older than the first day's window or from today on cannot change any day's answer
    SELECT s.created_at,
           min(l."timestamp") FILTER (WHERE l."timestamp" >= s.created_at) AS first_after,
           max(l."timestamp") FILTER (WHERE l."timestamp" < s.created_at) AS last_before
    FROM signups s
    LEFT JOIN webbank.client_profile_state_log l
        ON l.client_profile_id = s.id
       AND l.profile_state IN ('approved', 'rejected')
       AND l."timestamp" >= (heartbeat.history_from() + 1)::timestamptz - interval '60 days'
       AND l."timestamp" < date_trunc('day', heartbeat.as_of())
    GROUP BY s.id, s.created_at
), spans AS (
    SELECT greatest(d.created_at + interval '48 hours', d.last_before + interval '60 days') AS from_at,
           least(d.created_at + interval '60 days', d.first_after) AS to_at
    FROM decided d
), moves AS (
    SELECT s.from_at AS at, 1 AS delta
    FROM spans s
    UNION ALL
    SELECT greatest(s.from_at, s.to_at), -1
    FROM spans s
),
-- @include open_items_by_day
;
