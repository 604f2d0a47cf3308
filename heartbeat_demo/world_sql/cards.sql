-- Parameters: acme.
-- Cards: business and top clients hold a MasterCard backed by monthly collateral, others mostly Visa.
CREATE UNLOGGED TABLE card_management.card (
    id bigint NOT NULL, client_profile_id bigint NOT NULL, scheme text NOT NULL, issued_at timestamptz NOT NULL,
    status text NOT NULL, updated_at timestamptz NOT NULL);
INSERT INTO card_management.card
SELECT row_number() OVER (ORDER BY issued_at, client_id, k), client_id, scheme, issued_at,
       CASE WHEN blocked_at IS NOT NULL AND blocked_at > issued_at THEN 'blocked' ELSE 'active' END,
       CASE WHEN blocked_at IS NOT NULL AND blocked_at > issued_at THEN blocked_at ELSE issued_at END
FROM (
    SELECT c.id AS client_id, k, c.blocked_at,
           CASE WHEN k = 1 AND c.tier IN ('business', 'top') THEN 'MasterCard'
                WHEN demo_gen.u(c.id * 3 + k, 61) < 0.35 THEN 'MasterCard' ELSE 'Visa' END AS scheme,
           c.approved_at + (CASE WHEN k = 1 THEN exp(ln(2) + 0.8 * demo_gen.n(c.id, 62))
                                 ELSE 20 + 200 * demo_gen.u(c.id, 63) END) * interval '1 day' AS issued_at
    FROM demo_gen.client c
    CROSS JOIN generate_series(1, 2) AS k
    WHERE c.approved_at IS NOT NULL
      AND (k = 1 AND (c.tier IN ('business', 'top') OR demo_gen.u(c.id, 60) < 0.7)
           OR k = 2 AND demo_gen.u(c.id, 64) < CASE WHEN c.tier IN ('premium', 'top') THEN 0.35 ELSE 0.08 END)) AS x
WHERE issued_at <= demo_gen.now();

-- Monthly collateral invoices for the MasterCard of business and top clients, issued on the 1st at
-- 06:00 UTC, due 14 days later; clients pay on time or at most ~20 days late. Incident (a): ACME Ltd
-- has paid nothing for the last four months.
CREATE UNLOGGED TABLE card_management.collateral_invoice (
    id bigint NOT NULL, client_profile_id bigint NOT NULL, card_id bigint NOT NULL, amount numeric(14, 2) NOT NULL,
    currency text NOT NULL, issued_at timestamptz NOT NULL, due_date date NOT NULL, paid_at timestamptz,
    updated_at timestamptz NOT NULL);
INSERT INTO card_management.collateral_invoice
WITH cards AS (
    SELECT DISTINCT ON (cd.client_profile_id) cd.id AS card_id, cd.client_profile_id, cd.issued_at, c.tier
    FROM card_management.card cd JOIN demo_gen.client c ON c.id = cd.client_profile_id
    WHERE cd.scheme = 'MasterCard' AND c.tier IN ('business', 'top')
    ORDER BY cd.client_profile_id, cd.issued_at),
months AS (
    SELECT (m::date::timestamp AT TIME ZONE 'UTC') + interval '6 hours' AS issued_at
    FROM generate_series(date_trunc('month', (SELECT min(day) FROM demo_gen.day)),
                         date_trunc('month', demo_gen.now()::date), interval '1 month') AS m),
inv AS (
    SELECT c.card_id, c.client_profile_id, c.tier, m.issued_at,
           (c.client_profile_id * 1000 + extract(year FROM m.issued_at) * 12 + extract(month FROM m.issued_at))::bigint AS x
    FROM cards c JOIN months m ON m.issued_at > c.issued_at
    WHERE m.issued_at <= demo_gen.now()),
priced AS (
    SELECT i.*,
           round((exp(ln(CASE WHEN i.client_profile_id = {acme} THEN 24800 WHEN i.tier = 'top' THEN 9000 ELSE 3000 END)
                      + CASE WHEN i.client_profile_id = {acme} THEN 0 ELSE 0.6 * demo_gen.n(i.client_profile_id, 70) END)
                  * (1 + 0.08 * demo_gen.n(i.x, 71)))::numeric, 2) AS amount,
           (i.issued_at AT TIME ZONE 'UTC')::date + 14 AS due_date,
           CASE WHEN i.client_profile_id = {acme}
                     AND i.issued_at >= date_trunc('month', demo_gen.now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' - interval '4 months'
                THEN NULL
                WHEN demo_gen.u(i.x, 72) < 0.86 THEN i.issued_at + (1 + 12.5 * demo_gen.u(i.x, 73)) * interval '1 day'
                ELSE i.issued_at + (15 + 19 * demo_gen.u(i.x, 73)) * interval '1 day' END AS pay_at
    FROM inv i)
SELECT row_number() OVER (ORDER BY issued_at, client_profile_id), client_profile_id, card_id, amount, 'EUR',
       issued_at, due_date, CASE WHEN pay_at <= demo_gen.now() THEN pay_at END,
       CASE WHEN pay_at <= demo_gen.now() THEN pay_at ELSE issued_at END
FROM priced;
