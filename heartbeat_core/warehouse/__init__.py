"""Warehouse mode (issue 17): the marts live in an analytical engine, metric SQL runs there.

The read model (registry, history, entities, incidents, alerts, jobs) stays in Postgres. With
`HEARTBEAT_WAREHOUSE_URL` (or `warehouse_url` in `heartbeat.toml`) set, the heavy part moves to the engine:

- `config`     the URL: `duckdb:///path/marts.duckdb`, `chdb:///path/dir` (in-process ClickHouse),
               `clickhouse://user@host:8123/db` (a server, through clickhouse-connect); BigQuery and Snowflake
               are documented in docs/scale-out.md, untested here;
- `transpile`  one metric SQL (Postgres dialect) to each engine with sqlglot; the `heartbeat.*` helpers become
               bound literals; `-- @value[clickhouse]` sections replace a query that does not transpile;
- `engines`    read-only, time-limited queries per engine (engine settings; a watchdog where there are none);
- `marts`      ingest's landing place in warehouse mode: each source straight into the engine with dlt (DuckDB:
               the `duckdb` destination; chDB: `filesystem` parquet staging into MergeTree; a ClickHouse server:
               the `clickhouse` destination), no copy in the Postgres marts;
- `land`       copies the Postgres marts' tables into a parity copy of an engine (`warehouse parity`);
- `evaluate`   one metric's @value / @detail / @history on the engine, in compute's shapes;
- `parity`     every metric on Postgres and on the engine at the same moment (`heartbeat warehouse parity`).

Unset URL: nothing here runs, compute is exactly what it was.
"""
