-- name: Open helpdesk tickets
-- period: snapshot
-- unit: tickets
-- direction: lower_is_better
-- sources: helpdesk
-- owner: support@example.com
-- team: support
-- tags: helpdesk, backlog
-- typical: rolling_stat
-- typical_window: 28
-- typical_robust: true
-- z_amber: 2
-- z_red: 3
-- description: Support tickets opened and not resolved at the as-of moment.
-- how_to_read: The support queue. It breathes with the week (Monday mornings are full); a queue
--   well above its typical band means support is understaffed or a problem is generating tickets.
-- methodology: helpdesk.ticket rows created before the as-of moment with resolved_at empty or after it.

-- @value
SELECT count(*) AS value
FROM helpdesk.ticket t
WHERE t.created_at < heartbeat.as_of()
  AND (t.resolved_at IS NULL OR t.resolved_at >= heartbeat.as_of());

-- @detail
SELECT t.priority, t.topic, count(*) AS open_tickets, min(t.created_at) AS oldest_created_at
FROM helpdesk.ticket t
WHERE t.created_at < heartbeat.as_of()
  AND (t.resolved_at IS NULL OR t.resolved_at >= heartbeat.as_of())
GROUP BY t.priority, t.topic
ORDER BY open_tickets DESC;

-- @segments
SELECT 'priority' AS dimension, t.priority AS segment, count(*) AS value, count(*) AS weight
FROM helpdesk.ticket t
WHERE t.created_at < heartbeat.as_of()
  AND (t.resolved_at IS NULL OR t.resolved_at >= heartbeat.as_of())
GROUP BY t.priority
UNION ALL
SELECT 'topic', t.topic, count(*), count(*)
FROM helpdesk.ticket t
WHERE t.created_at < heartbeat.as_of()
  AND (t.resolved_at IS NULL OR t.resolved_at >= heartbeat.as_of())
GROUP BY t.topic;

-- @history
-- Every past day's end at once: a ticket counts at the end of day d when it was created before and not
-- resolved by then: +1 when it starts to count, −1 when it stops (shared_sql/open_items_by_day).
WITH moves AS (
    SELECT t.created_at AS at, 1 AS delta
    FROM helpdesk.ticket t
    UNION ALL
    SELECT greatest(t.created_at, t.resolved_at), -1
    FROM helpdesk.ticket t
    WHERE t.resolved_at IS NOT NULL
),
-- @include open_items_by_day
;
