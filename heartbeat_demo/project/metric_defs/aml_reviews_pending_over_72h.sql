-- name: AML reviews pending over 72 hours
-- period: snapshot
-- unit: reviews
-- direction: lower_is_better
-- sources: aml
-- norm: 10
-- alert: 30
-- owner: compliance@example.com
-- team: compliance
-- tags: aml, backlog
-- description: AML reviews opened more than 72 hours before the as-of moment and still not reviewed.
-- how_to_read: Normally a handful. These are past the internal three-day service level; the detail
--   names the reviewer each one is assigned to.
-- methodology: aml.aml_retrospective rows created more than 72 hours before the as-of moment with
--   reviewed_at empty or after it.

-- @value
SELECT count(*) AS value
FROM aml.aml_retrospective a
WHERE a.created_at < heartbeat.as_of() - interval '72 hours'
  AND (a.reviewed_at IS NULL OR a.reviewed_at >= heartbeat.as_of());

-- @detail
SELECT a.reviewer, a.reason, count(*) AS pending, min(a.created_at) AS oldest_created_at
FROM aml.aml_retrospective a
WHERE a.created_at < heartbeat.as_of() - interval '72 hours'
  AND (a.reviewed_at IS NULL OR a.reviewed_at >= heartbeat.as_of())
GROUP BY a.reviewer, a.reason
ORDER BY pending DESC;

-- @segments
SELECT 'reviewer' AS dimension, a.reviewer AS segment, count(*) AS value, count(*) AS weight
FROM aml.aml_retrospective a
WHERE a.created_at < heartbeat.as_of() - interval '72 hours'
  AND (a.reviewed_at IS NULL OR a.reviewed_at >= heartbeat.as_of())
GROUP BY a.reviewer;

-- @history
-- Every past day's end at once: a review counts at the end of day d when it was created more than 72 hours
-- before and not reviewed by then: +1 when it starts to count, −1 when it stops
-- (shared_sql/open_items_by_day).
WITH moves AS (
    SELECT a.created_at + interval '72 hours' AS at, 1 AS delta
    FROM aml.aml_retrospective a
    UNION ALL
    SELECT greatest(a.created_at + interval '72 hours', a.reviewed_at), -1
    FROM aml.aml_retrospective a
    WHERE a.reviewed_at IS NOT NULL
),
-- @include open_items_by_day
;
