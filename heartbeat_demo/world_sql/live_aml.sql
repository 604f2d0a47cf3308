-- New AML reviews; due reviews get done (except the stalled reviewers' queue).
WITH w AS (SELECT *, floor(50 * flat + demo_gen.u(tick, 91))::bigint AS n,
                  (SELECT coalesce(max(id), 0) FROM aml.aml_retrospective) AS base,
                  (SELECT count(*) FROM demo_gen.approved) AS k FROM demo_gen.live_window)
INSERT INTO aml.aml_retrospective
SELECT w.base + g, a.id, 'periodic_review', demo_gen.pick({aml_reviewers}::text[], w.base + g, 52),
       w.t0 + ((g - 1 + demo_gen.u(w.base + g, 50)) / w.n) * (w.t1 - w.t0), NULL, NULL,
       w.t0 + ((g - 1 + demo_gen.u(w.base + g, 50)) / w.n) * (w.t1 - w.t0)
FROM w CROSS JOIN generate_series(1, w.n) AS g
JOIN demo_gen.approved a ON a.rk = 1 + floor(w.k * demo_gen.u(w.base + g, 51))::bigint;
UPDATE aml.aml_retrospective a SET reviewed_at = x.review_at, updated_at = x.review_at,
    decision = CASE WHEN demo_gen.u(a.id, 55) < 0.9 THEN 'clear' WHEN demo_gen.u(a.id, 55) < 0.96 THEN 'request_info' ELSE 'escalate' END
FROM (SELECT id, created_at + least(exp(ln(20) + 0.5 * demo_gen.n(id, 53)), 200) * interval '1 hour' AS review_at
      FROM aml.aml_retrospective WHERE reviewed_at IS NULL) AS x
WHERE x.id = a.id AND x.review_at <= demo_gen.now() AND NOT a.reviewer = ANY({aml_stalled_reviewers}::text[]);
