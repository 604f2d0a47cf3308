"""The set-based SQL that generates the demo world inside the source database.

Everything is computed by Postgres from `generate_series` and a seeded hash (`hashint8extended`, stable
across servers because hash partitioning relies on it), so a world of 15M payments never passes through
Python and the same seed and `now` give the same rows. Helper functions live in schema `demo_gen`,
which is dropped at the end of a build.

Conventions: `demo_gen.u(x, salt)` is a uniform number in (0, 1) for the integer `x`; `demo_gen.n(x, salt)`
a standard normal one. Each column draws from its own salt, so draws are independent.
"""

from __future__ import annotations

from datetime import datetime

# Base value of one unit of each currency in EUR; the rate files wander around these.
BASE_RATES: dict[str, float] = {
    "EUR": 1.0,
    "USD": 0.92,
    "GBP": 1.17,
    "CHF": 1.06,
    "PLN": 0.232,
    "SEK": 0.088,
    "NOK": 0.086,
    "DKK": 0.134,
    "CZK": 0.0402,
    "HUF": 0.00252,
}

ACME_CLIENT_ID = 42
ACME_NAME = "ACME Ltd"
HISTORY_DAYS = 180
# Reviewers whose reviews stopped moving a week ago (incident c).
AML_REVIEWERS = ["a.kask", "b.ivanova", "c.muller", "d.rossi", "e.novak"]
AML_STALLED_REVIEWERS = ["c.muller", "d.rossi", "e.novak"]


def _arr(values: list[str]) -> str:
    return "ARRAY[" + ",".join("'" + v.replace("'", "''") + "'" for v in values) + "]::text[]"


FIRST_NAMES = [
    "Anna", "Ben", "Carla", "David", "Elena", "Felix", "Greta", "Hugo", "Ines", "Jonas", "Katrin", "Luca",
    "Maria", "Nils", "Olga", "Pablo", "Quentin", "Rosa", "Sven", "Tanel", "Ursula", "Viktor", "Wanda",
    "Yann", "Zofia", "Marek", "Liis", "Piotr", "Chiara", "Emil",
]  # fmt: skip
LAST_NAMES = [
    "Muller", "Schmidt", "Rossi", "Garcia", "Novak", "Kask", "Tamm", "Dubois", "Jansen", "Nowak",
    "Lindqvist", "Ivanova", "Moreau", "Bianchi", "Fischer", "Kowalski", "Horvat", "Berg", "Silva",
    "Weber", "Laine", "Petrov", "Costa", "Olsen", "Vogel",
]  # fmt: skip
COMPANY_WORDS_A = [
    "Nordic", "Blue", "Bright", "Alpine", "Baltic", "Urban", "Green", "Silver", "Swift", "Golden",
    "Harbor", "Prime", "Atlas", "Vertex", "Amber", "Delta", "Polar", "Iron", "Coral", "Lumen",
]  # fmt: skip
COMPANY_WORDS_B = [
    "Logistics", "Trading", "Studio", "Systems", "Foods", "Textiles", "Labs", "Partners", "Freight",
    "Media", "Energy", "Imports", "Software", "Retail", "Consulting", "Robotics", "Travel", "Pharma",
]  # fmt: skip
COMPANY_SUFFIX = ["Ltd", "GmbH", "BV", "SAS", "AB", "OÜ", "UAB", "Sp. z o.o.", "SRL", "Oy"]
COUNTRIES = ["DE"] * 5 + ["FR"] * 4 + ["NL"] * 3 + ["ES"] * 3 + ["IT"] * 3 + ["GB"] * 3 + ["PL"] * 2 + [
    "SE", "EE", "LT", "LV", "FI", "AT", "BE", "IE", "PT",
]  # fmt: skip
PAY_CURRENCIES = ["EUR"] * 30 + ["USD"] * 3 + ["GBP"] * 2 + ["CHF", "PLN", "SEK", "NOK", "DKK"]
TICKET_TOPICS = ["payment"] * 6 + ["card"] * 5 + ["onboarding"] * 3 + ["fees"] * 2 + ["aml"] + ["account"] * 3
TICKET_PRIORITIES = ["low"] * 6 + ["normal"] * 10 + ["high"] * 3 + ["urgent"]


