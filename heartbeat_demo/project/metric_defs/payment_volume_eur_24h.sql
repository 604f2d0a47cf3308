-- name: Payment volume in EUR, 24 hours
-- period: 24h
-- unit: money:EUR
-- direction: higher_is_better
-- sources: webbank, currency_rates
-- owner: treasury@example.com
-- team: treasury
-- tags: payments, fx
-- typical: rolling_stat
-- typical_window: 84
-- typical_seasonality: weekday
-- typical_min_points: 8
-- typical_robust: true
-- z_amber: 2
-- z_red: 3
-- description: Value of all payments created in the last 24 hours, converted to EUR at the latest known daily rate.
-- how_to_read: Treasury's liquidity view. It depends on the daily currency-rate files: when they stop
--   arriving the value still looks plausible (old rates are reused) but the freshness chip turns red.
-- methodology: webbank.payment amounts created in the window, each multiplied by rate_to_eur of its
--   currency from currency_rates.rates on the latest rate date not after the as-of day.

-- @value
WITH rate AS (
    SELECT DISTINCT ON (r.currency) r.currency, r.rate_to_eur::numeric AS rate_to_eur
    FROM currency_rates.rates r
    WHERE r.date::date <= heartbeat.as_of()::date
    ORDER BY r.currency, r.date::date DESC
)
SELECT round(coalesce(sum(p.amount * rate.rate_to_eur), 0), 2) AS value
FROM webbank.payment p
JOIN rate ON rate.currency = p.currency
WHERE p.create_time >= heartbeat.window_start('24h') AND p.create_time < heartbeat.as_of();

-- @detail
WITH rate AS (
    SELECT DISTINCT ON (r.currency) r.currency, r.rate_to_eur::numeric AS rate_to_eur, r.date::date AS rate_date
    FROM currency_rates.rates r
    WHERE r.date::date <= heartbeat.as_of()::date
    ORDER BY r.currency, r.date::date DESC
)
SELECT p.currency, rate.rate_date, rate.rate_to_eur, count(*) AS payments,
       sum(p.amount) AS amount, round(sum(p.amount * rate.rate_to_eur), 2) AS amount_eur
FROM webbank.payment p
JOIN rate ON rate.currency = p.currency
WHERE p.create_time >= heartbeat.window_start('24h') AND p.create_time < heartbeat.as_of()
GROUP BY p.currency, rate.rate_date, rate.rate_to_eur
ORDER BY amount_eur DESC;
