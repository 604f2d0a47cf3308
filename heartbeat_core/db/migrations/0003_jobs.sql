-- The recompute job ledger (one row per job; single-flight is the advisory lock plus the partial unique
-- index below) and the scheduler's last-run times.

CREATE TABLE heartbeat.recompute_job (
    job_id bigserial PRIMARY KEY,
    trigger text NOT NULL,
    requested_by text,
    request jsonb NOT NULL DEFAULT '{}',
    state text NOT NULL DEFAULT 'queued'
        CHECK (state IN ('queued', 'running', 'succeeded', 'partial', 'failed', 'abandoned')),
    phase text NOT NULL DEFAULT 'ingest' CHECK (phase IN ('ingest', 'compute', 'typical', 'alerts', 'done')),
    done integer NOT NULL DEFAULT 0,
    total integer NOT NULL DEFAULT 0,
    current_step text,
    sources jsonb NOT NULL DEFAULT '[]',
    metrics jsonb NOT NULL DEFAULT '[]',
    hooks jsonb NOT NULL DEFAULT '[]',
    created_at timestamptz NOT NULL DEFAULT now(),
    started_at timestamptz,
    finished_at timestamptz,
    heartbeat_at timestamptz,
    error text,
    pid integer,
    host text
);

-- At most one active job, whatever happens to the advisory locks.
CREATE UNIQUE INDEX recompute_job_one_active ON heartbeat.recompute_job ((true))
    WHERE state IN ('queued', 'running');
CREATE INDEX recompute_job_recent ON heartbeat.recompute_job (job_id DESC);

CREATE TRIGGER recompute_job_changed AFTER INSERT OR UPDATE OR DELETE ON heartbeat.recompute_job
    FOR EACH STATEMENT EXECUTE FUNCTION heartbeat.bump_read_model();

-- The in-process scheduler: the last cron tick each schedule ran for, so a missed tick runs once at start.
CREATE TABLE heartbeat.schedule_state (
    name text PRIMARY KEY,
    expression text NOT NULL,
    last_tick_at timestamptz,
    last_started_at timestamptz,
    last_finished_at timestamptz,
    last_job_id bigint,
    last_error text
);

-- Waiters (wait_for_job, the CLI's progress bar) LISTEN instead of polling hard.
CREATE OR REPLACE FUNCTION heartbeat.notify_job() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('heartbeat_job', NEW.job_id::text);
    RETURN NULL;
END $$;

CREATE TRIGGER recompute_job_notify AFTER INSERT OR UPDATE ON heartbeat.recompute_job
    FOR EACH ROW EXECUTE FUNCTION heartbeat.notify_job();
