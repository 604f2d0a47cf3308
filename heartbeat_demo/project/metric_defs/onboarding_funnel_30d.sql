-- name: Onboarding funnel to first payment, 30 days
-- period: funnel
-- unit: pct
-- direction: higher_is_better
-- sources: webbank, card_management
-- norm: 50
-- alert: 40
-- owner: growth@example.com
-- team: growth
-- tags: onboarding, funnel
-- description: Of the clients who signed up in the last 30 days, the share who have already made a payment.
-- how_to_read: The end of the funnel sign-up → approved → card issued → first payment. The detail shows
--   every step, so a drop can be placed: KYC (approved), cards (issued) or activation (paid).
-- methodology: Cohort = webbank.client_profile created in the 30 days before the as-of moment. Approved =
--   an 'approved' state-log row before the as-of moment; card = a card_management.card issued before it;
--   paid = a webbank.payment sent by the client before it. Each step is a LEFT JOIN of a grouped set.
--   Paid is one index probe per cohort client into webbank.payment (sender_profile_id, create_time).

-- @value
-- Paid: one index probe per cohort client into its payments (sender, create_time) — a cohort is a month of
-- sign-ups, far fewer than a month of payments.
WITH cohort AS (
    SELECT c.id
    FROM webbank.client_profile c
    WHERE c.created_at >= heartbeat.window_start('funnel') AND c.created_at < heartbeat.as_of()
)
SELECT round(100.0 * count(*) FILTER (WHERE EXISTS (
           SELECT 1
           FROM webbank.payment p
           WHERE p.sender_profile_id = cohort.id
             AND p.create_time >= heartbeat.window_start('funnel') AND p.create_time < heartbeat.as_of()
       )) / nullif(count(*), 0), 2) AS value
FROM cohort;

-- @detail
WITH cohort AS (
    SELECT c.id
    FROM webbank.client_profile c
    WHERE c.created_at >= heartbeat.window_start('funnel') AND c.created_at < heartbeat.as_of()
), approved AS (
    SELECT DISTINCT l.client_profile_id AS client_id
    FROM webbank.client_profile_state_log l
    WHERE l.profile_state = 'approved'
      AND l."timestamp" >= heartbeat.window_start('funnel') AND l."timestamp" < heartbeat.as_of()
), carded AS (
    SELECT DISTINCT cd.client_profile_id AS client_id
    FROM card_management.card cd
    WHERE cd.issued_at >= heartbeat.window_start('funnel') AND cd.issued_at < heartbeat.as_of()
), paid AS (
    SELECT cohort.id AS client_id
    FROM cohort
    WHERE EXISTS (
        SELECT 1
        FROM webbank.payment p
        WHERE p.sender_profile_id = cohort.id
          AND p.create_time >= heartbeat.window_start('funnel') AND p.create_time < heartbeat.as_of()
    )
), counts AS (
    SELECT count(*) AS signed_up, count(a.client_id) AS approved, count(cd.client_id) AS card_issued,
           count(pd.client_id) AS first_payment
    FROM cohort
    LEFT JOIN approved a ON a.client_id = cohort.id
    LEFT JOIN carded cd ON cd.client_id = cohort.id
    LEFT JOIN paid pd ON pd.client_id = cohort.id
)
SELECT s.step, s.clients, round(100.0 * s.clients / nullif(counts.signed_up, 0), 1) AS pct_of_signups
FROM counts
CROSS JOIN LATERAL (VALUES (1, 'signed up', counts.signed_up), (2, 'approved', counts.approved),
                           (3, 'card issued', counts.card_issued), (4, 'first payment', counts.first_payment))
    AS s(n, step, clients)
ORDER BY s.n;

