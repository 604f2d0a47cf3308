-- name: AML review backlog
-- period: snapshot
-- unit: reviews
-- direction: lower_is_better
-- sources: aml
-- norm: 100
-- alert: 200
-- owner: compliance@example.com
-- team: compliance
-- tags: aml, backlog
-- typical: rolling_stat
-- typical_window: 28
-- typical_robust: true
-- z_amber: 2
-- z_red: 3
-- description: AML retrospective reviews opened and not yet reviewed at the as-of moment.
-- how_to_read: Steady around 50-70 at demo scale when reviewers keep up (lines tuned for scale 1). A
--   backlog that grows day after day is a regulatory exposure; the detail shows whose queue is growing.
-- methodology: aml.aml_retrospective rows with created_at before the as-of moment and reviewed_at empty
--   or after it.

-- @value
SELECT count(*) AS value
FROM aml.aml_retrospective a
WHERE a.created_at < heartbeat.as_of()
  AND (a.reviewed_at IS NULL OR a.reviewed_at >= heartbeat.as_of());

-- @detail
SELECT a.reviewer, count(*) AS pending,
       count(*) FILTER (WHERE a.created_at < heartbeat.as_of() - interval '72 hours') AS pending_over_72h,
       min(a.created_at) AS oldest_created_at
FROM aml.aml_retrospective a
WHERE a.created_at < heartbeat.as_of()
  AND (a.reviewed_at IS NULL OR a.reviewed_at >= heartbeat.as_of())
GROUP BY a.reviewer
ORDER BY pending DESC;

-- @segments
SELECT 'reviewer' AS dimension, a.reviewer AS segment, count(*) AS value, count(*) AS weight
FROM aml.aml_retrospective a
WHERE a.created_at < heartbeat.as_of()
  AND (a.reviewed_at IS NULL OR a.reviewed_at >= heartbeat.as_of())
GROUP BY a.reviewer;

-- @history
-- Every past day's end at once: a review counts at the end of day d when it was created before and not
-- reviewed by then: +1 when it starts to count, −1 when it stops (shared_sql/aml_open_reviews_by_day).
WITH
-- @include aml_open_reviews_by_day
;
