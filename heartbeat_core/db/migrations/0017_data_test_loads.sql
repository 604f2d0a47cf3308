-- Data tests per load (issue 18): the rows each dlt load brought into each declared table (the per-load
-- row-volume test's history, as ingest counted them), and per test the newest load id or cursor value it has
-- checked, so the next run inside the recompute job checks only the rows landed since (where the test allows).

CREATE TABLE heartbeat.load_volume (
    source text NOT NULL,
    table_name text NOT NULL,
    load_id text NOT NULL,             -- dlt's `_dlt_load_id`
    rows bigint NOT NULL,
    landed_at timestamptz NOT NULL,
    PRIMARY KEY (source, table_name, load_id)
);

ALTER TABLE heartbeat.source_test
    ADD COLUMN checked_mark text,      -- the newest `_dlt_load_id` (or cursor value) the last run saw
    ADD COLUMN checked_mode text,      -- `incremental` (only rows landed since) or `full`
    ADD COLUMN checked_rows bigint;    -- rows the last run looked at
