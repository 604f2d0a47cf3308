-- Data tests per load (issue 18): the rows each dlt load brought into each declared table (the per-load
-- row-volume test's history, counted right after the load, before later merges move rows to newer loads),
-- and per test the newest load it has checked, so the next run inside the recompute job checks only the rows
-- landed since (where the test allows it).

CREATE TABLE heartbeat.load_volume (
    source text NOT NULL,
    table_name text NOT NULL,
    load_id text NOT NULL,             -- dlt's `_dlt_load_id`
    rows bigint NOT NULL,
    landed_at timestamptz NOT NULL,
    PRIMARY KEY (source, table_name, load_id)
);

ALTER TABLE heartbeat.source_test
    ADD COLUMN checked_load_id text,   -- the newest `_dlt_load_id` the last run saw
    ADD COLUMN checked_mode text,      -- `incremental` (only rows landed since) or `full`
    ADD COLUMN checked_rows bigint;    -- rows the last run looked at
