"""`heartbeat ingest [--source NAME]` and `heartbeat sources status|report`: landing source data."""

from __future__ import annotations

import json
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any

import typer

from heartbeat_cli.errors import CommandError, one_line_errors
from heartbeat_core import clock
from heartbeat_core.formatting import counted, format_moment
from heartbeat_core.settings import get_settings

if TYPE_CHECKING:  # the ingest package imports dlt (seconds): commands import it when they run
    from heartbeat_core.ingest import SourceResult
    from heartbeat_core.ingest.config import AnySource

sources_app = typer.Typer(
    help="The sources in sources.toml: their state and their hidden costs.", no_args_is_help=True
)


def _config() -> dict[str, AnySource]:
    from heartbeat_core.ingest.config import SourcesConfigError, load_sources

    try:
        return load_sources()
    except SourcesConfigError as exc:
        raise CommandError(str(exc)) from None


def _chosen(config: dict[str, AnySource], source: list[str] | None) -> list[str]:
    """The sources named with --source (each must exist), else every pulled (non-webhook) source."""
    names = list(source) if source else [n for n, s in config.items() if s.kind != "webhook"]
    unknown = [n for n in names if n not in config]
    if unknown:
        raise CommandError(f"no source {unknown[0]!r} in sources.toml (known: {', '.join(config) or 'none'})")
    return names


def _print_tables(name: str, result: SourceResult) -> None:
    for table in result.tables:
        mark = "FAILED " + (table.error or "") if table.error else f"{table.rows} rows ({table.mode})"
        print(f"  {name}.{table.name}: {mark}  {table.seconds:.1f}s")
    for warning in result.warnings:
        print(f"  warning: {warning}")


@one_line_errors
def ingest_cmd(
    source: list[str] = typer.Option(None, "--source", "-s", help="Land only this source (repeatable)."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Land sources into marts with dlt (all of sources.toml, or --source NAME)."""
    from heartbeat_core.ingest import run_one

    config = _config()
    names = _chosen(config, source)

    def say(line: str) -> None:
        if not as_json:
            print(line, flush=True)

    results = []
    for name in names:
        say(f"{name}: starting ({config[name].kind})")
        result = run_one(name, sources=config, progress=say)
        results.append(result)
        if not as_json:
            _print_tables(name, result)
    if as_json:
        print(json.dumps([r.to_dict() for r in results], default=str))
    failed = [r.source for r in results if not r.ok]
    if failed:
        raise CommandError(f"{len(failed)} of {counted(len(results), 'source')} failed: {', '.join(failed)}")
    if not as_json:
        total = sum(r.rows for r in results)
        seconds = sum(r.seconds for r in results)
        print(f"landed {counted(total, 'row')} from {counted(len(results), 'source')} in {seconds:.1f}s")


@sources_app.command("status")
@one_line_errors
def status_cmd(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """Last load, rows, errors and freshness per source, worst first."""
    from heartbeat_core.db import connect
    from heartbeat_core.readmodel.freshness import sources_status

    config = _config()
    with connect(autocommit=True) as conn:
        rows = [_status_row(s.model_dump()) for s in sources_status(conn, config, all_configured=True)]
    if as_json:
        print(json.dumps(rows, default=str))
        return
    now, tz = clock.now(), get_settings().tz
    for r in rows:
        print(
            f"{r['source']:<18} {r['kind'] or '?':<9} {r['last_status']:<7} freshness {r['freshness']:<6} "
            f"as of {_moment(r['source_as_of'], now, tz)}  "
            f"rows {r['last_rows'] if r['last_rows'] is not None else '-'}  "
            f"last load {_moment(r['last_load_at'], now, tz)}"
        )
        if r["last_error"]:
            print(f"  error: {r['last_error']}")
        if r["last_status"] != "never":
            print(f"  {r['freshness_reason']}; watermark {_moment(r['data_watermark'], now, tz)}")


def _moment(raw: str | None, now: datetime, tz: tzinfo) -> str:
    """An ISO timestamp of the JSON row as people read it ("01:12 UTC (5.8 h ago)"), `-` when absent."""
    return format_moment(datetime.fromisoformat(raw), now, tz) if raw else "-"


def _status_row(fields: dict[str, Any]) -> dict[str, Any]:
    """One source as the command prints it: ISO timestamps, `never` for a source never attempted."""
    row = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in fields.items()}
    row["last_status"] = row["last_status"] or "never"
    return row


@sources_app.command("report")
@one_line_errors
def report_cmd(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """Which tables go through replace (reloaded in full every run) and how big they are."""
    from heartbeat_core.ingest.report import replace_report

    rows = replace_report(sources=_config())
    if as_json:
        print(json.dumps(rows, default=str))
        return
    for r in rows:
        size = f"{r['bytes'] / 1e6:.1f} MB" if r["bytes"] is not None else "not landed"
        flag = "REPLACE" if r["replace"] else "       "
        print(
            f"{flag} {r['source'] + '.' + r['table']:<44} {r['write_disposition'] or '-':<8} {size:>10}  {r['note']}"
        )
    replaced = [r for r in rows if r["replace"]]
    print(f"{len(replaced)} of {counted(len(rows), 'table')} to replace")


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest_cmd)
    app.add_typer(sources_app, name="sources")
