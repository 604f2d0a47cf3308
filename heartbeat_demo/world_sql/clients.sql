-- Parameters: pre (clients before the history), acme, acme_name, and the word lists.
-- Clients: {pre} signed up in the three years before the history, then ~35/day growing.
CREATE UNLOGGED TABLE demo_gen.client_time AS
WITH per_day AS (
    SELECT d, day_start, greatest(1, round(35 * scale * growth * weekly * (1 + 0.1 * demo_gen.n(d, 2))))::bigint AS n
    FROM demo_gen.day),
offs AS MATERIALIZED (SELECT *, (sum(n) OVER (ORDER BY d) - n)::bigint AS off FROM per_day)
SELECT {pre} + off + g AS id, day_start + demo_gen.intraday(g, n, {pre} + off + g, 10) AS created_at
FROM offs, generate_series(1, n) AS g
UNION ALL
SELECT i, (SELECT min(day_start) FROM demo_gen.day) - ((({pre} - i) + demo_gen.u(i, 10)) / {pre}) * interval '1095 days'
FROM generate_series(1, {pre}) AS i;
DELETE FROM demo_gen.client_time WHERE created_at > demo_gen.now();

CREATE UNLOGGED TABLE demo_gen.client AS
SELECT id, created_at, tier,
       CASE WHEN tier IN ('business', 'top')
            THEN demo_gen.pick({company_words_a}::text[], id, 12) || ' ' || demo_gen.pick({company_words_b}::text[], id, 13)
                 || ' ' || demo_gen.pick({company_suffix}::text[], id, 14)
            ELSE demo_gen.pick({first_names}::text[], id, 12) || ' ' || demo_gen.pick({last_names}::text[], id, 13) END AS name,
       demo_gen.pick({countries}::text[], id, 16) AS country,
       decided_at_planned,
       demo_gen.u(id, 17) < CASE WHEN tier IN ('business', 'top') THEN 0.76 ELSE 0.83 END AS approve,
       demo_gen.u(id, 18) < 0.012 AS will_block
FROM (
    SELECT id, created_at,
           CASE WHEN demo_gen.u(id, 11) < 0.02 THEN 'top' WHEN demo_gen.u(id, 11) < 0.12 THEN 'business'
                WHEN demo_gen.u(id, 11) < 0.30 THEN 'premium' ELSE 'standard' END AS tier,
           created_at + least(exp(ln(6) + 0.8 * demo_gen.n(id, 15)), 240) * interval '1 hour' AS decided_at_planned
    FROM demo_gen.client_time) AS c;

-- The canonical incident's client (a): an old, approved business client paying with a MasterCard.
UPDATE demo_gen.client SET name = {acme_name}, tier = 'business', country = 'GB', approve = true, will_block = false
WHERE id = {acme};

ALTER TABLE demo_gen.client
    ADD COLUMN decided_at timestamptz, ADD COLUMN approved_at timestamptz, ADD COLUMN blocked_at timestamptz;
UPDATE demo_gen.client SET
    decided_at = CASE WHEN decided_at_planned <= demo_gen.now() THEN decided_at_planned END,
    approved_at = CASE WHEN decided_at_planned <= demo_gen.now() AND approve THEN decided_at_planned END,
    blocked_at = CASE WHEN approve AND will_block
                       AND decided_at_planned + demo_gen.u(id, 19) * interval '200 days' <= demo_gen.now()
                      THEN decided_at_planned + demo_gen.u(id, 19) * interval '200 days' END;

CREATE UNLOGGED TABLE webbank.client_profile (
    id bigint NOT NULL, name text NOT NULL, email text NOT NULL, country text NOT NULL, tier text NOT NULL,
    state text NOT NULL, created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL);
INSERT INTO webbank.client_profile
SELECT id, name, lower(replace(replace(name, ' ', '.'), '..', '.')) || '.' || id || '@example.com', country, tier,
       CASE WHEN blocked_at IS NOT NULL THEN 'blocked' WHEN approved_at IS NOT NULL THEN 'approved'
            WHEN decided_at IS NOT NULL THEN 'rejected' ELSE 'pending' END,
       created_at, coalesce(blocked_at, decided_at, created_at)
FROM demo_gen.client ORDER BY id;

CREATE UNLOGGED TABLE webbank.client_profile_state_log (
    id bigint NOT NULL, client_profile_id bigint NOT NULL, profile_state text NOT NULL, "timestamp" timestamptz NOT NULL);
INSERT INTO webbank.client_profile_state_log
SELECT id * 4 + slot, id, st, ts FROM (
    SELECT id, 0 AS slot, 'submitted' AS st, created_at AS ts FROM demo_gen.client
    UNION ALL SELECT id, 1, CASE WHEN approve THEN 'approved' ELSE 'rejected' END, decided_at
        FROM demo_gen.client WHERE decided_at IS NOT NULL
    UNION ALL SELECT id, 2, 'blocked', blocked_at FROM demo_gen.client WHERE blocked_at IS NOT NULL) AS s
ORDER BY 1;

-- Approved clients in approval order; payments, reviews and tickets pick their client by rank.
CREATE UNLOGGED TABLE demo_gen.approved AS
SELECT row_number() OVER (ORDER BY approved_at, id) AS rk, id, tier, approved_at FROM demo_gen.client
WHERE approved_at IS NOT NULL;
CREATE UNIQUE INDEX ON demo_gen.approved (rk);
CREATE INDEX ON demo_gen.approved (approved_at);
-- For each day: how many clients were approved before it started (ranks follow approval order).
CREATE UNLOGGED TABLE demo_gen.day_clients AS
SELECT d.d, coalesce((SELECT a.rk FROM demo_gen.approved a WHERE a.approved_at < d.day_start
                      ORDER BY a.approved_at DESC LIMIT 1), 0) AS k
FROM demo_gen.day d;
