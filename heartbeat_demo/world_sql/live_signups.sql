-- New sign-ups; due onboarding decisions get made.
WITH w AS (SELECT *, floor(35 * per_unit + demo_gen.u(tick, 93))::bigint AS n,
                  (SELECT coalesce(max(id), 0) FROM webbank.client_profile) AS base FROM demo_gen.live_window)
INSERT INTO webbank.client_profile
SELECT w.base + g, demo_gen.pick({first_names}::text[], w.base + g, 12) || ' ' || demo_gen.pick({last_names}::text[], w.base + g, 13),
       'client.' || (w.base + g) || '@example.com', demo_gen.pick({countries}::text[], w.base + g, 16),
       CASE WHEN demo_gen.u(w.base + g, 11) < 0.30 THEN 'premium' ELSE 'standard' END, 'pending',
       w.t0 + ((g - 1 + demo_gen.u(w.base + g, 10)) / w.n) * (w.t1 - w.t0),
       w.t0 + ((g - 1 + demo_gen.u(w.base + g, 10)) / w.n) * (w.t1 - w.t0)
FROM w, generate_series(1, w.n) AS g;
INSERT INTO webbank.client_profile_state_log
SELECT c.id * 4, c.id, 'submitted', c.created_at FROM webbank.client_profile c
WHERE c.created_at > (SELECT t0 FROM demo_gen.live_window)
ON CONFLICT DO NOTHING;
CREATE UNLOGGED TABLE demo_gen.decide AS
SELECT c.id, c.created_at + least(exp(ln(6) + 0.8 * demo_gen.n(c.id, 15)), 240) * interval '1 hour' AS decided_at,
       demo_gen.u(c.id, 17) < CASE WHEN c.tier IN ('business', 'top') THEN 0.76 ELSE 0.83 END AS approve
FROM webbank.client_profile c WHERE c.state = 'pending';
DELETE FROM demo_gen.decide WHERE decided_at > demo_gen.now();
INSERT INTO webbank.client_profile_state_log
SELECT id * 4 + 1, id, CASE WHEN approve THEN 'approved' ELSE 'rejected' END, decided_at FROM demo_gen.decide
ON CONFLICT DO NOTHING;
UPDATE webbank.client_profile c SET state = CASE WHEN d.approve THEN 'approved' ELSE 'rejected' END, updated_at = d.decided_at
FROM demo_gen.decide d WHERE d.id = c.id;
