-- Rollups that join a dimension (issue 19): `-- watch: schema.table (cursor c) key = column` in a rollup file
-- names a second table its query reads (a client's tier from client_profile). A row changed there past its own
-- watermark touches the days of the landed table's rows carrying its key, so a per-tier rollup stays exact when
-- a client's tier changes (heartbeat_core/rollups/refresh.py). The spec as written, and the watched table's
-- watermark beside the landed table's, per Postgres table and per warehouse engine.

ALTER TABLE heartbeat.rollup_registry ADD COLUMN IF NOT EXISTS watch text NOT NULL DEFAULT '';
ALTER TABLE heartbeat.rollup_registry ADD COLUMN IF NOT EXISTS watch_watermark text;
ALTER TABLE heartbeat.warehouse_rollup_state ADD COLUMN IF NOT EXISTS watch_watermark text;