def helper_functions(seed: int, now: datetime) -> str:
    """Schema demo_gen with the seeded random helpers and the payment lifecycle as inlinable SQL."""
    now_lit = f"'{now.isoformat()}'::timestamptz"
    rates = ", ".join(f"('{c}', {r})" for c, r in BASE_RATES.items())
    return f"""
DROP SCHEMA IF EXISTS demo_gen CASCADE;
CREATE SCHEMA demo_gen;
CREATE FUNCTION demo_gen.u(x bigint, salt int) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ((hashint8extended(x, {int(seed)}::bigint * 7919 + salt) & 2147483647)::float8 + 0.5) / 2147483648.0
$$;
CREATE FUNCTION demo_gen.n(x bigint, salt int) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT sqrt(-2 * ln(demo_gen.u(x, salt))) * cos(2 * pi() * demo_gen.u(x, salt + 1000))
$$;
CREATE FUNCTION demo_gen.pick(arr text[], x bigint, salt int) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT arr[1 + floor(demo_gen.u(x, salt) * array_length(arr, 1))::int]
$$;
-- Daytime-heavy spread of the k-th of n events in a day: monotonic warp of (k - 1 + jitter) / n.
CREATE FUNCTION demo_gen.intraday(k bigint, n bigint, x bigint, salt int) RETURNS interval
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (((k - 1 + demo_gen.u(x, salt)) / n) - 0.8 * sin(2 * pi() * ((k - 1 + demo_gen.u(x, salt)) / n)) / (2 * pi()))
           * interval '1 day'
$$;
CREATE FUNCTION demo_gen.now() RETURNS timestamptz LANGUAGE sql IMMUTABLE AS $$ SELECT {now_lit} $$;
CREATE UNLOGGED TABLE demo_gen.base_rate (currency text PRIMARY KEY, rate float8);
INSERT INTO demo_gen.base_rate VALUES {rates};

-- Outgoing payments: screening decision {{approved | rejected}} after ~40 s.
-- Incident (b): from 48 h before now, non-EUR outgoing payments are rejected 90% of the time (a
-- misfiring screening rule) and EUR ones 8%.
CREATE FUNCTION demo_gen.pay_decided_at(id bigint, create_time timestamptz) RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT create_time + exp(ln(40) + 0.9 * demo_gen.n(id, 31)) * interval '1 second'
$$;
CREATE FUNCTION demo_gen.pay_rejected(id bigint, create_time timestamptz, currency text) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT demo_gen.u(id, 33) < CASE
        WHEN create_time >= demo_gen.now() - interval '48 hours' AND currency <> 'EUR' THEN 0.90
        WHEN create_time >= demo_gen.now() - interval '48 hours' THEN 0.08
        ELSE 0.015 + 0.02 * demo_gen.u((extract(epoch FROM create_time) / 86400)::bigint, 34) END
$$;
-- Completion (or failure) of approved outgoing and of incoming/internal payments.
CREATE FUNCTION demo_gen.pay_done_at(id bigint, create_time timestamptz, type_id smallint) RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN type_id = 1
        THEN demo_gen.pay_decided_at(id, create_time) + exp(ln(210) + 0.85 * demo_gen.n(id, 35)) * interval '1 second'
        ELSE create_time + exp(ln(20) + 0.7 * demo_gen.n(id, 35)) * interval '1 second' END
$$;
CREATE FUNCTION demo_gen.pay_failed(id bigint) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT demo_gen.u(id, 37) < 0.004 $$;
"""


def day_table(scale: int) -> str:
    """One row per calendar day (UTC) of the history: growth, weekly seasonality and daily noise."""
    return f"""
CREATE UNLOGGED TABLE demo_gen.day AS
SELECT d,
       (demo_gen.now()::date - {HISTORY_DAYS} + d) AS day,
       ((demo_gen.now()::date - {HISTORY_DAYS} + d)::timestamp AT TIME ZONE 'UTC') AS day_start,
       (0.75 + 0.5 * d / {HISTORY_DAYS}.0) AS growth,
       CASE extract(isodow FROM demo_gen.now()::date - {HISTORY_DAYS} + d)
           WHEN 1 THEN 1.08 WHEN 5 THEN 1.04 WHEN 6 THEN 0.62 WHEN 7 THEN 0.52 ELSE 1.0 END AS weekly,
       {int(scale)} AS scale
FROM generate_series(0, {HISTORY_DAYS}) AS d;
"""


