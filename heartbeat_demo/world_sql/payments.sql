-- Payments created on history days [first_day, last_day], with their state log and ledger entries,
-- in one statement (writable CTEs), so day ranges can be generated side by side.
-- Parameters: first_day, last_day, pay_currencies.
WITH per_day AS (
    SELECT day.d, day_start, greatest(1, round(1800 * scale * growth * weekly * (1 + 0.06 * demo_gen.n(day.d, 3))))::bigint AS n,
           greatest(dc.k, 1) AS k
    FROM demo_gen.day JOIN demo_gen.day_clients dc ON dc.d = day.d),
offs AS MATERIALIZED (SELECT *, (sum(n) OVER (ORDER BY d) - n)::bigint AS off FROM per_day),
raw AS MATERIALIZED (
    SELECT off + g AS id, day_start + demo_gen.intraday(g, n, off + g, 20) AS create_time,
           1 + floor(k * power(demo_gen.u(off + g, 21), 1.3))::bigint AS rk
    FROM offs, generate_series(1, n) AS g
    WHERE offs.d BETWEEN {first_day} AND {last_day}),
typed AS MATERIALIZED (
    SELECT r.id, r.create_time, a.id AS sender, a.tier,
           CASE WHEN demo_gen.u(r.id, 30) < 0.55 THEN 1 WHEN demo_gen.u(r.id, 30) < 0.9 THEN 2 ELSE 3 END::smallint AS type_id,
           CASE WHEN demo_gen.u(r.id, 30) >= 0.9 THEN 'EUR' ELSE demo_gen.pick({pay_currencies}::text[], r.id, 32) END AS currency
    FROM raw r JOIN demo_gen.approved a ON a.rk = r.rk
    WHERE r.create_time <= demo_gen.now()),
life AS MATERIALIZED (
    SELECT t.*,
           CASE WHEN type_id = 1 THEN demo_gen.pay_decided_at(id, create_time) END AS decided_at,
           type_id = 1 AND demo_gen.pay_rejected(id, create_time, currency) AS rejected,
           demo_gen.pay_done_at(id, create_time, type_id) AS done_at,
           demo_gen.pay_failed(id) AS failed
    FROM typed t),
st AS (
    SELECT l.*, CASE
        WHEN type_id = 1 AND decided_at > demo_gen.now() THEN 1
        WHEN rejected THEN 3
        WHEN done_at > demo_gen.now() THEN CASE WHEN type_id = 1 THEN 2 ELSE 1 END
        WHEN failed THEN 5 ELSE 4 END::smallint AS state_id
    FROM life l),
pay AS (
INSERT INTO webbank.payment
SELECT id, sender, type_id,
       CASE type_id WHEN 1 THEN 'outgoing' WHEN 2 THEN 'incoming' ELSE 'internal' END,
       round((exp(ln(80) + 1.1 * demo_gen.n(id, 39))
              * CASE tier WHEN 'top' THEN 25 WHEN 'business' THEN 8 WHEN 'premium' THEN 2.5 ELSE 1 END
              / b.rate)::numeric, 2),
       st.currency, state_id,
       (ARRAY['created', 'approved', 'rejected', 'completed', 'failed'])[state_id],
       CASE WHEN demo_gen.u(id, 40) < 0.7 THEN 'INV-' || (id % 100000) END,
       create_time,
       CASE state_id WHEN 1 THEN create_time WHEN 2 THEN decided_at WHEN 3 THEN decided_at ELSE done_at END
FROM st JOIN demo_gen.base_rate b ON b.currency = st.currency
RETURNING *),
log AS (
INSERT INTO webbank.payment_state_log
SELECT p.id * 4 + s.slot, p.id, s.state_id, s.ts
FROM pay p
CROSS JOIN LATERAL (VALUES
    (0, 1::smallint, p.create_time),
    (1, CASE WHEN p.state_id = 3 THEN 3 ELSE 2 END::smallint,
        CASE WHEN p.type_id = 1 AND p.state_id <> 1 THEN demo_gen.pay_decided_at(p.id, p.create_time) END),
    (2, p.state_id, CASE WHEN p.state_id IN (4, 5) THEN p.updated_at END)) AS s(slot, state_id, ts)
WHERE s.ts IS NOT NULL)
INSERT INTO webbank.entry
SELECT id, id, sender_profile_id,
       CASE WHEN reversed_at <= demo_gen.now() THEN 3 ELSE 2 END::smallint,
       amount_eur,
       CASE WHEN type_id = 1 THEN round((0.9 + least(0.003 * amount_eur, 40)
                                         + CASE WHEN currency <> 'EUR' THEN least(0.006 * amount_eur, 60) ELSE 0 END)::numeric, 2)
            WHEN type_id = 2 AND currency <> 'EUR' THEN round(least(0.004 * amount_eur, 30)::numeric, 2)
            ELSE 0 END,
       CASE WHEN type_id = 1 AND currency = 'EUR' THEN 'sepa_transfer' WHEN type_id = 1 THEN 'swift_transfer'
            WHEN type_id = 2 THEN 'incoming_transfer' ELSE 'internal_transfer' END,
       updated_at,
       CASE WHEN reversed_at <= demo_gen.now() THEN reversed_at ELSE updated_at END
FROM (
    SELECT p.*, round((p.amount * b.rate)::numeric, 2) AS amount_eur,
           CASE WHEN demo_gen.u(p.id, 41) < 0.003 THEN p.updated_at + demo_gen.u(p.id, 42) * interval '5 days' END AS reversed_at
    FROM pay p JOIN demo_gen.base_rate b ON b.currency = p.currency
    WHERE p.state_id = 4) AS x;
