-- name: Payment state changes per day and state
-- description: Per business day of webbank.payment_state_log.timestamp and state: how many payments reached
--   that state. A handful of rows a day: the failure rate of a week reads a week of counts instead of a week
--   of state-log rows, and its 90-day backfill each day's week of them. The log is append-only (a row never
--   changes), so its id is the change cursor.
-- table: webbank.payment_state_log
-- cursor: id
-- time: timestamp

SELECT l."timestamp"::date AS day, l.state_id, count(*) AS payments
FROM webbank.payment_state_log l
WHERE l."timestamp" >= heartbeat.rollup_from() AND l."timestamp" < heartbeat.rollup_to()
GROUP BY 1, 2
