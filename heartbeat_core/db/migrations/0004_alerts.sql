-- Alerts: what each channel was last told about each metric, per-metric snoozes, the evaluation ledger,
-- the notification log (one row per metric transition per channel) and the delivery outbox.
-- Alert state lives here, never in the registry.

-- Per-metric snooze: while `until` is in the future, evaluation leaves the metric alone on every channel.
CREATE TABLE heartbeat.alert_snooze (
    metric_id text PRIMARY KEY REFERENCES heartbeat.metric_registry (metric_id) ON DELETE CASCADE,
    until timestamptz NOT NULL,
    actor text NOT NULL,
    reason text,
    created_at timestamptz NOT NULL
);
CREATE TRIGGER alert_snooze_changed AFTER INSERT OR UPDATE OR DELETE ON heartbeat.alert_snooze
    FOR EACH STATEMENT EXECUTE FUNCTION heartbeat.bump_read_model();

-- What one channel has seen (`*_level`) and been told (`*_notified*`) about one metric. A channel with no
-- rows yet (configured later) receives whatever is firing at its first evaluation.
CREATE TABLE heartbeat.alert_state (
    channel text NOT NULL,
    metric_id text NOT NULL,
    status_level text NOT NULL CHECK (status_level IN ('red', 'amber', 'green', 'no_data')),
    status_since timestamptz NOT NULL,
    status_notified text CHECK (status_notified IN ('red', 'amber')),
    status_notified_at timestamptz,
    freshness_level text NOT NULL CHECK (freshness_level IN ('fresh', 'amber', 'red')),
    freshness_since timestamptz NOT NULL,
    stale_notified boolean NOT NULL DEFAULT false,
    stale_notified_at timestamptz,
    evaluated_at timestamptz NOT NULL,
    PRIMARY KEY (channel, metric_id)
);

-- One row per evaluation (end of a recompute job, or on demand).
CREATE TABLE heartbeat.alert_evaluation (
    evaluation_id bigserial PRIMARY KEY,
    job_id bigint,
    at timestamptz NOT NULL,
    channels text[] NOT NULL DEFAULT '{}',
    metrics integer NOT NULL DEFAULT 0,
    notifications integer NOT NULL DEFAULT 0,
    messages integer NOT NULL DEFAULT 0
);

-- The notification log: one row per (channel, metric, transition). The idempotency key names the transition.
CREATE TABLE heartbeat.alert_notification (
    id bigserial PRIMARY KEY,
    channel text NOT NULL,
    idempotency_key text NOT NULL,
    evaluation_id bigint NOT NULL REFERENCES heartbeat.alert_evaluation (evaluation_id),
    metric_id text NOT NULL,
    kind text NOT NULL CHECK (kind IN ('red', 'amber', 'stale', 'resolved')),
    repeat boolean NOT NULL DEFAULT false,
    previous text,
    status text NOT NULL,
    reason text NOT NULL,
    event jsonb NOT NULL,
    outbox_id bigint,
    created_at timestamptz NOT NULL,
    UNIQUE (channel, idempotency_key)
);
CREATE INDEX alert_notification_metric ON heartbeat.alert_notification (metric_id, created_at DESC);

-- The outbox: one row per HTTP request to send (a grouped message, or one part of a split one).
-- Deliverers claim the oldest due row of a channel with FOR UPDATE SKIP LOCKED (plus a per-channel
-- advisory lock, so one channel is sent in order) and mark it sent in the same transaction.
CREATE TABLE heartbeat.alert_outbox (
    id bigserial PRIMARY KEY,
    channel text NOT NULL,
    idempotency_key text NOT NULL,
    evaluation_id bigint REFERENCES heartbeat.alert_evaluation (evaluation_id),
    part integer NOT NULL DEFAULT 1,
    parts integer NOT NULL DEFAULT 1,
    payload jsonb NOT NULL,
    summary text NOT NULL DEFAULT '',
    state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'failed')),
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    last_attempt_at timestamptz,
    last_status integer,
    last_error text,
    sent_at timestamptz,
    created_at timestamptz NOT NULL,
    UNIQUE (channel, idempotency_key)
);
CREATE INDEX alert_outbox_due ON heartbeat.alert_outbox (channel, id) WHERE state = 'pending';
