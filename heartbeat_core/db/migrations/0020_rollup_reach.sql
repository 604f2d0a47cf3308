-- Rollups whose day rows depend on earlier days (issue 19): `-- reach: N days` in a rollup file says a row of
-- day d is computed from source rows of days d-N..d (e.g. each client's gap since its previous active day),
-- so a late row of day t also rebuilds days t+1..t+N, and a metric reads it over whole days (a partial
-- day has no meaning for such a row; heartbeat_core/rollups/read.py). `-- index:` lists more indexes of the stored table (`a; b, c`).

ALTER TABLE heartbeat.rollup_registry ADD COLUMN IF NOT EXISTS reach_days integer NOT NULL DEFAULT 0;
ALTER TABLE heartbeat.rollup_registry ADD COLUMN IF NOT EXISTS index_columns text NOT NULL DEFAULT '';
