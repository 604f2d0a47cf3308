-- name: AML time to review p50, 7 days
-- period: 7d
-- unit: hours
-- direction: lower_is_better
-- sources: aml
-- norm: 36
-- alert: 72
-- owner: compliance@example.com
-- team: compliance
-- tags: aml, latency
-- description: Median hours from opening to completing an AML review, for reviews completed in the last 7 days.
-- how_to_read: About 20 hours. It only covers reviews that were done: read it with the backlog,
--   since reviews that nobody picks up never show here.
-- methodology: aml.aml_retrospective rows with reviewed_at in the window; median of reviewed_at -
--   created_at, in hours.

-- @value
SELECT round((percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM a.reviewed_at - a.created_at)) / 3600)::numeric, 2) AS value
FROM aml.aml_retrospective a
WHERE a.reviewed_at >= heartbeat.window_start('7d') AND a.reviewed_at < heartbeat.as_of();
