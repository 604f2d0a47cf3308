-- name: AML escalation rate, 30 days
-- period: 30d
-- unit: pct
-- direction: lower_is_better
-- sources: aml
-- norm: 8
-- alert: 12
-- owner: compliance@example.com
-- team: compliance
-- tags: aml
-- description: Share of AML reviews completed in the last 30 days that were escalated.
-- how_to_read: About 4%. A rising share means riskier clients or a stricter policy, and more work for
--   the escalation desk.
-- methodology: aml.aml_retrospective rows reviewed in the 30 days before the as-of moment; decision
--   'escalate' over all, in percent.

-- @value
SELECT round(100.0 * count(*) FILTER (WHERE a.decision = 'escalate') / nullif(count(*), 0), 2) AS value
FROM aml.aml_retrospective a
WHERE a.reviewed_at >= heartbeat.window_start('30d') AND a.reviewed_at < heartbeat.as_of();

-- @detail
SELECT a.reason, count(*) AS reviewed, count(*) FILTER (WHERE a.decision = 'escalate') AS escalated
FROM aml.aml_retrospective a
WHERE a.reviewed_at >= heartbeat.window_start('30d') AND a.reviewed_at < heartbeat.as_of()
GROUP BY a.reason
ORDER BY escalated DESC;
