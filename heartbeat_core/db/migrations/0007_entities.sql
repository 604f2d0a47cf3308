-- Entities inside a metric (issue 13, CONTRACTS.md "Entities and segments").
--
-- A metric may declare the entity its detail rows list (`-- entity: client:client_id`, optional label and
-- weight columns); sync stores the declaration in metric_registry.entity. Each compute records the entities
-- present at its as-of moment as spans (one row per continuous presence, extended day by day, not a row per
-- day), the exact totals of that metric-day, and the events new / worse / gone. Every table that feeds the read
-- model bumps its version.

ALTER TABLE heartbeat.metric_registry ADD COLUMN entity jsonb;

-- One continuous presence of one entity in one metric: present every as-of day from first_seen to last_seen.
-- weight is the weight at last_seen, prior_weight the weight on the day before last_seen (for `worse`).
CREATE TABLE heartbeat.entity_span (
    id bigserial PRIMARY KEY,
    metric_id text NOT NULL REFERENCES heartbeat.metric_registry (metric_id) ON DELETE CASCADE,
    entity_type text NOT NULL,
    entity_key text NOT NULL,
    label text,
    first_seen date NOT NULL,
    last_seen date NOT NULL,
    weight double precision,
    prior_weight double precision,
    first_seen_at timestamptz NOT NULL,
    CHECK (first_seen <= last_seen)
);
CREATE INDEX entity_span_metric_last ON heartbeat.entity_span (metric_id, last_seen, entity_key);
CREATE INDEX entity_span_subject ON heartbeat.entity_span (entity_type, entity_key);
CREATE TRIGGER entity_span_changed AFTER INSERT OR UPDATE OR DELETE ON heartbeat.entity_span
    FOR EACH STATEMENT EXECUTE FUNCTION heartbeat.bump_read_model();

-- Exact totals of the full key set of one metric-day (the spans hold at most the cap of keys per day), and the
-- summary the read model shows (`shown`: the heaviest entities and the day's new ones, with since and when each
-- was first recorded), written with the spans so a snapshot reads one row per metric.
CREATE TABLE heartbeat.entity_total (
    metric_id text NOT NULL REFERENCES heartbeat.metric_registry (metric_id) ON DELETE CASCADE,
    as_of_date date NOT NULL,
    entity_type text NOT NULL,
    total_count bigint NOT NULL,
    total_weight double precision,
    capped boolean NOT NULL DEFAULT false,
    shown jsonb NOT NULL DEFAULT '{}',
    computed_at timestamptz NOT NULL,
    PRIMARY KEY (metric_id, as_of_date)
);

-- What happened to an entity on an as-of day: it appeared, its weight grew by the configured share, it left.
CREATE TABLE heartbeat.entity_event (
    id bigserial PRIMARY KEY,
    metric_id text NOT NULL REFERENCES heartbeat.metric_registry (metric_id) ON DELETE CASCADE,
    entity_type text NOT NULL,
    entity_key text NOT NULL,
    kind text NOT NULL CHECK (kind IN ('new', 'worse', 'gone')),
    as_of_date date NOT NULL,
    label text,
    weight double precision,
    previous_weight double precision,
    recorded_at timestamptz NOT NULL,
    UNIQUE (metric_id, entity_type, entity_key, kind, as_of_date)
);
CREATE INDEX entity_event_recorded ON heartbeat.entity_event (recorded_at);
CREATE TRIGGER entity_event_changed AFTER INSERT OR UPDATE OR DELETE ON heartbeat.entity_event
    FOR EACH STATEMENT EXECUTE FUNCTION heartbeat.bump_read_model();

-- Acknowledgement of a subject: a metric (`metric`, metric_id) or an entity (`entity`, `{type}:{key}`, every
-- metric). Grown from alert_snooze, which stays as the per-metric synonym's store of record.
CREATE TABLE heartbeat.acknowledgement (
    subject_type text NOT NULL CHECK (subject_type IN ('metric', 'entity')),
    subject_id text NOT NULL,
    actor text NOT NULL,
    note text,
    until timestamptz,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (subject_type, subject_id)
);
CREATE TRIGGER acknowledgement_changed AFTER INSERT OR UPDATE OR DELETE ON heartbeat.acknowledgement
    FOR EACH STATEMENT EXECUTE FUNCTION heartbeat.bump_read_model();
