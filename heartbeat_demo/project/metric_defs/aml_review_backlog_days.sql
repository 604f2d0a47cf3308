-- name: AML backlog in days of intake
-- period: snapshot
-- unit: days
-- direction: lower_is_better
-- sources: aml
-- norm: 2
-- alert: 3
-- owner: compliance@example.com
-- team: compliance
-- tags: aml, backlog
-- description: The open AML review backlog divided by the average daily intake of the last 28 days.
-- how_to_read: How many days of work are waiting; about one day when the team keeps up, whatever the
--   size of the business. Above two days reviews are falling behind; above three, act.
-- methodology: Open reviews (aml.aml_retrospective created before the as-of moment, not reviewed by it)
--   over (reviews created in the 28 days before the as-of moment / 28).

-- @value
SELECT round(count(*) FILTER (WHERE a.reviewed_at IS NULL OR a.reviewed_at >= heartbeat.as_of())
             / nullif(count(*) FILTER (WHERE a.created_at >= heartbeat.as_of() - interval '28 days') / 28.0, 0), 2) AS value
FROM aml.aml_retrospective a
WHERE a.created_at < heartbeat.as_of();

-- @segments
SELECT 'reviewer' AS dimension, a.reviewer AS segment,
       round(count(*) FILTER (WHERE a.reviewed_at IS NULL OR a.reviewed_at >= heartbeat.as_of())
             / nullif(count(*) FILTER (WHERE a.created_at >= heartbeat.as_of() - interval '28 days') / 28.0, 0), 2)
           AS value,
       count(*) FILTER (WHERE a.reviewed_at IS NULL OR a.reviewed_at >= heartbeat.as_of()) AS numerator,
       count(*) FILTER (WHERE a.created_at >= heartbeat.as_of() - interval '28 days') / 28.0 AS denominator
FROM aml.aml_retrospective a
WHERE a.created_at < heartbeat.as_of()
GROUP BY a.reviewer;
