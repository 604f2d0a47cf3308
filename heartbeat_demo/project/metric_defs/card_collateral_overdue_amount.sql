-- name: Overdue card collateral amount
-- period: snapshot
-- unit: money:EUR
-- direction: lower_is_better
-- sources: card_management, webbank
-- norm: 1000
-- alert: 10000
-- owner: finance@example.com
-- team: finance
-- tags: cards, credit-risk
-- entity: invoice:invoice_id
-- entity_label: client
-- entity_owner: client:client_id
-- entity_weight: amount
-- description: Total of MasterCard collateral invoices unpaid 30 or more days past their due date, in EUR.
-- how_to_read: Should be zero; this is money we are covering for clients' card spending. The detail
--   lists every overdue invoice with its client and month.
-- methodology: Sum of card_management.collateral_invoice.amount (all invoices are in EUR) over invoices
--   issued before the as-of moment, not paid by it, with due_date more than 30 days before it.

-- @value
SELECT coalesce(sum(ci.amount), 0) AS value
FROM card_management.collateral_invoice ci
WHERE ci.issued_at < heartbeat.as_of()
  AND (ci.paid_at IS NULL OR ci.paid_at >= heartbeat.as_of())
  AND ci.due_date < heartbeat.as_of() - interval '30 days';

-- @detail
SELECT c.name AS client, ci.client_profile_id AS client_id, ci.id AS invoice_id,
       to_char(ci.issued_at, 'Mon YYYY') AS month, ci.due_date, ci.amount, ci.currency,
       (heartbeat.as_of()::date - ci.due_date) AS days_overdue
FROM card_management.collateral_invoice ci
LEFT JOIN webbank.client_profile c ON c.id = ci.client_profile_id
WHERE ci.issued_at < heartbeat.as_of()
  AND (ci.paid_at IS NULL OR ci.paid_at >= heartbeat.as_of())
  AND ci.due_date < heartbeat.as_of() - interval '30 days'
ORDER BY ci.due_date, ci.amount DESC;
