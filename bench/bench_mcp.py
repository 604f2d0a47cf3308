"""Benchmark: MCP `what_is_red` and `today` in-process with 300 metrics x 365 days of history.

    .venv/bin/python bench/bench_mcp.py [--metrics 300] [--days 365] [--calls 500]

Uses the Postgres server at HEARTBEAT_BENCH_DATABASE_URL (any database on it) or else an embedded server in
~/.cache/heartbeat-bench; a scratch database is created, filled directly in SQL (registry rows through the
sync path's session flag, history by generate_series, a few sources with dlt load tables) and dropped.
Prints p50/p95/p99/max per tool through a real in-process `mcp.Client` session (JSON-RPC objects, validation,
structured output), plus the same through the `Heartbeat` object alone, the cold snapshot build, the
answer sizes and the `tools/list` size. Record results in bench/RESULTS.md under "MCP".
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import psycopg

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from heartbeat_core.db import embedded, reset_pool  # noqa: E402
from heartbeat_core.db.connection import with_database  # noqa: E402
from heartbeat_core.db.migrate import migrate  # noqa: E402
from heartbeat_core.settings import reset_settings  # noqa: E402

SOURCES = ["shop", "billing", "crm", "support", "fx", "ads"]


def admin_url() -> str:
    external = os.environ.get("HEARTBEAT_BENCH_DATABASE_URL")
    if external:
        return with_database(external, "postgres")
    return embedded.ensure_running(Path.home() / ".cache" / "heartbeat-bench")


def fill(url: str, metrics: int, days: int) -> float:
    """A registry of `metrics` metrics and `days` days of history each, generated in SQL."""
    started = time.perf_counter()
    with psycopg.connect(url) as conn:
        migrate(conn)
        conn.commit()
        with conn.transaction():
            conn.execute("SET LOCAL heartbeat.sync = 'on'")
            conn.execute(
                """
                INSERT INTO heartbeat.metric_registry
                    (metric_id, name, description, how_to_read, period, unit, direction, sources, tags, team,
                     value_sql, typical_method, typical_options, norm_value, alert_value, target_value, owner,
                     verification_state, benchmark_mean, benchmark_stddev, benchmark_points, synced_at)
                SELECT 'bench_metric_' || lpad(g::text, 4, '0'),
                       'Bench metric ' || g, 'Generated for the MCP benchmark.', 'Lower is better.',
                       (ARRAY['24h', '7d', '30d', 'snapshot'])[1 + g %% 4],
                       (ARRAY['count', 'money:EUR', 'pct', 'clients'])[1 + g %% 4],
                       CASE WHEN g %% 3 = 0 THEN 'higher_is_better' ELSE 'lower_is_better' END,
                       ARRAY[(%(src)s::text[])[1 + g %% 6], (%(src)s::text[])[1 + (g + 1) %% 6]],
                       ARRAY['bench'], (ARRAY['finance', 'sales', 'ops', 'support'])[1 + g %% 4],
                       'SELECT 1 AS value',
                       CASE WHEN g %% 5 = 0 THEN 'rolling_stat' ELSE 'none' END,
                       '{}'::jsonb,
                       CASE WHEN g %% 3 = 0 THEN 40 ELSE 60 END,
                       CASE WHEN g %% 3 = 0 THEN 20 ELSE 80 END,
                       CASE WHEN g %% 7 = 0 THEN (CASE WHEN g %% 3 = 0 THEN 90 ELSE 10 END) END,
                       'owner' || (g %% 13) || '@example.com',
                       CASE WHEN g %% 4 = 0 THEN 'verified' ELSE 'unverified' END,
                       CASE WHEN g %% 5 = 0 THEN 50 END, CASE WHEN g %% 5 = 0 THEN 8 END,
                       CASE WHEN g %% 5 = 0 THEN 30 END, now()
                FROM generate_series(1, %(metrics)s) g
                """,
                {"src": SOURCES, "metrics": metrics},
            )
        conn.execute(
            """
            INSERT INTO heartbeat.metric_history
                (metric_id, as_of_date, as_of, value, computed_at, source_as_of, status, reason, norm_value,
                 alert_value)
            SELECT r.metric_id, d::date, d + interval '1 day', v.value, d + interval '1 day',
                   d + interval '23 hours',
                   CASE WHEN r.direction = 'lower_is_better' THEN
                        CASE WHEN v.value >= r.alert_value THEN 'red' WHEN v.value >= r.norm_value THEN 'amber'
                             ELSE 'green' END
                   ELSE CASE WHEN v.value <= r.alert_value THEN 'red' WHEN v.value <= r.norm_value THEN 'amber'
                             ELSE 'green' END END,
                   'bench', r.norm_value, r.alert_value
            FROM heartbeat.metric_registry r
            CROSS JOIN generate_series(current_date - (%(days)s - 1), current_date, interval '1 day') d
            CROSS JOIN LATERAL (SELECT round((50 + 35 * sin(extract(epoch FROM d) / 86400 / 9
                                       + hashtext(r.metric_id) %% 100))::numeric, 2) AS value) v
            """,
            {"days": days},
        )
        for index, source in enumerate(SOURCES):
            age = "4 days" if index == 4 else "20 minutes"
            conn.execute(f"CREATE SCHEMA {source}")
            conn.execute(
                f"""CREATE TABLE {source}._dlt_loads (load_id text NOT NULL, schema_name text,
                    status bigint NOT NULL, inserted_at timestamptz NOT NULL, schema_version_hash text)"""
            )
            conn.execute(
                f"INSERT INTO {source}._dlt_loads VALUES ('1', %s, 0, now() - interval '{age}', 'x')",
                (source,),
            )
            conn.execute(
                "INSERT INTO heartbeat.source_state (source, kind, last_attempt_at, last_success_at, last_status)"
                f" VALUES (%s, 'sql', now() - interval '{age}', now() - interval '{age}', 'succeeded')",
                (source,),
            )
        conn.commit()
        conn.execute("VACUUM ANALYZE")
    return time.perf_counter() - started


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    q = statistics.quantiles(ordered, n=100)
    return (
        f"p50 {q[49] * 1000:6.2f} ms  p95 {q[94] * 1000:6.2f} ms  p99 {q[98] * 1000:6.2f} ms  "
        f"max {ordered[-1] * 1000:6.2f} ms"
    )


async def timed(call: Callable[[], Awaitable[Any]], calls: int) -> list[float]:
    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        await call()
        samples.append(time.perf_counter() - started)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--metrics", type=int, default=300)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--calls", type=int, default=500)
    args = parser.parse_args()
    admin = admin_url()
    name = f"bench_mcp_{secrets.token_hex(3)}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
        version = conn.execute("SELECT version()").fetchone()
    url = with_database(admin, name)
    print(
        f"# MCP benchmark — {platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )
    print(f"# server: {version[0] if version else '?'}")
    try:
        seconds = fill(url, args.metrics, args.days)
        print(
            f"fill: {args.metrics} metrics x {args.days} days = {args.metrics * args.days} history rows in {seconds:.1f} s"
        )
        os.environ["HEARTBEAT_DATABASE_URL"] = url
        os.environ["HEARTBEAT_HOME"] = tempfile.mkdtemp(prefix="heartbeat-bench-mcp-")
        reset_settings()
        reset_pool()
        run(args.calls)
    finally:
        reset_pool()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(calls: int) -> None:
    from mcp import Client

    from heartbeat_core import readmodel
    from heartbeat_core.db import connect
    from heartbeat_mcp import Heartbeat, build_server
    from heartbeat_mcp.tools.triage import build_today, build_what_is_red

    with connect() as conn:
        started = time.perf_counter()
        snapshot = readmodel.cockpit_snapshot(conn)
        print(
            f"cold cockpit_snapshot: {(time.perf_counter() - started) * 1000:.0f} ms "
            f"({len(snapshot.metrics)} metrics, counts {snapshot.counts})"
        )

    hb = Heartbeat(actor="bench")
    for label, fn in (
        ("Heartbeat.what_is_red", lambda: build_what_is_red(hb.snapshot())),
        ("Heartbeat.today", lambda: build_today(hb, hb.snapshot())),
    ):
        fn()
        samples = []
        for _ in range(calls):
            started = time.perf_counter()
            fn()
            samples.append(time.perf_counter() - started)
        print(f"{label:32s} {percentiles(samples)}")

    server = build_server(hb)

    async def direct() -> None:
        for tool in ("what_is_red", "today"):

            async def call(tool: str = tool) -> None:
                await server.call_tool(tool, {})

            samples = await timed(call, calls)
            print(f"{'MCPServer.call_tool ' + tool:32s} {percentiles(samples)}")

    anyio.run(direct)

    async def session() -> None:
        async with Client(server) as client:
            listed = await client.list_tools()
            size = len(listed.model_dump_json(by_alias=True, exclude_none=True))
            wire = len(json.dumps(listed.model_dump(by_alias=True, exclude_none=True), ensure_ascii=False))
            print(
                f"tools/list: {size} chars compact, {wire} as the client serialises it (json.dumps) "
                f"≈ {wire // 4} tokens, {len(listed.tools)} tools"
            )
            for tool, arguments in (("what_is_red", {}), ("today", {})):
                result = await client.call_tool(tool, arguments)
                assert not result.is_error, result.content
                size = len(result.model_dump_json(by_alias=True, exclude_none=True))
                text = len(result.content[0].text)  # type: ignore[union-attr]
                print(f"{tool} answer: {size} chars in all (text block {text}) ≈ {size // 4} tokens")

                async def call(tool: str = tool, arguments: dict[str, Any] = arguments) -> None:
                    await client.call_tool(tool, arguments)

                samples = await timed(call, calls)
                print(f"{'Client.call_tool ' + tool:32s} {percentiles(samples)}")
            builds = hb.cache.builds
            print(
                f"snapshot builds during the run: {builds} (version-gated, max_age {hb.cache.max_age_s:.0f} s)"
            )

    anyio.run(session)


if __name__ == "__main__":
    main()