def clients(scale: int) -> str:
    pre = 6000 * int(scale)
    return f"""
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
            THEN demo_gen.pick({_arr(COMPANY_WORDS_A)}, id, 12) || ' ' || demo_gen.pick({_arr(COMPANY_WORDS_B)}, id, 13)
                 || ' ' || demo_gen.pick({_arr(COMPANY_SUFFIX)}, id, 14)
            ELSE demo_gen.pick({_arr(FIRST_NAMES)}, id, 12) || ' ' || demo_gen.pick({_arr(LAST_NAMES)}, id, 13) END AS name,
       demo_gen.pick({_arr(COUNTRIES)}, id, 16) AS country,
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
UPDATE demo_gen.client SET name = '{ACME_NAME}', tier = 'business', country = 'GB', approve = true, will_block = false
WHERE id = {ACME_CLIENT_ID};

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
"""


PAYMENT_TABLES = """
CREATE UNLOGGED TABLE webbank.payment (
    id bigint NOT NULL, sender_profile_id bigint NOT NULL, type_id smallint NOT NULL, direction text NOT NULL,
    amount numeric(14, 2) NOT NULL, currency text NOT NULL, state_id smallint NOT NULL, state text NOT NULL,
    reference text, create_time timestamptz NOT NULL, updated_at timestamptz NOT NULL);
CREATE UNLOGGED TABLE webbank.payment_state_log (
    id bigint NOT NULL, payment_id bigint NOT NULL, state_id smallint NOT NULL, "timestamp" timestamptz NOT NULL);
CREATE UNLOGGED TABLE webbank.entry (
    id bigint NOT NULL, payment_id bigint, client_profile_id bigint NOT NULL, entry_state_id smallint NOT NULL,
    amount numeric(14, 2) NOT NULL, fee numeric(12, 2) NOT NULL, product text NOT NULL,
    create_time timestamptz NOT NULL, updated_at timestamptz NOT NULL);
"""