-- @history
-- Every past day's end at once. Each client is probed twice, not once per day: paid at the end of day d
-- (as-of A) means a payment in [A − 30 days, A), that is its first payment since sign-up before A, or its
-- last one before sign-up (if any) no older than A − 30 days — the same set as @value's EXISTS, for any
-- order of sign-up and payments.
WITH days AS (
    SELECT g::date AS day, (g::date + 1)::timestamptz AS as_of
    FROM generate_series(heartbeat.history_from(), date_trunc('day', heartbeat.as_of())::date - 1, interval '1 day') AS g
), cohort AS (
    SELECT c.id, c.created_at,
           (SELECT min(p.create_time) FROM webbank.payment p
            WHERE p.sender_profile_id = c.id AND p.create_time >= c.created_at) AS first_after,
           (SELECT max(p.create_time) FROM webbank.payment p
            WHERE p.sender_profile_id = c.id AND p.create_time < c.created_at) AS last_before
    FROM webbank.client_profile c
    WHERE c.created_at >= (heartbeat.history_from() + 1)::timestamptz - interval '30 days'
      AND c.created_at < date_trunc('day', heartbeat.as_of())
)
SELECT d.day AS as_of_date,
       round(100.0 * count(c.id) FILTER (WHERE c.first_after < d.as_of
                                            OR c.last_before >= d.as_of - interval '30 days')
             / nullif(count(c.id), 0), 2) AS value
FROM days d
LEFT JOIN cohort c ON c.created_at >= d.as_of - interval '30 days' AND c.created_at < d.as_of
GROUP BY d.day;

-- @detail[clickhouse]
-- ClickHouse has no LATERAL join: the four steps are one row each through ARRAY JOIN.
WITH cohort AS (
    SELECT c.id
    FROM webbank.client_profile AS c
    WHERE c.created_at >= heartbeat.window_start('funnel') AND c.created_at < heartbeat.as_of()
), approved AS (
    SELECT DISTINCT l.client_profile_id AS client_id
    FROM webbank.client_profile_state_log AS l
    WHERE l.profile_state = 'approved'
      AND l.`timestamp` >= heartbeat.window_start('funnel') AND l.`timestamp` < heartbeat.as_of()
), carded AS (
    SELECT DISTINCT cd.client_profile_id AS client_id
    FROM card_management.card AS cd
    WHERE cd.issued_at >= heartbeat.window_start('funnel') AND cd.issued_at < heartbeat.as_of()
), paid AS (
    SELECT DISTINCT p.sender_profile_id AS client_id
    FROM webbank.payment AS p
    JOIN cohort ON cohort.id = p.sender_profile_id
    WHERE p.create_time >= heartbeat.window_start('funnel') AND p.create_time < heartbeat.as_of()
), counts AS (
    SELECT count(*) AS signed_up, count(a.client_id) AS approved, count(cd.client_id) AS card_issued,
           count(pd.client_id) AS first_payment
    FROM cohort
    LEFT JOIN approved AS a ON a.client_id = cohort.id
    LEFT JOIN carded AS cd ON cd.client_id = cohort.id
    LEFT JOIN paid AS pd ON pd.client_id = cohort.id
)
SELECT s.2 AS step, s.3 AS clients,
       round(toDecimal128(100 * s.3, 10) / nullIf(counts.signed_up, 0), 1) AS pct_of_signups
FROM counts
ARRAY JOIN [(1, 'signed up', counts.signed_up), (2, 'approved', counts.approved),
            (3, 'card issued', counts.card_issued), (4, 'first payment', counts.first_payment)] AS s
ORDER BY s.1;

-- @value[clickhouse]
-- ClickHouse runs no correlated EXISTS: the cohort's payers are one join, as in the @detail override.
WITH cohort AS (
    SELECT c.id
    FROM webbank.client_profile AS c
    WHERE c.created_at >= heartbeat.window_start('funnel') AND c.created_at < heartbeat.as_of()
), paid AS (
    SELECT DISTINCT p.sender_profile_id AS client_id
    FROM webbank.payment AS p
    JOIN cohort ON cohort.id = p.sender_profile_id
    WHERE p.create_time >= heartbeat.window_start('funnel') AND p.create_time < heartbeat.as_of()
)
SELECT round(toDecimal128(100 * count(paid.client_id), 10) / nullIf(count(*), 0), 2) AS value
FROM cohort
LEFT JOIN paid ON paid.client_id = cohort.id;
