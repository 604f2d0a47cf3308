"""`heartbeat init DIR`: create a project directory (the work is `heartbeat_core.project_init`)."""

from __future__ import annotations

from pathlib import Path

import typer

from heartbeat_cli.errors import CommandError, one_line_errors
from heartbeat_core.project_init import InitError, init_project


def register(app: typer.Typer) -> None:
    @app.command("init")
    @one_line_errors
    def init_cmd(
        directory: Path = typer.Argument(..., help="Where to create the project (created if missing)."),
    ) -> None:
        """Create a project: heartbeat.toml, sources.toml, metric_defs/ with a worked example, .mcp.json,
        the agent skills and a README of next steps. Never overwrites a file."""
        from heartbeat_demo import SKILLS_DIR

        try:
            result = init_project(directory, SKILLS_DIR)
        except (InitError, OSError) as exc:
            raise CommandError(str(exc)) from None
        for path in result.written:
            print(path.relative_to(result.root))
        print(f"created the project {result.root} ({len(result.written)} files)")
        print("next: cd into it, then `heartbeat ingest && heartbeat metric validate --all` (see README.md)")
