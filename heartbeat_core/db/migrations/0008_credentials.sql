-- Credentials for reads (issue 15, CONTRACTS.md "Security placement"): viewer tokens for people and agents,
-- display keys for wall screens. Only hashes are stored: `key_hash` of the key itself, `cookie_hash` of the
-- value a display's cookie holds (derived from the key, never the key). The admin token stays in
-- HEARTBEAT_API_TOKEN. `write_log` records which credential made every write through the REST API.

CREATE TABLE heartbeat.credential (
    credential_id bigserial PRIMARY KEY,
    kind text NOT NULL CHECK (kind IN ('viewer', 'display')),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 80),
    key_hash text NOT NULL UNIQUE,
    cookie_hash text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL,
    revoked_at timestamptz
);

CREATE UNIQUE INDEX credential_live_name ON heartbeat.credential (name) WHERE revoked_at IS NULL;

CREATE TABLE heartbeat.write_log (
    id bigserial PRIMARY KEY,
    at timestamptz NOT NULL,
    credential text NOT NULL,
    method text NOT NULL,
    path text NOT NULL,
    status integer NOT NULL
);

CREATE INDEX write_log_at ON heartbeat.write_log (at);
