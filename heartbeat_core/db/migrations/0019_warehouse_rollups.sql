-- Rollup tables on the warehouse engine (issue 17): in warehouse mode `rollups/<id>.sql` is refreshed on the
-- engine that holds the marts, into the engine's own `rollups.<id>`. Its state lives here in the read model,
-- one row per engine (its URL) and rollup, as `rollup_registry` holds the Postgres table's: what the stored days
-- were built from (file hash @ time zone), the change-cursor watermark of the last refresh, the days it rebuilt
-- and how long it took, or the reason it failed.
CREATE TABLE heartbeat.warehouse_rollup_state (
    warehouse     text        NOT NULL,
    rollup_id     text        NOT NULL,
    built_hash    text,
    watermark     text,
    refreshed_at  timestamptz,
    days_rebuilt  integer,
    refresh_ms    integer,
    error         text,
    error_at      timestamptz,
    PRIMARY KEY (warehouse, rollup_id)
);