def payments(scale: int, first_day: int = 0, last_day: int = HISTORY_DAYS) -> str:
    """Payments created on history days [first_day, last_day], with their state log and ledger entries,
    in one statement (writable CTEs), so day ranges can be generated side by side."""
    return f"""
WITH per_day AS (
    SELECT day.d, day_start, greatest(1, round(1800 * scale * growth * weekly * (1 + 0.06 * demo_gen.n(day.d, 3))))::bigint AS n,
           greatest(dc.k, 1) AS k
    FROM demo_gen.day JOIN demo_gen.day_clients dc ON dc.d = day.d),
offs AS MATERIALIZED (SELECT *, (sum(n) OVER (ORDER BY d) - n)::bigint AS off FROM per_day),
raw AS MATERIALIZED (
    SELECT off + g AS id, day_start + demo_gen.intraday(g, n, off + g, 20) AS create_time,
           1 + floor(k * power(demo_gen.u(off + g, 21), 1.3))::bigint AS rk
    FROM offs, generate_series(1, n) AS g
    WHERE offs.d BETWEEN {int(first_day)} AND {int(last_day)}),
typed AS MATERIALIZED (
    SELECT r.id, r.create_time, a.id AS sender, a.tier,
           CASE WHEN demo_gen.u(r.id, 30) < 0.55 THEN 1 WHEN demo_gen.u(r.id, 30) < 0.9 THEN 2 ELSE 3 END::smallint AS type_id,
           CASE WHEN demo_gen.u(r.id, 30) >= 0.9 THEN 'EUR' ELSE demo_gen.pick({_arr(PAY_CURRENCIES)}, r.id, 32) END AS currency
    FROM raw r JOIN demo_gen.approved a ON a.rk = r.rk
    WHERE r.create_time <= demo_gen.now()),
life AS MATERIALIZED (
    SELECT t.*,
           CASE WHEN type_id = 1 THEN demo_gen.pay_decided_at(id, create_time) END AS decided_at,
           type_id = 1 AND demo_gen.pay_rejected(id, create_time, currency) AS rejected,
           demo_gen.pay_done_at(id, create_time, type_id) AS done_at,
           demo_gen.pay_failed(id) AS failed
    FROM typed t),
st AS (
    SELECT l.*, CASE
        WHEN type_id = 1 AND decided_at > demo_gen.now() THEN 1
        WHEN rejected THEN 3
        WHEN done_at > demo_gen.now() THEN CASE WHEN type_id = 1 THEN 2 ELSE 1 END
        WHEN failed THEN 5 ELSE 4 END::smallint AS state_id
    FROM life l),
pay AS (
INSERT INTO webbank.payment
SELECT id, sender, type_id,
       CASE type_id WHEN 1 THEN 'outgoing' WHEN 2 THEN 'incoming' ELSE 'internal' END,
       round((exp(ln(80) + 1.1 * demo_gen.n(id, 39))
              * CASE tier WHEN 'top' THEN 25 WHEN 'business' THEN 8 WHEN 'premium' THEN 2.5 ELSE 1 END
              / b.rate)::numeric, 2),
       st.currency, state_id,
       (ARRAY['created', 'approved', 'rejected', 'completed', 'failed'])[state_id],
       CASE WHEN demo_gen.u(id, 40) < 0.7 THEN 'INV-' || (id % 100000) END,
       create_time,
       CASE state_id WHEN 1 THEN create_time WHEN 2 THEN decided_at WHEN 3 THEN decided_at ELSE done_at END
FROM st JOIN demo_gen.base_rate b ON b.currency = st.currency
RETURNING *),
log AS (
INSERT INTO webbank.payment_state_log
SELECT p.id * 4 + s.slot, p.id, s.state_id, s.ts
FROM pay p
CROSS JOIN LATERAL (VALUES
    (0, 1::smallint, p.create_time),
    (1, CASE WHEN p.state_id = 3 THEN 3 ELSE 2 END::smallint,
        CASE WHEN p.type_id = 1 AND p.state_id <> 1 THEN demo_gen.pay_decided_at(p.id, p.create_time) END),
    (2, p.state_id, CASE WHEN p.state_id IN (4, 5) THEN p.updated_at END)) AS s(slot, state_id, ts)
WHERE s.ts IS NOT NULL)
INSERT INTO webbank.entry
SELECT id, id, sender_profile_id,
       CASE WHEN reversed_at <= demo_gen.now() THEN 3 ELSE 2 END::smallint,
       amount_eur,
       CASE WHEN type_id = 1 THEN round((0.9 + least(0.003 * amount_eur, 40)
                                         + CASE WHEN currency <> 'EUR' THEN least(0.006 * amount_eur, 60) ELSE 0 END)::numeric, 2)
            WHEN type_id = 2 AND currency <> 'EUR' THEN round(least(0.004 * amount_eur, 30)::numeric, 2)
            ELSE 0 END,
       CASE WHEN type_id = 1 AND currency = 'EUR' THEN 'sepa_transfer' WHEN type_id = 1 THEN 'swift_transfer'
            WHEN type_id = 2 THEN 'incoming_transfer' ELSE 'internal_transfer' END,
       updated_at,
       CASE WHEN reversed_at <= demo_gen.now() THEN reversed_at ELSE updated_at END
FROM (
    SELECT p.*, round((p.amount * b.rate)::numeric, 2) AS amount_eur,
           CASE WHEN demo_gen.u(p.id, 41) < 0.003 THEN p.updated_at + demo_gen.u(p.id, 42) * interval '5 days' END AS reversed_at
    FROM pay p JOIN demo_gen.base_rate b ON b.currency = p.currency
    WHERE p.state_id = 4) AS x;
"""


