-- name: Largest daily currency move
-- period: snapshot
-- unit: pct
-- direction: lower_is_better
-- sources: currency_rates
-- norm: 2
-- alert: 4
-- owner: treasury@example.com
-- team: treasury
-- tags: fx
-- description: The largest day-over-day change of any currency's rate to EUR in the latest rate file.
-- how_to_read: Usually under 1%. A big move is either real market stress (check open FX positions)
--   or a bad rate in the file (check before anything converts with it).
-- methodology: From currency_rates.rates, the latest rate date not after the as-of day and the day before
--   it; per currency |rate / previous rate - 1|, the maximum, in percent.

-- @value
WITH last_day AS (
    SELECT max(r.date::date) AS day FROM currency_rates.rates r WHERE r.date::date <= heartbeat.as_of()::date
), pairs AS (
    SELECT r.currency,
           max(r.rate_to_eur::numeric) FILTER (WHERE r.date::date = last_day.day) AS rate,
           max(r.rate_to_eur::numeric) FILTER (WHERE r.date::date = last_day.day - 1) AS previous
    FROM currency_rates.rates r
    CROSS JOIN last_day
    WHERE r.date::date BETWEEN last_day.day - 1 AND last_day.day
    GROUP BY r.currency
)
SELECT round(max(abs(pairs.rate / pairs.previous - 1)) * 100, 3) AS value
FROM pairs
WHERE pairs.previous > 0;

-- @detail
WITH last_day AS (
    SELECT max(r.date::date) AS day FROM currency_rates.rates r WHERE r.date::date <= heartbeat.as_of()::date
), pairs AS (
    SELECT r.currency, last_day.day,
           max(r.rate_to_eur::numeric) FILTER (WHERE r.date::date = last_day.day) AS rate,
           max(r.rate_to_eur::numeric) FILTER (WHERE r.date::date = last_day.day - 1) AS previous
    FROM currency_rates.rates r
    CROSS JOIN last_day
    WHERE r.date::date BETWEEN last_day.day - 1 AND last_day.day
    GROUP BY r.currency, last_day.day
)
SELECT pairs.currency, pairs.day AS rate_date, pairs.rate, pairs.previous,
       round((pairs.rate / pairs.previous - 1) * 100, 3) AS move_pct
FROM pairs
WHERE pairs.previous > 0
ORDER BY abs(pairs.rate / pairs.previous - 1) DESC;
