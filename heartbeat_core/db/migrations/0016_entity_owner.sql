-- Who owns an entity (`-- entity_owner: client:client_id` in a metric header): an invoice belongs to a client.
-- Compute records the owner of every entity it keeps for a metric-day, so acknowledging `client:42` covers the
-- invoices of client 42 in every metric that lists invoices (CONTRACTS.md: acknowledging an entity covers it in
-- every metric). One row per entity: the newest owner seen wins (an invoice does not change hands in practice).

CREATE TABLE heartbeat.entity_owner (
    entity_type text NOT NULL,
    entity_key text NOT NULL,
    owner_type text NOT NULL,
    owner_key text NOT NULL,
    seen_at timestamptz NOT NULL,
    PRIMARY KEY (entity_type, entity_key)
);
CREATE INDEX entity_owner_owner ON heartbeat.entity_owner (owner_type, owner_key);
CREATE TRIGGER entity_owner_changed AFTER INSERT OR UPDATE OR DELETE ON heartbeat.entity_owner
    FOR EACH STATEMENT EXECUTE FUNCTION heartbeat.bump_read_model();
