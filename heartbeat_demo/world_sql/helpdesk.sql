-- Helpdesk tickets: ~80/day, resolved by priority. Parameters: ticket_topics, ticket_priorities.
CREATE UNLOGGED TABLE helpdesk.ticket (
    id bigint NOT NULL, client_profile_id bigint NOT NULL, topic text NOT NULL, priority text NOT NULL,
    status text NOT NULL, subject text NOT NULL, created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL,
    resolved_at timestamptz);
INSERT INTO helpdesk.ticket
WITH per_day AS (
    SELECT day.d, day_start, greatest(1, round(80 * scale * growth * (0.4 + 0.6 * weekly) * (1 + 0.08 * demo_gen.n(day.d, 6))))::bigint AS n,
           greatest(dc.k, 1) AS k
    FROM demo_gen.day JOIN demo_gen.day_clients dc ON dc.d = day.d),
offs AS MATERIALIZED (SELECT *, (sum(n) OVER (ORDER BY d) - n)::bigint AS off FROM per_day),
raw AS MATERIALIZED (
    SELECT off + g AS id, day_start + demo_gen.intraday(g, n, off + g, 80) AS created_at,
           1 + floor(k * demo_gen.u(off + g, 81))::bigint AS rk
    FROM offs, generate_series(1, n) AS g),
planned AS (
    SELECT r.id, a.id AS client_id, r.created_at,
           demo_gen.pick({ticket_topics}::text[], r.id, 82) AS topic,
           demo_gen.pick({ticket_priorities}::text[], r.id, 83) AS priority,
           demo_gen.u(r.id, 85) < 0.25 AS waiting
    FROM raw r JOIN demo_gen.approved a ON a.rk = r.rk
    WHERE r.created_at <= demo_gen.now()),
timed AS (
    SELECT p.*, p.created_at + least(exp(ln(CASE p.priority WHEN 'urgent' THEN 1.5 WHEN 'high' THEN 4 ELSE 7 END)
                                         + 0.9 * demo_gen.n(p.id, 84)), 600) * interval '1 hour' AS resolve_at
    FROM planned p)
SELECT id, client_id, topic, priority,
       CASE WHEN resolve_at <= demo_gen.now() - interval '3 days' THEN 'closed'
            WHEN resolve_at <= demo_gen.now() THEN 'solved' WHEN waiting THEN 'pending' ELSE 'open' END,
       initcap(topic) || ': ' || demo_gen.pick(ARRAY['question', 'problem', 'request', 'complaint']::text[], id, 86),
       created_at,
       CASE WHEN resolve_at <= demo_gen.now() - interval '3 days' THEN resolve_at + interval '3 days'
            WHEN resolve_at <= demo_gen.now() THEN resolve_at ELSE created_at END,
       CASE WHEN resolve_at <= demo_gen.now() THEN resolve_at END
FROM timed;
