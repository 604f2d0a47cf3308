-- name: Helpdesk tickets opened, 24 hours
-- period: 24h
-- unit: tickets
-- direction: lower_is_better
-- sources: helpdesk
-- owner: support@example.com
-- team: support
-- tags: helpdesk
-- typical: rolling_stat
-- typical_window: 28
-- typical_robust: true
-- z_amber: 2
-- z_red: 3
-- description: Support tickets opened in the last 24 hours.
-- how_to_read: Against the last four weeks (the weekly pattern is mild, and quiet weekends are the good
--   side). A spike is often the first sign of a product problem; the detail shows which topic is growing.
-- methodology: helpdesk.ticket rows with created_at in the 24 hours before the as-of moment.

-- @value
SELECT count(*) AS value
FROM helpdesk.ticket t
WHERE t.created_at >= heartbeat.window_start('24h') AND t.created_at < heartbeat.as_of();

-- @detail
SELECT t.topic, count(*) AS tickets, count(*) FILTER (WHERE t.priority IN ('high', 'urgent')) AS high_or_urgent
FROM helpdesk.ticket t
WHERE t.created_at >= heartbeat.window_start('24h') AND t.created_at < heartbeat.as_of()
GROUP BY t.topic
ORDER BY tickets DESC;

-- @segments
SELECT 'topic' AS dimension, t.topic AS segment, count(*) AS value, count(*) AS weight
FROM helpdesk.ticket t
WHERE t.created_at >= heartbeat.window_start('24h') AND t.created_at < heartbeat.as_of()
GROUP BY t.topic;
