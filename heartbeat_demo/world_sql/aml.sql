-- Parameters: aml_reviewers, aml_stalled_reviewers.
-- AML retrospective reviews: ~50/day, reviewed after ~20 h. Incident (c): for the last 7 days the
-- reviews assigned to the stalled reviewers (sqlgen.AML_STALLED_REVIEWERS) have not been reviewed
-- (they left the team).
CREATE UNLOGGED TABLE aml.aml_retrospective (
    id bigint NOT NULL, client_profile_id bigint NOT NULL, reason text NOT NULL, reviewer text NOT NULL,
    created_at timestamptz NOT NULL, reviewed_at timestamptz, decision text, updated_at timestamptz NOT NULL);
INSERT INTO aml.aml_retrospective
WITH per_day AS (
    SELECT day.d, day_start, greatest(1, round(50 * scale * growth * (1 + 0.08 * demo_gen.n(day.d, 5))))::bigint AS n,
           greatest(dc.k, 1) AS k
    FROM demo_gen.day JOIN demo_gen.day_clients dc ON dc.d = day.d),
offs AS MATERIALIZED (SELECT *, (sum(n) OVER (ORDER BY d) - n)::bigint AS off FROM per_day),
raw AS MATERIALIZED (
    SELECT off + g AS id, day_start + ((g - 1 + demo_gen.u(off + g, 50)) / n) * interval '1 day' AS created_at,
           1 + floor(k * demo_gen.u(off + g, 51))::bigint AS rk
    FROM offs, generate_series(1, n) AS g),
planned AS (
    SELECT r.id, a.id AS client_id, r.created_at,
           demo_gen.pick({aml_reviewers}::text[], r.id, 52) AS reviewer,
           r.created_at + least(exp(ln(20) + 0.5 * demo_gen.n(r.id, 53)), 200) * interval '1 hour' AS review_at
    FROM raw r JOIN demo_gen.approved a ON a.rk = r.rk
    WHERE r.created_at <= demo_gen.now()),
done AS (
    SELECT p.*, CASE
        WHEN p.review_at > demo_gen.now() THEN NULL
        WHEN p.review_at >= demo_gen.now() - interval '7 days' AND p.reviewer = ANY({aml_stalled_reviewers}::text[]) THEN NULL
        ELSE p.review_at END AS reviewed_at
    FROM planned p)
SELECT id, client_id,
       demo_gen.pick(ARRAY['periodic_review', 'periodic_review', 'periodic_review', 'volume_spike',
                           'new_country', 'pep_screening_hit']::text[], id, 54),
       reviewer, created_at, reviewed_at,
       CASE WHEN reviewed_at IS NULL THEN NULL WHEN demo_gen.u(id, 55) < 0.9 THEN 'clear'
            WHEN demo_gen.u(id, 55) < 0.96 THEN 'request_info' ELSE 'escalate' END,
       coalesce(reviewed_at, created_at)
FROM done;
