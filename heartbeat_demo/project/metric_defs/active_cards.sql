-- name: Active cards
-- period: snapshot
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
-- description: Cards issued and not blocked at the as-of moment.
-- how_to_read: Grows with the client base; a step down means a batch of cards was blocked.
-- methodology: card_management.card rows issued before the as-of moment, except those whose status is
--   'blocked' with the block (updated_at) before it.

-- @value
SELECT count(*) AS value
FROM card_management.card cd
WHERE cd.issued_at < heartbeat.as_of()
  AND NOT (cd.status = 'blocked' AND cd.updated_at < heartbeat.as_of());

-- @detail
SELECT cd.scheme, count(*) AS active_cards
FROM card_management.card cd
WHERE cd.issued_at < heartbeat.as_of()
  AND NOT (cd.status = 'blocked' AND cd.updated_at < heartbeat.as_of())
GROUP BY cd.scheme;