def aml(scale: int) -> str:
    return f"""
-- AML retrospective reviews: ~50/day, reviewed after ~20 h. Incident (c): for the last 7 days the
-- reviews assigned to {", ".join(AML_STALLED_REVIEWERS)} have not been reviewed (they left the team).
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
           demo_gen.pick({_arr(AML_REVIEWERS)}, r.id, 52) AS reviewer,
           r.created_at + least(exp(ln(20) + 0.5 * demo_gen.n(r.id, 53)), 200) * interval '1 hour' AS review_at
    FROM raw r JOIN demo_gen.approved a ON a.rk = r.rk
    WHERE r.created_at <= demo_gen.now()),
done AS (
    SELECT p.*, CASE
        WHEN p.review_at > demo_gen.now() THEN NULL
        WHEN p.review_at >= demo_gen.now() - interval '7 days' AND p.reviewer = ANY({_arr(AML_STALLED_REVIEWERS)}) THEN NULL
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
"""


def cards(scale: int) -> str:
    return """
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
""".replace("{acme}", str(ACME_CLIENT_ID))


def helpdesk(scale: int) -> str:
    return f"""
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
           demo_gen.pick({_arr(TICKET_TOPICS)}, r.id, 82) AS topic,
           demo_gen.pick({_arr(TICKET_PRIORITIES)}, r.id, 83) AS priority,
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
"""


LOOKUPS = """
CREATE UNLOGGED TABLE webbank.payment_state (id smallint NOT NULL, code text NOT NULL, is_final boolean NOT NULL);
INSERT INTO webbank.payment_state VALUES
    (1, 'created', false), (2, 'approved', false), (3, 'rejected', true), (4, 'completed', true), (5, 'failed', true);
"""

# Source-side keys and the indexes the cursors (updated_at) and the helpdesk API need; two halves that
# can run side by side.
CONSTRAINTS_BIG = """
ALTER TABLE webbank.payment_state_log ADD PRIMARY KEY (id);
CREATE INDEX ON webbank.entry (updated_at);
"""
CONSTRAINTS = """
ALTER TABLE webbank.payment_state ADD PRIMARY KEY (id);
ALTER TABLE webbank.client_profile ADD PRIMARY KEY (id);
ALTER TABLE webbank.client_profile_state_log ADD PRIMARY KEY (id);
ALTER TABLE webbank.payment ADD PRIMARY KEY (id);
ALTER TABLE webbank.entry ADD PRIMARY KEY (id);
ALTER TABLE aml.aml_retrospective ADD PRIMARY KEY (id);
ALTER TABLE card_management.card ADD PRIMARY KEY (id);
ALTER TABLE card_management.collateral_invoice ADD PRIMARY KEY (id);
ALTER TABLE helpdesk.ticket ADD PRIMARY KEY (id);
CREATE INDEX ON webbank.client_profile (updated_at);
CREATE INDEX ON webbank.payment (updated_at);
CREATE INDEX ON aml.aml_retrospective (updated_at);
CREATE INDEX ON card_management.card (updated_at);
CREATE INDEX ON card_management.collateral_invoice (updated_at);
CREATE INDEX ON helpdesk.ticket (updated_at, id);
"""


