-- name: Urgent tickets open over 4 hours
-- period: snapshot
-- unit: tickets
-- direction: lower_is_better
-- sources: helpdesk
-- norm: 3
-- alert: 8
-- owner: support@example.com
-- team: support
-- tags: helpdesk, backlog
-- entity: ticket:ticket_id
-- entity_label: subject
-- entity_owner: client:client_id
-- description: Urgent tickets opened more than 4 hours before the as-of moment and still unresolved.
-- how_to_read: Normally zero to two. Urgent means a client cannot use their money; the detail lists them.
-- methodology: helpdesk.ticket rows with priority 'urgent' created more than 4 hours before the as-of
--   moment, with resolved_at empty or after it.

-- @value
SELECT count(*) AS value
FROM helpdesk.ticket t
WHERE t.priority = 'urgent'
  AND t.created_at < heartbeat.as_of() - interval '4 hours'
  AND (t.resolved_at IS NULL OR t.resolved_at >= heartbeat.as_of());

-- @detail
SELECT t.id AS ticket_id, t.client_profile_id AS client_id, t.topic, t.subject, t.created_at,
       round(extract(epoch FROM heartbeat.as_of() - t.created_at) / 3600, 1) AS hours_open
FROM helpdesk.ticket t
WHERE t.priority = 'urgent'
  AND t.created_at < heartbeat.as_of() - interval '4 hours'
  AND (t.resolved_at IS NULL OR t.resolved_at >= heartbeat.as_of())
ORDER BY t.created_at;

-- @history
-- Every past day's end at once: an urgent ticket counts at the end of day d when it was created more than 4
-- hours before and not resolved by then: +1 when it starts to count, −1 when it stops
-- (shared_sql/open_items_by_day).
WITH moves AS (
    SELECT t.created_at + interval '4 hours' AS at, 1 AS delta
    FROM helpdesk.ticket t
    WHERE t.priority = 'urgent'
    UNION ALL
    SELECT greatest(t.created_at + interval '4 hours', t.resolved_at), -1
    FROM helpdesk.ticket t
    WHERE t.resolved_at IS NOT NULL AND t.priority = 'urgent'
),
-- @include open_items_by_day
;
