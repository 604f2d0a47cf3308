-- name: Helpdesk resolution time p50, 7 days
-- period: 7d
-- unit: hours
-- direction: lower_is_better
-- sources: helpdesk
-- norm: 12
-- alert: 24
-- owner: support@example.com
-- team: support
-- tags: helpdesk, latency
-- description: Median hours from opening to resolution, for tickets resolved in the last 7 days.
-- how_to_read: About 6-7 hours. Over half a day clients wait overnight for an answer.
-- methodology: helpdesk.ticket rows with resolved_at in the window; median of resolved_at - created_at,
--   in hours.

-- @value
SELECT round((percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM t.resolved_at - t.created_at)) / 3600)::numeric, 2) AS value
FROM helpdesk.ticket t
WHERE t.resolved_at >= heartbeat.window_start('7d') AND t.resolved_at < heartbeat.as_of();

-- @detail
SELECT t.priority, count(*) AS resolved,
       round((percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM t.resolved_at - t.created_at)) / 3600)::numeric, 2) AS p50_hours
FROM helpdesk.ticket t
WHERE t.resolved_at >= heartbeat.window_start('7d') AND t.resolved_at < heartbeat.as_of()
GROUP BY t.priority
ORDER BY p50_hours DESC;
