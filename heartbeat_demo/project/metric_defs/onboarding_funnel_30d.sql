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
-- Every past day's end at once, as running sums (shared_sql/open_items_by_day's method), not a range join of
-- days and clients. At as-of A a client is in the cohort for A in (sign-up, sign-up + 30 days], and has paid
-- when a payment lies in [A − 30 days, A): its first payment since sign-up is before A (A past
-- greatest(sign-up, first)), or its last one before sign-up (if any) is no older than A − 30 days (A up to
-- that payment + 30 days) — the same set as @value's EXISTS, for any order of sign-up and payments. Each
-- span (from, to] adds 1 at `from` and takes it back at `to`; paid counts either span, less their overlap.
WITH signups AS (
    SELECT c.id, c.created_at
    FROM webbank.client_profile c
    WHERE c.created_at >= (heartbeat.history_from() + 1)::timestamptz - interval '30 days'
      AND c.created_at < date_trunc('day', heartbeat.as_of())
), clients AS (
    -- payments older than the first day's window or from today on cannot change any day's answer
    SELECT s.created_at, s.created_at + interval '30 days' AS cohort_to,
           min(p.create_time) FILTER (WHERE p.create_time >= s.created_at) AS first_after,
           max(p.create_time) FILTER (WHERE p.create_time < s.created_at) AS last_before
    FROM signups s
    LEFT JOIN webbank.payment p
        ON p.sender_profile_id = s.id
       AND p.create_time >= (heartbeat.history_from() + 1)::timestamptz - interval '30 days'
       AND p.create_time < date_trunc('day', heartbeat.as_of())
    GROUP BY s.id, s.created_at
), spans AS (
    SELECT c.created_at AS from_at, c.cohort_to AS to_at, 1 AS cohort, 0 AS paid
    FROM clients c
    UNION ALL
    SELECT greatest(c.created_at, c.first_after), c.cohort_to, 0, 1
    FROM clients c
    WHERE c.first_after IS NOT NULL
    UNION ALL
    SELECT c.created_at, least(c.cohort_to, c.last_before + interval '30 days'), 0, 1
    FROM clients c
    WHERE c.last_before IS NOT NULL
    UNION ALL
    SELECT greatest(c.created_at, c.first_after), least(c.cohort_to, c.last_before + interval '30 days'), 0, -1
    FROM clients c
    WHERE c.first_after IS NOT NULL AND c.last_before IS NOT NULL
), moves AS (
    SELECT s.from_at AS at, s.cohort, s.paid
    FROM spans s
    UNION ALL
    SELECT greatest(s.from_at, s.to_at), -s.cohort, -s.paid  -- an empty span adds nothing
    FROM spans s
), per_day AS (
    SELECT (m.at)::date AS day, sum(m.cohort) AS cohort, sum(m.paid) AS paid
    FROM moves m
    WHERE m.at < date_trunc('day', heartbeat.as_of())
    GROUP BY 1
), running AS (
    SELECT g::date AS day,
           sum(coalesce(p.cohort, 0)) OVER (ORDER BY g) AS cohort,
           sum(coalesce(p.paid, 0)) OVER (ORDER BY g) AS paid
    FROM generate_series(heartbeat.history_from() - 30, date_trunc('day', heartbeat.as_of())::date - 1,
                         interval '1 day') AS g
    LEFT JOIN per_day p ON p.day = g::date
)
SELECT r.day AS as_of_date, round(100.0 * r.paid / nullif(r.cohort, 0), 2) AS value
FROM running r
WHERE r.day >= heartbeat.history_from();

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
