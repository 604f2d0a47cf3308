-- Audit cuts: small charts with prose that answer the questions a red tile raises.
-- audit_cuts/<cut_id>.py is the source of truth for the config columns (written by `heartbeat sync`);
-- owner and verification are tuned live by operators; snapshots hold the last good payload per window.

CREATE TABLE heartbeat.audit_cut_registry (
    cut_id text PRIMARY KEY CHECK (cut_id ~ '^[a-z][a-z0-9_]*$'),
    -- config columns: written only by sync from the module's META
    page text NOT NULL CHECK (page ~ '^[a-z][a-z0-9_-]*$'),
    title text NOT NULL,
    kind text NOT NULL CHECK (kind IN ('bar', 'line', 'stacked', 'funnel', 'table', 'heat_table')),
    description text NOT NULL DEFAULT '',
    how_to_read text NOT NULL DEFAULT '',
    window_default text NOT NULL,
    windows text[] NOT NULL,
    metric_ids text[] NOT NULL DEFAULT '{}',
    position integer NOT NULL DEFAULT 100,
    initial_owner text,
    file_path text,
    file_hash text,
    synced_at timestamptz,
    retired_at timestamptz,
    -- operator columns: kept across re-syncs
    owner text,
    owner_updated_by text,
    owner_updated_at timestamptz,
    verification_state text NOT NULL DEFAULT 'unverified' CHECK (verification_state IN ('unverified', 'verified')),
    verification_updated_by text,
    verification_updated_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK (window_default = ANY (windows))
);
CREATE INDEX audit_cut_registry_page ON heartbeat.audit_cut_registry (page, position, cut_id)
    WHERE retired_at IS NULL;
CREATE INDEX audit_cut_registry_metrics ON heartbeat.audit_cut_registry USING gin (metric_ids);

-- The last good payload per (cut, window); a failed refresh records its error beside it.
CREATE TABLE heartbeat.audit_cut_snapshot (
    cut_id text NOT NULL REFERENCES heartbeat.audit_cut_registry (cut_id) ON DELETE CASCADE,
    window_key text NOT NULL,
    payload jsonb,
    computed_at timestamptz,
    duration_ms integer,
    attempted_at timestamptz NOT NULL,
    error text,
    error_at timestamptz,
    PRIMARY KEY (cut_id, window_key)
);

-- Readers of audit pages rebuild only when this counter moves (registry edits, snapshot refreshes).
CREATE TABLE heartbeat.audit_state (
    id boolean PRIMARY KEY DEFAULT true CHECK (id),
    version bigint NOT NULL DEFAULT 0,
    changed_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO heartbeat.audit_state DEFAULT VALUES;

CREATE OR REPLACE FUNCTION heartbeat.bump_audit_state() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE heartbeat.audit_state SET version = version + 1, changed_at = now();
    RETURN NULL;
END $$;

CREATE TRIGGER audit_cut_registry_changed AFTER INSERT OR UPDATE OR DELETE ON heartbeat.audit_cut_registry
    FOR EACH STATEMENT EXECUTE FUNCTION heartbeat.bump_audit_state();
CREATE TRIGGER audit_cut_snapshot_changed AFTER INSERT OR UPDATE OR DELETE ON heartbeat.audit_cut_snapshot
    FOR EACH STATEMENT EXECUTE FUNCTION heartbeat.bump_audit_state();
