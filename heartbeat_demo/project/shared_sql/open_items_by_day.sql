-- description: Every past day's value of an open-items count at once (an @history body): after a CTE
--   `moves (at, delta)` giving +1 at the moment an item starts to count and −1 at the moment it stops
--   (whichever is later), the value at the end of business day d is the running sum of the deltas of every
--   moment before it — per-day sums, one pass over the table instead of one statement per day.
per_day AS (
    SELECT (m.at)::date AS day, sum(m.delta) AS delta
    FROM moves m
    WHERE m.at < date_trunc('day', heartbeat.as_of())
    GROUP BY 1
), days AS (
    SELECT g::date AS day
    FROM generate_series(heartbeat.history_from(), date_trunc('day', heartbeat.as_of())::date - 1, interval '1 day') AS g
)
SELECT days.day AS as_of_date,
       (SELECT coalesce(sum(p.delta), 0) FROM per_day p WHERE p.day < heartbeat.history_from())
       + sum(coalesce(p.delta, 0)) OVER (ORDER BY days.day) AS value
FROM days
LEFT JOIN per_day p ON p.day = days.day
