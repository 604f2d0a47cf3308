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
--   The value read through rollups/entry_tier_day (fees per day and tier), the top clients through
--   rollups/entry_top_client_day (whole days; today and the window's cut day from raw rows).

-- @value
SELECT round(100.0 * sum(r.fee) FILTER (WHERE r.tier IN ('top', 'business')) / nullif(sum(r.fee), 0), 2) AS value
FROM rollups.entry_tier_day r
WHERE (r.reversed_at IS NULL OR r.reversed_at >= heartbeat.as_of());

-- @detail
-- The 20 top and business clients with the most fees in the window: their rows of the day × big client
-- rollup, summed per client, then named.
WITH per_client AS (
    SELECT r.client_profile_id, sum(r.fee) AS revenue_eur, sum(r.entries)::bigint AS entries
    FROM rollups.entry_top_client_day r
    WHERE r.reversed_at IS NULL OR r.reversed_at >= heartbeat.as_of()
    GROUP BY r.client_profile_id
    ORDER BY revenue_eur DESC
    LIMIT 20
)
SELECT c.name AS client, c.tier, c.country, p.revenue_eur, p.entries
FROM per_client p
JOIN webbank.client_profile c ON c.id = p.client_profile_id
ORDER BY p.revenue_eur DESC;
