-- name: Payments per day and sender
-- description: Per business day of webbank.payment.create_time and sending client: payments created. Read by
--   the onboarding funnel (which clients of a cohort have paid).
-- table: webbank.payment
-- cursor: updated_at
-- time: create_time

SELECT p.create_time::date AS day,
       p.sender_profile_id,
       count(*) AS payments
FROM webbank.payment p
WHERE p.create_time >= heartbeat.rollup_from() AND p.create_time < heartbeat.rollup_to()
GROUP BY 1, 2
