-- Incremental daily rollups (issue 19): `rollups/<id>.sql` in the project directory, stored as table
-- `rollups.<id>` (one row per business day × the rollup's keys) and rebuilt after each ingest for the days
-- that newly landed rows touch. The registry row holds the definition as synced and the refresh state; a
-- failing refresh records its reason here, and the metrics that read the rollup are marked errored with it.

CREATE SCHEMA IF NOT EXISTS rollups;

CREATE TABLE heartbeat.rollup_registry (
    rollup_id text PRIMARY KEY CHECK (rollup_id ~ '^[a-z][a-z0-9_]*$'),
    name text NOT NULL DEFAULT '',
    description text NOT NULL DEFAULT '',
    source_table text NOT NULL,        -- the landed table whose changed rows touch days: `webbank.entry`
    cursor_column text NOT NULL,       -- its change cursor (rows past the watermark are new or changed)
    time_column text NOT NULL,         -- the column whose business day a row belongs to
    sql text NOT NULL,
    file_path text,
    file_hash text NOT NULL,
    synced_at timestamptz NOT NULL DEFAULT now(),
    retired_at timestamptz,
    built_hash text,                   -- the definition the stored table was built from (NULL: not built)
    watermark text,                    -- the newest cursor value folded in
    refreshed_at timestamptz,
    days_rebuilt integer,              -- days rebuilt by the last refresh (all of them on a full build)
    refresh_ms integer,
    error text,                        -- the last refresh's failure, NULL when it succeeded
    error_at timestamptz
);

-- The day range a refresh rebuilds, set by the refresh as `heartbeat.rollup_from` / `heartbeat.rollup_to`
-- (the refresh binds them as constants; in psql they default to everything).
CREATE OR REPLACE FUNCTION heartbeat.rollup_from() RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce(nullif(current_setting('heartbeat.rollup_from', true), '')::timestamptz, '-infinity')
$$;

CREATE OR REPLACE FUNCTION heartbeat.rollup_to() RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce(nullif(current_setting('heartbeat.rollup_to', true), '')::timestamptz, 'infinity')
$$;
