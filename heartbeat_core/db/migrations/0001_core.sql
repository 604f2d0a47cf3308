-- Heartbeat's core read model: the metric registry, its history, the point-in-time SQL helpers,
-- source freshness state and the read-model change counter.

-- Point-in-time helpers: the same metric SQL computes today's value or any past day's.
CREATE OR REPLACE FUNCTION heartbeat.as_of() RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce(nullif(current_setting('heartbeat.as_of', true), '')::timestamptz, now())
$$;

CREATE OR REPLACE FUNCTION heartbeat.period_interval(period text) RETURNS interval
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
    CASE period
        WHEN '24h' THEN RETURN interval '24 hours';
        WHEN '7d' THEN RETURN interval '7 days';
        WHEN '30d', 'funnel' THEN RETURN interval '30 days';
        WHEN 'snapshot' THEN RETURN interval '0';
        ELSE RAISE EXCEPTION 'unknown period %, expected snapshot, 24h, 7d, 30d or funnel', quote_literal(period);
    END CASE;
END $$;

-- The start of the metric's window: as_of() minus its period (snapshot: as_of() itself).
CREATE OR REPLACE FUNCTION heartbeat.window_start(period text) RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT heartbeat.as_of() - heartbeat.period_interval(period)
$$;

-- Compute sets heartbeat.period per metric; a plain psql session defaults to 24h.
CREATE OR REPLACE FUNCTION heartbeat.window_start() RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT heartbeat.window_start(coalesce(nullif(current_setting('heartbeat.period', true), ''), '24h'))
$$;

-- The first day an @history section must return (set by backfill; 90 days back in psql).
CREATE OR REPLACE FUNCTION heartbeat.history_from() RETURNS date
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce(nullif(current_setting('heartbeat.history_from', true), '')::date,
                    (heartbeat.as_of() - interval '90 days')::date)
$$;

