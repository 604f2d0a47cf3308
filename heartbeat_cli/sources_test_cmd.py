"""`heartbeat sources test [SOURCE] [--json]`: run the data tests declared in sources.toml now (issue 18).

Exit 1 when a test fails or cannot run (a bad declaration names the file, source, table and key), so a CI step
or a cron line can gate on it. The verdicts are stored as the recompute job stores them.
"""

from __future__ import annotations

import json

import typer

from heartbeat_cli.errors import CommandError, one_line_errors
from heartbeat_core.formatting import counted


@one_line_errors
def sources_test_cmd(
    source: str | None = typer.Argument(None, help="Only this source (default: every source)."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    accept_schema: bool = typer.Option(
        False, "--accept-schema", help="Take the tables' columns as they are now as the accepted schema."
    ),
) -> None:
    """Run the data tests of sources.toml against the landed tables; exit 1 on a failure."""
    from heartbeat_core.datatests import run_source_tests
    from heartbeat_core.db import connect
    from heartbeat_core.db.migrate import migrate
    from heartbeat_core.ingest.config import SourcesConfigError, load_sources

    try:
        config = load_sources()
    except SourcesConfigError as exc:
        raise CommandError(str(exc)) from None
    if source is not None and source not in config:
        raise CommandError(f"no source {source!r} in sources.toml (known: {', '.join(config) or 'none'})")
    with connect(autocommit=True) as conn:
        migrate(conn)
        results = run_source_tests(conn, source, accept_schema=accept_schema)
    bad = [r for r in results if r.status != "pass"]
    if as_json:
        print(json.dumps({"tests": [r.as_json() for r in results]}, default=str))
    else:
        for r in results:
            cols = ", ".join(r.spec.columns)
            rows = f" ({counted(r.failing_rows, 'failing row')})" if r.failing_rows else ""
            print(f"{r.status.upper():<5} {r.spec.source}.{r.spec.table} {r.spec.test} [{cols}]{rows}")
            if r.message:
                print(f"      {r.message}")
            for row in r.sample[:3] if r.status != "pass" else []:
                print(f"      e.g. {json.dumps(row, default=str)}")
        print(f"{len(results) - len(bad)} of {counted(len(results), 'test')} passed")
    if bad:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    from heartbeat_cli.ingest_cmd import sources_app

    sources_app.command("test")(sources_test_cmd)
