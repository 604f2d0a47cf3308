-- The live window (start, now] and the approved clients by rank. Parameters: start, scale.
CREATE UNLOGGED TABLE demo_gen.live_window AS
SELECT {start} AS t0, demo_gen.now() AS t1,
       extract(epoch FROM demo_gen.now() - {start}) / 86400.0 * {scale} * 1.25
       * CASE extract(isodow FROM demo_gen.now()) WHEN 1 THEN 1.08 WHEN 5 THEN 1.04 WHEN 6 THEN 0.62 WHEN 7 THEN 0.52 ELSE 1.0 END
       * (1 - 0.8 * cos(2 * pi() * extract(epoch FROM demo_gen.now() - date_trunc('day', demo_gen.now())) / 86400.0)) AS per_unit,
       extract(epoch FROM demo_gen.now() - {start}) / 86400.0 * {scale} * 1.25 AS flat,
       extract(epoch FROM demo_gen.now())::bigint AS tick;
CREATE UNLOGGED TABLE demo_gen.approved AS
SELECT row_number() OVER (ORDER BY c.id) AS rk, c.id, c.tier FROM webbank.client_profile c WHERE c.state = 'approved';
CREATE UNIQUE INDEX ON demo_gen.approved (rk);
