-- name: Collateral invoices paid on time, 30 days
-- period: 30d
-- unit: pct
-- direction: higher_is_better
-- sources: card_management
-- norm: 78
-- alert: 70
-- owner: finance@example.com
-- team: finance
-- tags: cards, credit-risk
-- description: Share of collateral invoices due in the last 30 days that were paid by their due date.
-- how_to_read: Around 85%; most late payers settle within a few weeks. A falling share is the early
--   warning before clients show up as overdue.
-- methodology: card_management.collateral_invoice rows with due_date in the 30 days before the as-of
--   moment; those with paid_at before the end of the due date (and before the as-of moment) over all.

-- @value
SELECT round(100.0 * count(*) FILTER (WHERE ci.paid_at < ci.due_date + 1 AND ci.paid_at < heartbeat.as_of())
             / nullif(count(*), 0), 2) AS value
FROM card_management.collateral_invoice ci
WHERE ci.due_date >= heartbeat.window_start('30d') AND ci.due_date < heartbeat.as_of();