def live(scale: int, start: datetime, now: datetime) -> str:
    """New rows created in (start, now] and every lifecycle step that became due by now.

    Uses the same per-id formulas as the full build (growth at its end level, the weekday and time-of-day
    profile of `now`), so a live world keeps its shape and its incidents: the screening rule keeps
    rejecting, the stalled reviewers stay stalled, the rate files stay missing.
    """
    start_lit = f"'{start.isoformat()}'::timestamptz"
    return f"""
CREATE UNLOGGED TABLE demo_gen.live_window AS
SELECT {start_lit} AS t0, demo_gen.now() AS t1,
       extract(epoch FROM demo_gen.now() - {start_lit}) / 86400.0 * {int(scale)} * 1.25
       * CASE extract(isodow FROM demo_gen.now()) WHEN 1 THEN 1.08 WHEN 5 THEN 1.04 WHEN 6 THEN 0.62 WHEN 7 THEN 0.52 ELSE 1.0 END
       * (1 - 0.8 * cos(2 * pi() * extract(epoch FROM demo_gen.now() - date_trunc('day', demo_gen.now())) / 86400.0)) AS per_unit,
       extract(epoch FROM demo_gen.now() - {start_lit}) / 86400.0 * {int(scale)} * 1.25 AS flat,
       extract(epoch FROM demo_gen.now())::bigint AS tick;
CREATE UNLOGGED TABLE demo_gen.approved AS
SELECT row_number() OVER (ORDER BY c.id) AS rk, c.id, c.tier FROM webbank.client_profile c WHERE c.state = 'approved';
CREATE UNIQUE INDEX ON demo_gen.approved (rk);

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
           CASE WHEN demo_gen.u(r.id, 30) >= 0.9 THEN 'EUR' ELSE demo_gen.pick({_arr(PAY_CURRENCIES)}, r.id, 32) END AS currency
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

-- Advance payments whose next step is due: decisions, completions, failures, ledger entries.
CREATE UNLOGGED TABLE demo_gen.due AS
SELECT p.id, p.type_id, p.state_id AS old_state, p.sender_profile_id, p.amount, p.currency, p.create_time,
       CASE WHEN p.type_id = 1 THEN demo_gen.pay_decided_at(p.id, p.create_time) END AS decided_at,
       p.type_id = 1 AND demo_gen.pay_rejected(p.id, p.create_time, p.currency) AS rejected,
       demo_gen.pay_done_at(p.id, p.create_time, p.type_id) AS done_at,
       demo_gen.pay_failed(p.id) AS failed
FROM webbank.payment p
WHERE p.state_id IN (1, 2) AND p.create_time > demo_gen.now() - interval '3 days';
ALTER TABLE demo_gen.due ADD COLUMN new_state smallint, ADD COLUMN new_at timestamptz;
UPDATE demo_gen.due SET
    new_state = CASE WHEN type_id = 1 AND decided_at > demo_gen.now() THEN 1 WHEN rejected THEN 3
                     WHEN done_at > demo_gen.now() THEN CASE WHEN type_id = 1 THEN 2 ELSE 1 END
                     WHEN failed THEN 5 ELSE 4 END,
    new_at = CASE WHEN type_id = 1 AND decided_at > demo_gen.now() THEN create_time WHEN rejected THEN decided_at
                  WHEN done_at > demo_gen.now() THEN CASE WHEN type_id = 1 THEN decided_at ELSE create_time END
                  ELSE done_at END;
DELETE FROM demo_gen.due WHERE new_state = old_state;
INSERT INTO webbank.payment_state_log
SELECT id * 4 + 1, id, CASE WHEN rejected THEN 3 ELSE 2 END, decided_at FROM demo_gen.due
WHERE type_id = 1 AND old_state = 1 AND new_state IN (2, 3, 4, 5)
UNION ALL
SELECT id * 4 + 2, id, new_state, done_at FROM demo_gen.due WHERE new_state IN (4, 5)
ON CONFLICT DO NOTHING;
UPDATE webbank.payment p SET state_id = d.new_state,
    state = (ARRAY['created', 'approved', 'rejected', 'completed', 'failed'])[d.new_state], updated_at = d.new_at
FROM demo_gen.due d WHERE d.id = p.id;
INSERT INTO webbank.entry
SELECT d.id, d.id, d.sender_profile_id, 2, round((d.amount * b.rate)::numeric, 2),
       CASE WHEN d.type_id = 1 THEN round((0.9 + least(0.003 * d.amount * b.rate, 40)
                                           + CASE WHEN d.currency <> 'EUR' THEN least(0.006 * d.amount * b.rate, 60) ELSE 0 END)::numeric, 2)
            WHEN d.type_id = 2 AND d.currency <> 'EUR' THEN round(least(0.004 * d.amount * b.rate, 30)::numeric, 2)
            ELSE 0 END,
       CASE WHEN d.type_id = 1 AND d.currency = 'EUR' THEN 'sepa_transfer' WHEN d.type_id = 1 THEN 'swift_transfer'
            WHEN d.type_id = 2 THEN 'incoming_transfer' ELSE 'internal_transfer' END,
       d.done_at, d.done_at
FROM demo_gen.due d JOIN demo_gen.base_rate b ON b.currency = d.currency
WHERE d.new_state = 4
ON CONFLICT DO NOTHING;

-- New AML reviews; due reviews get done (except the stalled reviewers' queue).
WITH w AS (SELECT *, floor(50 * flat + demo_gen.u(tick, 91))::bigint AS n,
                  (SELECT coalesce(max(id), 0) FROM aml.aml_retrospective) AS base,
                  (SELECT count(*) FROM demo_gen.approved) AS k FROM demo_gen.live_window)
INSERT INTO aml.aml_retrospective
SELECT w.base + g, a.id, 'periodic_review', demo_gen.pick({_arr(AML_REVIEWERS)}, w.base + g, 52),
       w.t0 + ((g - 1 + demo_gen.u(w.base + g, 50)) / w.n) * (w.t1 - w.t0), NULL, NULL,
       w.t0 + ((g - 1 + demo_gen.u(w.base + g, 50)) / w.n) * (w.t1 - w.t0)
FROM w CROSS JOIN generate_series(1, w.n) AS g
JOIN demo_gen.approved a ON a.rk = 1 + floor(w.k * demo_gen.u(w.base + g, 51))::bigint;
UPDATE aml.aml_retrospective a SET reviewed_at = x.review_at, updated_at = x.review_at,
    decision = CASE WHEN demo_gen.u(a.id, 55) < 0.9 THEN 'clear' WHEN demo_gen.u(a.id, 55) < 0.96 THEN 'request_info' ELSE 'escalate' END
FROM (SELECT id, created_at + least(exp(ln(20) + 0.5 * demo_gen.n(id, 53)), 200) * interval '1 hour' AS review_at
      FROM aml.aml_retrospective WHERE reviewed_at IS NULL) AS x
WHERE x.id = a.id AND x.review_at <= demo_gen.now() AND NOT a.reviewer = ANY({_arr(AML_STALLED_REVIEWERS)});

-- New helpdesk tickets; due tickets get solved.
WITH w AS (SELECT *, floor(80 * per_unit + demo_gen.u(tick, 92))::bigint AS n,
                  (SELECT coalesce(max(id), 0) FROM helpdesk.ticket) AS base,
                  (SELECT count(*) FROM demo_gen.approved) AS k FROM demo_gen.live_window)
INSERT INTO helpdesk.ticket
SELECT w.base + g, a.id, demo_gen.pick({_arr(TICKET_TOPICS)}, w.base + g, 82),
       demo_gen.pick({_arr(TICKET_PRIORITIES)}, w.base + g, 83),
       CASE WHEN demo_gen.u(w.base + g, 85) < 0.25 THEN 'pending' ELSE 'open' END,
       initcap(demo_gen.pick({_arr(TICKET_TOPICS)}, w.base + g, 82)) || ': question',
       w.t0 + ((g - 1 + demo_gen.u(w.base + g, 80)) / w.n) * (w.t1 - w.t0),
       w.t0 + ((g - 1 + demo_gen.u(w.base + g, 80)) / w.n) * (w.t1 - w.t0), NULL
FROM w CROSS JOIN generate_series(1, w.n) AS g
JOIN demo_gen.approved a ON a.rk = 1 + floor(w.k * demo_gen.u(w.base + g, 81))::bigint;
UPDATE helpdesk.ticket t SET status = 'solved', resolved_at = x.resolve_at, updated_at = x.resolve_at
FROM (SELECT id, created_at + least(exp(ln(CASE priority WHEN 'urgent' THEN 1.5 WHEN 'high' THEN 4 ELSE 7 END)
                                          + 0.9 * demo_gen.n(id, 84)), 600) * interval '1 hour' AS resolve_at
      FROM helpdesk.ticket WHERE resolved_at IS NULL) AS x
WHERE x.id = t.id AND x.resolve_at <= demo_gen.now();

-- New sign-ups; due onboarding decisions get made.
WITH w AS (SELECT *, floor(35 * per_unit + demo_gen.u(tick, 93))::bigint AS n,
                  (SELECT coalesce(max(id), 0) FROM webbank.client_profile) AS base FROM demo_gen.live_window)
INSERT INTO webbank.client_profile
SELECT w.base + g, demo_gen.pick({_arr(FIRST_NAMES)}, w.base + g, 12) || ' ' || demo_gen.pick({_arr(LAST_NAMES)}, w.base + g, 13),
       'client.' || (w.base + g) || '@example.com', demo_gen.pick({_arr(COUNTRIES)}, w.base + g, 16),
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
"""
