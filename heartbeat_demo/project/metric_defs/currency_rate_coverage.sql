-- name: Currency-rate coverage
-- period: snapshot
-- unit: rates
-- direction: higher_is_better
-- sources: currency_rates
-- norm: 9.5
-- alert: 8
-- owner: treasury@example.com
-- team: treasury
-- tags: fx, data-quality
-- description: Currencies with a daily rate to EUR dated within the 7 days before the as-of day (of 10 expected).
-- how_to_read: Should be 10. Fewer means a currency dropped out of the rate files and conversions of it
--   use an old rate. The freshness chip, not this number, tells whether the files still arrive.
-- methodology: Distinct currency in currency_rates.rates with date in the 7 days up to the as-of day.

-- @value
SELECT count(DISTINCT r.currency) AS value
FROM currency_rates.rates r
WHERE r.date::date > heartbeat.as_of()::date - 7 AND r.date::date <= heartbeat.as_of()::date;

-- @detail
SELECT r.currency, max(r.date::date) AS latest_rate_date, count(*) AS rates_in_7_days
FROM currency_rates.rates r
WHERE r.date::date > heartbeat.as_of()::date - 7 AND r.date::date <= heartbeat.as_of()::date
GROUP BY r.currency
ORDER BY r.currency;
