-- Warehouse mode (issue 17): a metric file's engine-specific sections (`-- @value[clickhouse]`), keyed
-- `value[clickhouse]`, written by sync beside value_sql/detail_sql/history_sql. Empty for most metrics.
ALTER TABLE heartbeat.metric_registry ADD COLUMN engine_sql jsonb NOT NULL DEFAULT '{}'::jsonb;
