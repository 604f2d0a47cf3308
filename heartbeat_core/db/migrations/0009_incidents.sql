-- Incidents (issue 14, CONTRACTS.md): concurrent problems (red, amber, stale) grouped by evidence — shared
-- entities, shared driver segments, stale sources shared by metrics, tables read in common — never by timing
-- alone. The grouping itself is live (readmodel.incidents); these tables keep each incident's identity and
-- history: when it opened, who joined and left, when it resolved, so its id stays stable while members move.

CREATE TABLE heartbeat.incident (
    incident_id text PRIMARY KEY,
    headline text NOT NULL,
    lead_metric_id text NOT NULL,
    status text NOT NULL CHECK (status IN ('red', 'amber', 'stale', 'resolved')),
    members text[] NOT NULL,
    evidence text[] NOT NULL DEFAULT '{}',
    started_at timestamptz NOT NULL,
    opened_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    resolved_at timestamptz
);
CREATE INDEX incident_open ON heartbeat.incident (resolved_at) WHERE resolved_at IS NULL;

-- One membership span: a metric joined an incident at joined_at and left it at left_at (NULL: still in).
CREATE TABLE heartbeat.incident_member (
    incident_id text NOT NULL REFERENCES heartbeat.incident (incident_id) ON DELETE CASCADE,
    metric_id text NOT NULL,
    joined_at timestamptz NOT NULL,
    left_at timestamptz,
    PRIMARY KEY (incident_id, metric_id, joined_at)
);

CREATE TRIGGER incident_changed AFTER INSERT OR UPDATE OR DELETE ON heartbeat.incident
    FOR EACH STATEMENT EXECUTE FUNCTION heartbeat.bump_read_model();
