-- name: Payment failure rate, 7 days
-- period: 7d
-- unit: pct
-- direction: lower_is_better
-- sources: webbank
-- norm: 1
-- alert: 2
-- owner: payments-ops@example.com
-- team: payments
-- tags: payments
-- description: Share of payments that failed after approval, among those that reached a final state in the last 7 days.
-- how_to_read: Normally well under 1%. Failures after approval are money that looked sent and was not:
--   each one is a support ticket and often a reversal.
-- methodology: webbank.payment_state_log rows with state_id 5 (failed) over rows with state_id 4
--   (completed) or 5, timestamped in the 7 days before the as-of moment, in percent.
--   Read through rollups/payment_state_day (whole days; today and the window's cut day from raw rows).

-- @value
SELECT round(100.0 * coalesce(sum(r.payments) FILTER (WHERE r.state_id = 5), 0) / nullif(sum(r.payments), 0), 3)
           AS value
FROM rollups.payment_state_day r
WHERE r.state_id IN (4, 5);
