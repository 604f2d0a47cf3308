"""`heartbeat warehouse parity|transpile`: warehouse mode's proof and its looking glass (docs/scale-out.md)."""

from __future__ import annotations

import json
import sys
from typing import Any

import typer

from heartbeat_cli.errors import CommandError, one_line_errors
from heartbeat_core.formatting import counted

warehouse_app = typer.Typer(
    help="Warehouse mode: metric SQL on DuckDB or ClickHouse (docs/scale-out.md).", no_args_is_help=True
)


@warehouse_app.command("parity")
@one_line_errors
def parity_cmd(
    engine: list[str] = typer.Option(
        None, "--engine", "-e", help="duckdb or chdb (repeatable; default: both, the engines that run here)."
    ),
    ids: list[str] = typer.Argument(None, help="Metric ids (default: every active metric)."),
    as_json: bool = typer.Option(False, "--json", help='{"metrics": [{metric_id, engine, postgres, ...}]}'),
) -> None:
    """Land the current marts into each engine, compute every metric there and in Postgres at the same
    moment, print both values per metric; exit 1 on any mismatch or failure."""
    from heartbeat_core import clock
    from heartbeat_core.db import connect
    from heartbeat_core.db.connection import database_url
    from heartbeat_core.metrics.registry import active_metrics
    from heartbeat_core.settings import get_settings
    from heartbeat_core.warehouse.config import WarehouseError
    from heartbeat_core.warehouse.parity import LOCAL_ENGINES, ParityRow, run_parity

    engines = engine or list(LOCAL_ENGINES)
    unknown = [e for e in engines if e not in LOCAL_ENGINES]
    if unknown:
        raise CommandError(f"--engine {unknown[0]!r}: expected one of {', '.join(LOCAL_ENGINES)}")

    def say(row: ParityRow) -> None:
        if as_json:
            return
        mark = "match" if row.match else "MISMATCH"
        extra = (" (override)" if row.override else "") + (
            f" (rollups: {row.rollups})" if row.rollups else ""
        )
        print(
            f"{row.engine:7} {row.metric_id:40} postgres {row.postgres!s:>14}  {row.engine} {row.warehouse!s:>14}  {mark}{extra}"
        )
        if row.error:
            print(f"        {row.error}", file=sys.stderr)

    with connect() as conn:
        conn.autocommit = False
        metrics = active_metrics(conn, ids or None)
        conn.commit()
        try:
            report = run_parity(
                conn,
                database_url(),
                metrics,
                engines,
                home=get_settings().home,
                as_of=clock.now(),
                on_row=say,
            )
        except WarehouseError as exc:
            raise CommandError(str(exc)) from None
    if as_json:
        print(json.dumps(report.as_json()))
    else:
        _summary(report, engines)
    if not report.ok:
        raise typer.Exit(1)


def _summary(report: Any, engines: list[str]) -> None:
    """What was landed, each rollup's refresh on each engine, and the match count per engine."""
    for landed in report.landed:
        print(
            f"landed {landed.rows:,} rows in {len(landed.tables)} tables into {landed.engine} in {landed.seconds:.1f} s"
        )
    for name, refreshed in report.refreshed.items():
        for result in refreshed.values():
            done = result.error or (
                f"{'built' if result.full else 'refreshed'} {counted(result.days_rebuilt, 'day')} in {result.seconds:.1f} s"
            )
            print(f"rollup {result.rollup_id} on {name}: {done}")
    for name in engines:
        rows = [r for r in report.rows if r.engine == name]
        overrides = report.overrides(name)
        print(
            f"{name}: {sum(r.match for r in rows)}/{len(rows)} match; {counted(len(overrides), 'metric')} with an "
            f"engine-specific section{': ' + ', '.join(overrides) if overrides else ''}"
        )


@warehouse_app.command("transpile")
@one_line_errors
def transpile_cmd(
    metric_id: str = typer.Argument(..., help="A metric id (its file in metric_defs)."),
    engine: str = typer.Option(
        "clickhouse", "--engine", "-e", help="duckdb, clickhouse, bigquery or snowflake."
    ),
) -> None:
    """Print a metric's sections as the engine would run them (moments bound at now, its own period's window)."""
    from heartbeat_core import clock
    from heartbeat_core.compute.binding import nominal_moments
    from heartbeat_core.metrics.definition import parse_metric_file
    from heartbeat_core.metrics.gate import resolve_target, to_registry_metric
    from heartbeat_core.metrics.shared_sql import SharedSQL, fragment_dir
    from heartbeat_core.settings import get_settings
    from heartbeat_core.warehouse.transpile import TranspileError, for_engine

    settings = get_settings()
    path = resolve_target(metric_id, settings.metric_defs)
    shared = SharedSQL(fragment_dir(path, settings.shared_sql_override))
    metric = to_registry_metric(parse_metric_file(path, shared=shared))
    moments = nominal_moments(clock.now(), settings.tz, metric.period)
    failed = False
    for section in ("value", "detail", "history"):
        try:
            ready = for_engine(metric, section, engine, moments, settings.tz)
        except TranspileError as exc:
            print(f"-- @{section}: {exc}", file=sys.stderr)
            failed = True
            continue
        if ready is not None:
            print(f"-- @{section}{' (override)' if ready.override else ''}\n{ready.sql};\n")
    if failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(warehouse_app, name="warehouse")
