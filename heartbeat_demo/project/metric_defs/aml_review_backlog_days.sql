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

-- @history
-- Every past day's end at once: the open reviews as in aml_review_backlog's @history
-- (shared_sql/aml_open_reviews_by_day), over the reviews created in the day and the 27
-- before it (the 28 days before the day's end) / 28.
WITH open_items AS (
    WITH
    -- @include aml_open_reviews_by_day
), created_per_day AS (
    SELECT (a.created_at)::date AS day, count(*) AS created
    FROM aml.aml_retrospective a
    WHERE a.created_at >= (heartbeat.history_from() - 27)::timestamptz
      AND a.created_at < date_trunc('day', heartbeat.as_of())
    GROUP BY 1
), intake AS (
    -- the reviews created in each day and the 27 before it (a gap-free day series: 28 rows are 28 days)
    SELECT g::date AS day,
           sum(coalesce(c.created, 0)) OVER (ORDER BY g ROWS BETWEEN 27 PRECEDING AND CURRENT ROW) AS created
    FROM generate_series(heartbeat.history_from() - 27, date_trunc('day', heartbeat.as_of())::date - 1,
                         interval '1 day') AS g
    LEFT JOIN created_per_day c ON c.day = g::date
)
SELECT o.as_of_date, round(o.value / nullif(i.created / 28.0, 0), 2) AS value
FROM open_items o
JOIN intake i ON i.day = o.as_of_date;
