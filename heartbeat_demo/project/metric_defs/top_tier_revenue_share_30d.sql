-- name: Revenue share of top and business clients, 30 days
-- period: 30d
-- unit: pct
-- direction: higher_is_better
-- sources: webbank
-- owner: finance@example.com
-- team: finance
-- tags: revenue, top-tier
-- norm: 30
-- alert: 25
-- description: Share of the last 30 days' fee revenue paid by top-tier and business clients.
-- how_to_read: The commercial book's weight. A falling share means the high-value clients are moving
--   less money through us, even if retail growth hides it in total revenue.
-- methodology: Booked fees (webbank.entry, not reversed by the as-of moment) of the last 30 days
--   joined to webbank.client_profile.tier; fees of tiers 'top' and 'business' over all fees, in percent.
--   Read through rollups/entry_client_day (whole days; today and the window's cut day from raw rows).

-- @value
SELECT round(100.0 * sum(r.fee) FILTER (WHERE big.id IS NOT NULL) / nullif(sum(r.fee), 0), 2) AS value
FROM rollups.entry_client_day r
LEFT JOIN (
    SELECT c.id FROM webbank.client_profile c WHERE c.tier IN ('top', 'business')
) AS big ON big.id = r.client_profile_id
WHERE (r.reversed_at IS NULL OR r.reversed_at >= heartbeat.as_of());

-- @detail
SELECT c.name AS client, c.tier, c.country, sum(r.fee) AS revenue_eur, sum(r.entries)::bigint AS entries
FROM rollups.entry_client_day r
JOIN webbank.client_profile c ON c.id = r.client_profile_id AND c.tier IN ('top', 'business')
WHERE (r.reversed_at IS NULL OR r.reversed_at >= heartbeat.as_of())
GROUP BY c.id, c.name, c.tier, c.country
ORDER BY revenue_eur DESC
LIMIT 20;

-- @history
-- Every past day at once, from raw rows read once: a past day's window is whole days, so the ledger of the
-- backfilled days is summed per business day and reversal moment (big clients apart) in one pass, and each
-- day's value is its 30 days of those sums — not a month of per-client rows joined again for each day.
WITH big AS (
    SELECT c.id FROM webbank.client_profile c WHERE c.tier IN ('top', 'business')
), per_day AS (
    SELECT e.create_time::date AS day,
           CASE WHEN e.entry_state_id = 3 THEN e.updated_at END AS reversed_at,
           sum(e.fee) AS fee,
           sum(e.fee) FILTER (WHERE big.id IS NOT NULL) AS big_fee
    FROM webbank.entry e
    LEFT JOIN big ON big.id = e.client_profile_id
    WHERE e.create_time >= heartbeat.history_from() - interval '30 days'
      AND e.create_time < date_trunc('day', heartbeat.as_of())
    GROUP BY 1, 2
), days AS (
    SELECT DISTINCT p.day AS as_of_date, (p.day + 1)::timestamptz AS as_of
    FROM per_day p
    WHERE p.day >= heartbeat.history_from()
)
SELECT days.as_of_date, round(100.0 * sum(p.big_fee) / nullif(sum(p.fee), 0), 2) AS value
FROM days
JOIN per_day p ON p.day > days.as_of_date - 30 AND p.day <= days.as_of_date
WHERE p.reversed_at IS NULL OR p.reversed_at >= days.as_of
GROUP BY days.as_of_date;
