-- description: Every past day's count of open AML reviews at once (an @history body, rows (as_of_date,
--   value)): a review counts from its creation until it is reviewed — +1 and −1 moves summed by
--   open_items_by_day. Used by aml_review_backlog and aml_review_backlog_days.
moves AS (
    SELECT a.created_at AS at, 1 AS delta
    FROM aml.aml_retrospective a
    UNION ALL
    SELECT greatest(a.created_at, a.reviewed_at), -1
    FROM aml.aml_retrospective a
    WHERE a.reviewed_at IS NOT NULL
),
-- @include open_items_by_day
