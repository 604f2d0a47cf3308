-- One row per calendar day (UTC) of the history: growth, weekly seasonality and daily noise.
-- Parameters: history_days, scale. `history_days.0` keeps the growth term numeric, as it always was.
CREATE UNLOGGED TABLE demo_gen.day AS
SELECT d,
       (demo_gen.now()::date - {history_days} + d) AS day,
       ((demo_gen.now()::date - {history_days} + d)::timestamp AT TIME ZONE 'UTC') AS day_start,
       (0.75 + 0.5 * d / {history_days}.0) AS growth,
       CASE extract(isodow FROM demo_gen.now()::date - {history_days} + d)
           WHEN 1 THEN 1.08 WHEN 5 THEN 1.04 WHEN 6 THEN 0.62 WHEN 7 THEN 0.52 ELSE 1.0 END AS weekly,
       {scale} AS scale
FROM generate_series(0, {history_days}) AS d;