CREATE TABLE heartbeat.metric_registry (
    metric_id text PRIMARY KEY CHECK (metric_id ~ '^[a-z][a-z0-9_]*$'),
    -- config columns: written only by `heartbeat sync` from metric_defs/<id>.sql
    name text NOT NULL,
    description text NOT NULL DEFAULT '',
    how_to_read text NOT NULL DEFAULT '',
    methodology text NOT NULL DEFAULT '',
    period text NOT NULL CHECK (period IN ('snapshot', '24h', '7d', '30d', 'funnel')),
    unit text NOT NULL,
    direction text NOT NULL CHECK (direction IN ('higher_is_better', 'lower_is_better')),
    sources text[] NOT NULL DEFAULT '{}',
    tags text[] NOT NULL DEFAULT '{}',
    team text,
    value_sql text NOT NULL,
    detail_sql text,
    history_sql text,
    typical_method text NOT NULL DEFAULT 'none' CHECK (typical_method IN ('none', 'rolling_stat')),
    typical_options jsonb NOT NULL DEFAULT '{}',
    initial_norm numeric,
    initial_alert numeric,
    initial_target numeric,
    initial_target_due_date date,
    initial_owner text,
    file_path text,
    file_hash text,
    synced_at timestamptz,
    retired_at timestamptz,
    -- operator columns: tuned live, kept across re-syncs
    norm_value numeric,
    alert_value numeric,
    target_value numeric,
    target_due_date date,
    thresholds_updated_by text,
    thresholds_updated_at timestamptz,
    owner text,
    owner_updated_by text,
    owner_updated_at timestamptz,
    verification_state text NOT NULL DEFAULT 'unverified' CHECK (verification_state IN ('unverified', 'verified')),
    verification_updated_by text,
    verification_updated_at timestamptz,
    -- runtime columns: the rolling benchmark, refreshed from history
    benchmark_mean double precision,
    benchmark_stddev double precision,
    benchmark_points integer,
    benchmark_computed_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- The guard: config columns change only on the sync path, which sets heartbeat.sync = 'on' locally.
CREATE OR REPLACE FUNCTION heartbeat.metric_registry_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    col text;
    config_cols text[] := ARRAY['metric_id', 'name', 'description', 'how_to_read', 'methodology', 'period',
        'unit', 'direction', 'sources', 'tags', 'team', 'value_sql', 'detail_sql', 'history_sql',
        'typical_method', 'typical_options', 'initial_norm', 'initial_alert', 'initial_target',
        'initial_target_due_date', 'initial_owner', 'file_path', 'file_hash', 'synced_at', 'retired_at'];
    old_j jsonb;
    new_j jsonb;
BEGIN
    IF coalesce(current_setting('heartbeat.sync', true), '') = 'on' THEN
        RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    END IF;
    IF TG_OP = 'INSERT' THEN
        RAISE EXCEPTION 'metric_registry rows are created only by heartbeat sync (add metric_defs/%.sql)', NEW.metric_id
            USING ERRCODE = 'insufficient_privilege';
    ELSIF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'metric_registry rows are retired only by heartbeat sync (remove metric_defs/%.sql)', OLD.metric_id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    old_j := to_jsonb(OLD);
    new_j := to_jsonb(NEW);
    FOREACH col IN ARRAY config_cols LOOP
        IF old_j -> col IS DISTINCT FROM new_j -> col THEN
            RAISE EXCEPTION 'metric_registry.% of % is config: edit metric_defs/%.sql and run heartbeat sync',
                col, OLD.metric_id, OLD.metric_id USING ERRCODE = 'insufficient_privilege';
        END IF;
    END LOOP;
    RETURN NEW;
END $$;

CREATE TRIGGER metric_registry_guard
    BEFORE INSERT OR UPDATE OR DELETE ON heartbeat.metric_registry
    FOR EACH ROW EXECUTE FUNCTION heartbeat.metric_registry_guard();

CREATE TABLE heartbeat.metric_history (
    metric_id text NOT NULL REFERENCES heartbeat.metric_registry (metric_id) ON DELETE CASCADE,
    as_of_date date NOT NULL,
    as_of timestamptz NOT NULL,
    value numeric,
    computed_at timestamptz NOT NULL,
    source_as_of timestamptz,
    status text NOT NULL CHECK (status IN ('red', 'amber', 'green', 'no_data')),
    reason text NOT NULL DEFAULT '',
    z double precision,
    norm_value numeric,
    alert_value numeric,
    target_value numeric,
    typical_mean double precision,
    typical_stddev double precision,
    error text,
    duration_ms integer,
    job_id bigint,
    detail jsonb,
    PRIMARY KEY (metric_id, as_of_date)
);
CREATE INDEX metric_history_good_value ON heartbeat.metric_history (metric_id, as_of_date DESC)
    WHERE value IS NOT NULL;

-- Who changed what on the operator columns, and when.
CREATE TABLE heartbeat.operator_edit (
    id bigserial PRIMARY KEY,
    subject_kind text NOT NULL DEFAULT 'metric',
    subject_id text NOT NULL,
    field text NOT NULL,
    old_value text,
    new_value text,
    actor text NOT NULL,
    at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX operator_edit_subject ON heartbeat.operator_edit (subject_kind, subject_id, at DESC);

-- Per-source load state written by ingest: freshness reads it beside <source>._dlt_loads.
CREATE TABLE heartbeat.source_state (
    source text PRIMARY KEY,
    kind text,
    last_attempt_at timestamptz,
    last_success_at timestamptz,
    last_status text,
    last_error text,
    last_rows bigint,
    last_duration_s double precision,
    data_watermark timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- One counter that moves whenever the read model may have changed; readers rebuild only then.
CREATE TABLE heartbeat.read_model_state (
    id boolean PRIMARY KEY DEFAULT true CHECK (id),
    version bigint NOT NULL DEFAULT 0,
    changed_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO heartbeat.read_model_state DEFAULT VALUES;

CREATE OR REPLACE FUNCTION heartbeat.bump_read_model() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE heartbeat.read_model_state SET version = version + 1, changed_at = now();
    RETURN NULL;
END $$;

CREATE TRIGGER metric_registry_changed AFTER INSERT OR UPDATE OR DELETE ON heartbeat.metric_registry
    FOR EACH STATEMENT EXECUTE FUNCTION heartbeat.bump_read_model();
CREATE TRIGGER metric_history_changed AFTER INSERT OR UPDATE OR DELETE ON heartbeat.metric_history
    FOR EACH STATEMENT EXECUTE FUNCTION heartbeat.bump_read_model();
CREATE TRIGGER source_state_changed AFTER INSERT OR UPDATE OR DELETE ON heartbeat.source_state
    FOR EACH STATEMENT EXECUTE FUNCTION heartbeat.bump_read_model();
