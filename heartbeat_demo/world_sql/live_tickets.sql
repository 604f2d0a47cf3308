-- New helpdesk tickets; due tickets get solved.
WITH w AS (SELECT *, floor(80 * per_unit + demo_gen.u(tick, 92))::bigint AS n,
                  (SELECT coalesce(max(id), 0) FROM helpdesk.ticket) AS base,
                  (SELECT count(*) FROM demo_gen.approved) AS k FROM demo_gen.live_window)
INSERT INTO helpdesk.ticket
SELECT w.base + g, a.id, demo_gen.pick({ticket_topics}::text[], w.base + g, 82),
       demo_gen.pick({ticket_priorities}::text[], w.base + g, 83),
       CASE WHEN demo_gen.u(w.base + g, 85) < 0.25 THEN 'pending' ELSE 'open' END,
       initcap(demo_gen.pick({ticket_topics}::text[], w.base + g, 82)) || ': question',
       w.t0 + ((g - 1 + demo_gen.u(w.base + g, 80)) / w.n) * (w.t1 - w.t0),
       w.t0 + ((g - 1 + demo_gen.u(w.base + g, 80)) / w.n) * (w.t1 - w.t0), NULL
FROM w CROSS JOIN generate_series(1, w.n) AS g
JOIN demo_gen.approved a ON a.rk = 1 + floor(w.k * demo_gen.u(w.base + g, 81))::bigint;
UPDATE helpdesk.ticket t SET status = 'solved', resolved_at = x.resolve_at, updated_at = x.resolve_at
FROM (SELECT id, created_at + least(exp(ln(CASE priority WHEN 'urgent' THEN 1.5 WHEN 'high' THEN 4 ELSE 7 END)
                                          + 0.9 * demo_gen.n(id, 84)), 600) * interval '1 hour' AS resolve_at
      FROM helpdesk.ticket WHERE resolved_at IS NULL) AS x
WHERE x.id = t.id AND x.resolve_at <= demo_gen.now();
