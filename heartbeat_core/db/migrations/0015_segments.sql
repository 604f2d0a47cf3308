-- Segments and drivers (issue 14, CONTRACTS.md "Entities and segments").
--
-- A metric may declare dimensions with a `@segments` SQL section (same point-in-time rules as @value) that
-- returns the metric's value per segment (`dimension, segment, value` plus `numerator, denominator` or
-- `weight`); sync stores it in metric_registry.segments_sql. Compute records each metric-day's segment values
-- (bounded: a cap per dimension, and only the recent days of a backfill), so each segment has its own typical
-- band, and the day's drivers (the Adtributor set: the few segments that explain most of the deviation from
-- typical) beside them, with the error when the segment query failed — which never blocks the value. Both
-- tables feed the read model and bump its version.

ALTER TABLE heartbeat.metric_registry ADD COLUMN segments_sql text;

-- One segment's value on one metric-day.
CREATE TABLE heartbeat.segment_value (
    metric_id text NOT NULL REFERENCES heartbeat.metric_registry (metric_id) ON DELETE CASCADE,
    as_of_date date NOT NULL,
    dimension text NOT NULL,
    segment text NOT NULL,
    value double precision,
    numerator double precision,
    denominator double precision,
    weight double precision,
    PRIMARY KEY (metric_id, as_of_date, dimension, segment)
);
CREATE TRIGGER segment_value_changed AFTER INSERT OR UPDATE OR DELETE ON heartbeat.segment_value
    FOR EACH STATEMENT EXECUTE FUNCTION heartbeat.bump_read_model();

-- One metric-day's segment run: the drivers found against each segment's typical, or the error of the query.
CREATE TABLE heartbeat.segment_day (
    metric_id text NOT NULL REFERENCES heartbeat.metric_registry (metric_id) ON DELETE CASCADE,
    as_of_date date NOT NULL,
    segments integer NOT NULL DEFAULT 0,
    drivers jsonb NOT NULL DEFAULT '[]',
    error text,
    computed_at timestamptz NOT NULL,
    PRIMARY KEY (metric_id, as_of_date)
);
CREATE TRIGGER segment_day_changed AFTER INSERT OR UPDATE OR DELETE ON heartbeat.segment_day
    FOR EACH STATEMENT EXECUTE FUNCTION heartbeat.bump_read_model();
