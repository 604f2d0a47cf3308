"""`heartbeat demo [--scale N] [--no-serve] [--live]`: the whole product on the demo world."""

from __future__ import annotations

import typer

from heartbeat_cli.errors import CommandError, one_line_errors
from heartbeat_core.formatting import counted


def register(app: typer.Typer) -> None:
    @app.command("demo")
    @one_line_errors
    def demo_cmd(
        scale: int = typer.Option(
            1, "--scale", min=1, max=50, help="World size: 1 ≈ 300k payments, 50 ≈ 15M."
        ),
        seed: int = typer.Option(42, "--seed", help="Random seed: the same seed builds the same world."),
        backfill: int = typer.Option(90, "--backfill", min=0, max=180, help="Days of history to compute."),
        no_serve: bool = typer.Option(
            False, "--no-serve", help="Build, ingest, compute, print the status, exit."
        ),
        live: bool = typer.Option(False, "--live", help="Append new source rows every minute while serving."),
        port: int | None = typer.Option(None, "--port", help="Port for the cockpit and MCP (default 8787)."),
    ) -> None:
        """Build the demo world, ingest it, compute every metric, then serve the cockpit and MCP.

        Always uses the demo project shipped with Heartbeat, wherever it runs from."""
        from heartbeat_cli.metrics_cmd import status_cmd
        from heartbeat_cli.project_opts import use_project
        from heartbeat_demo import PROJECT_DIR
        from heartbeat_demo.pipeline import demo_source_url, live_appender, run_demo

        use_project(PROJECT_DIR)

        result = run_demo(scale=scale, seed=seed, backfill_days=backfill)
        print(f"heartbeat demo: ready in {result.total_seconds:.1f} s\n")
        status_cmd(as_json=False)
        if result.failed_sources:
            print(f"failed sources: {', '.join(result.failed_sources)}")
        if no_serve:
            if result.helpdesk is not None:
                result.helpdesk.close()
            if result.failed_metrics:
                raise CommandError(
                    f"{counted(len(result.failed_metrics), 'metric')} failed: {', '.join(result.failed_metrics)}"
                )
            return
        if live:
            live_appender(demo_source_url())
        from heartbeat_cli.serve_cmd import serve

        serve(port=port)
