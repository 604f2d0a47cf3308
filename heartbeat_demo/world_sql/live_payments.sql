-- New payments
WITH w AS (SELECT *, floor(1800 * per_unit + demo_gen.u(tick, 90))::bigint AS n,
                  (SELECT coalesce(max(id), 0) FROM webbank.payment) AS base,
                  (SELECT count(*) FROM demo_gen.approved) AS k FROM demo_gen.live_window),
raw AS MATERIALIZED (
    SELECT w.base + g AS id, w.t0 + ((g - 1 + demo_gen.u(w.base + g, 20)) / w.n) * (w.t1 - w.t0) AS create_time,
           1 + floor(w.k * power(demo_gen.u(w.base + g, 21), 1.3))::bigint AS rk
    FROM w, generate_series(1, w.n) AS g WHERE w.k > 0),
typed AS MATERIALIZED (
    SELECT r.id, r.create_time, a.id AS sender, a.tier,
           CASE WHEN demo_gen.u(r.id, 30) < 0.55 THEN 1 WHEN demo_gen.u(r.id, 30) < 0.9 THEN 2 ELSE 3 END::smallint AS type_id,
           CASE WHEN demo_gen.u(r.id, 30) >= 0.9 THEN 'EUR' ELSE demo_gen.pick({pay_currencies}::text[], r.id, 32) END AS currency
    FROM raw r JOIN demo_gen.approved a ON a.rk = r.rk)
INSERT INTO webbank.payment
SELECT t.id, t.sender, t.type_id, CASE t.type_id WHEN 1 THEN 'outgoing' WHEN 2 THEN 'incoming' ELSE 'internal' END,
       round((exp(ln(80) + 1.1 * demo_gen.n(t.id, 39))
              * CASE t.tier WHEN 'top' THEN 25 WHEN 'business' THEN 8 WHEN 'premium' THEN 2.5 ELSE 1 END / b.rate)::numeric, 2),
       t.currency, 1, 'created', CASE WHEN demo_gen.u(t.id, 40) < 0.7 THEN 'INV-' || (t.id % 100000) END,
       t.create_time, t.create_time
FROM typed t JOIN demo_gen.base_rate b ON b.currency = t.currency;
INSERT INTO webbank.payment_state_log
SELECT p.id * 4, p.id, 1, p.create_time FROM webbank.payment p
WHERE p.create_time > (SELECT t0 FROM demo_gen.live_window) AND p.state_id = 1
ON CONFLICT DO NOTHING;
