-- Schema demo_gen: the seeded random helpers and the payment lifecycle as inlinable SQL.
-- Parameters: seed, now, base_rates (the VALUES rows of BASE_RATES).
DROP SCHEMA IF EXISTS demo_gen CASCADE;
CREATE SCHEMA demo_gen;
CREATE FUNCTION demo_gen.u(x bigint, salt int) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ((hashint8extended(x, {seed}::bigint * 7919 + salt) & 2147483647)::float8 + 0.5) / 2147483648.0
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
CREATE FUNCTION demo_gen.now() RETURNS timestamptz LANGUAGE sql IMMUTABLE AS $$ SELECT {now} $$;
CREATE UNLOGGED TABLE demo_gen.base_rate (currency text PRIMARY KEY, rate float8);
INSERT INTO demo_gen.base_rate VALUES {base_rates};

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
