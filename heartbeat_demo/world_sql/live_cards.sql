-- First cards of clients approved in the last 30 days, once their issue time has come.
INSERT INTO card_management.card
SELECT (SELECT coalesce(max(id), 0) FROM card_management.card) + row_number() OVER (ORDER BY x.issued_at, x.client_id),
       x.client_id, x.scheme, x.issued_at, 'active', x.issued_at
FROM (
    SELECT l.client_profile_id AS client_id,
           CASE WHEN c.tier IN ('business', 'top') THEN 'MasterCard'
                WHEN demo_gen.u(c.id * 3 + 1, 61) < 0.35 THEN 'MasterCard' ELSE 'Visa' END AS scheme,
           l."timestamp" + exp(ln(2) + 0.8 * demo_gen.n(c.id, 62)) * interval '1 day' AS issued_at
    FROM webbank.client_profile_state_log l
    JOIN webbank.client_profile c ON c.id = l.client_profile_id
    LEFT JOIN card_management.card cd ON cd.client_profile_id = l.client_profile_id
    WHERE l.profile_state = 'approved' AND l."timestamp" > demo_gen.now() - interval '30 days'
      AND cd.id IS NULL AND (c.tier IN ('business', 'top') OR demo_gen.u(c.id, 60) < 0.7)) AS x
WHERE x.issued_at <= demo_gen.now();
