-- name: Cards issued, 7 days
-- period: 7d
-- unit: cards
-- direction: higher_is_better
-- sources: card_management
-- owner: cards@example.com
-- team: cards
-- tags: cards
-- typical: rolling_stat
-- typical_window: 28
-- typical_robust: true
-- z_amber: 2
-- z_red: 3
-- description: Payment cards issued in the last 7 days, both schemes.
-- how_to_read: Follows approvals with a lag of a few days. A drop while approvals hold points at the
--   card processor or the issuing flow.
-- methodology: card_management.card rows with issued_at in the 7 days before the as-of moment.

-- @value
SELECT count(*) AS value
FROM card_management.card cd
WHERE cd.issued_at >= heartbeat.window_start('7d') AND cd.issued_at < heartbeat.as_of();

-- @detail
SELECT cd.scheme, count(*) AS issued
FROM card_management.card cd
WHERE cd.issued_at >= heartbeat.window_start('7d') AND cd.issued_at < heartbeat.as_of()
GROUP BY cd.scheme
ORDER BY issued DESC;
