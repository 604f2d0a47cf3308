-- name: Clients with overdue card collateral
-- period: snapshot
-- unit: clients
-- direction: lower_is_better
-- sources: card_management, webbank
-- alert: 1
-- owner: finance@example.com
-- team: finance
-- tags: cards, credit-risk
-- entity: client:client_id
-- entity_label: client
-- entity_weight: amount
-- entity_weight_unit: money:EUR
-- description: Clients with a MasterCard collateral invoice unpaid 30 or more days past its due date.
-- how_to_read: Should be zero. Any client here is spending on a card whose collateral we are covering
--   ourselves; the detail names the client, the unpaid months and the amount.
-- methodology: Distinct client_profile_id of card_management.collateral_invoice rows issued before the
--   as-of moment, not paid by it (paid_at empty or later), whose due_date is more than 30 days before it.

-- @value
SELECT count(DISTINCT ci.client_profile_id) AS value
FROM card_management.collateral_invoice ci
WHERE ci.issued_at < heartbeat.as_of()
  AND (ci.paid_at IS NULL OR ci.paid_at >= heartbeat.as_of())
  AND ci.due_date < heartbeat.as_of() - interval '30 days';

-- @detail
SELECT c.name AS client, ci.client_profile_id AS client_id, string_agg(DISTINCT cd.scheme, ', ') AS scheme, count(*) AS unpaid_invoices,
       string_agg(to_char(ci.issued_at, 'Mon YYYY'), ', ' ORDER BY ci.issued_at) AS unpaid_months,
       min(ci.due_date) AS overdue_since, sum(ci.amount) AS amount, min(ci.currency) AS currency
FROM card_management.collateral_invoice ci
JOIN card_management.card cd ON cd.id = ci.card_id
LEFT JOIN webbank.client_profile c ON c.id = ci.client_profile_id
WHERE ci.issued_at < heartbeat.as_of()
  AND (ci.paid_at IS NULL OR ci.paid_at >= heartbeat.as_of())
  AND ci.due_date < heartbeat.as_of() - interval '30 days'
GROUP BY c.name, ci.client_profile_id
ORDER BY amount DESC;

-- @detail[clickhouse]
-- ClickHouse's groupConcat keeps no order: the months are sorted by issue date through arraySort.
SELECT c.name AS client, ci.client_profile_id AS client_id,
       arrayStringConcat(arraySort(groupUniqArray(cd.scheme)), ', ') AS scheme, count(*) AS unpaid_invoices,
       arrayStringConcat(arrayMap(x -> x.2, arraySort(x -> x.1,
           groupArray((ci.issued_at, formatDateTime(ci.issued_at, '%b %Y'))))), ', ') AS unpaid_months,
       min(ci.due_date) AS overdue_since, sum(ci.amount) AS amount, min(ci.currency) AS currency
FROM card_management.collateral_invoice AS ci
JOIN card_management.card AS cd ON cd.id = ci.card_id
LEFT JOIN webbank.client_profile AS c ON c.id = ci.client_profile_id
WHERE ci.issued_at < heartbeat.as_of()
  AND (ci.paid_at IS NULL OR ci.paid_at >= heartbeat.as_of())
  AND ci.due_date < heartbeat.as_of() - INTERVAL 30 DAY
GROUP BY c.name, ci.client_profile_id
ORDER BY amount DESC;
