"""The global `--project-dir DIR` option: names the project directory for every command.

It sets `HEARTBEAT_PROJECT` for this process (and the processes it starts), so the core finds the project the
one way it always does (`heartbeat_core.project`). Named `--project-dir`, not `--project`, so it never
clashes with `skills install --project`.
"""

from __future__ import annotations

import os
from pathlib import Path

import typer

from heartbeat_core.project import PROJECT_ENV
from heartbeat_core.settings import reset_settings


def use_project(directory: Path) -> None:
    """Make `directory` the project for the rest of this process."""
    os.environ[PROJECT_ENV] = str(directory.expanduser().resolve())
    reset_settings()


def project_callback(
    project_dir: Path | None = typer.Option(
        None,
        "--project-dir",
        envvar=PROJECT_ENV,
        help="The project directory (holds heartbeat.toml). Default: the nearest heartbeat.toml from the "
        "current directory upwards.",
        show_envvar=True,
    ),
) -> None:
    """Heartbeat watches a business's data and says what is broken before anyone trips over it."""
    if project_dir is not None:
        use_project(project_dir)
