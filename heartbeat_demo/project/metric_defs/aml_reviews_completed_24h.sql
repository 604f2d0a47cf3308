-- name: AML reviews completed, 24 hours
-- period: 24h
-- unit: reviews
-- direction: higher_is_better
-- sources: aml
-- owner: compliance@example.com
-- team: compliance
-- tags: aml, throughput
-- typical: rolling_stat
-- typical_window: 84
-- typical_seasonality: weekday
-- typical_min_points: 8
-- typical_robust: true
-- z_amber: 2
-- z_red: 3
-- description: AML retrospective reviews completed in the last 24 hours (throughput).
-- how_to_read: Should match the intake (about 50-60 a day at demo scale). Throughput below intake is
--   how a backlog starts; the detail shows reviews done per reviewer.
-- methodology: aml.aml_retrospective rows with reviewed_at in the 24 hours before the as-of moment.

-- @value
SELECT count(*) AS value
FROM aml.aml_retrospective a
WHERE a.reviewed_at >= heartbeat.window_start('24h') AND a.reviewed_at < heartbeat.as_of();

-- @detail
SELECT a.reviewer, count(*) AS reviewed,
       count(*) FILTER (WHERE a.decision = 'escalate') AS escalated
FROM aml.aml_retrospective a
WHERE a.reviewed_at >= heartbeat.window_start('24h') AND a.reviewed_at < heartbeat.as_of()
GROUP BY a.reviewer
ORDER BY reviewed DESC;

-- @segments
SELECT 'reviewer' AS dimension, a.reviewer AS segment, count(*) AS value, count(*) AS weight
FROM aml.aml_retrospective a
WHERE a.reviewed_at >= heartbeat.window_start('24h') AND a.reviewed_at < heartbeat.as_of()
GROUP BY a.reviewer;
