"""`heartbeat`: the command line. Each group lives in its own module and is registered here."""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="heartbeat",
    help="Heartbeat watches a business's data and says what is broken before anyone trips over it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


# One entry per command module; each module exposes `register(app)`.
COMMAND_MODULES = (
    "db_cmd",
    "metrics_cmd",
    "demo_cmd",
    "mcp_cmd",
    "serve_cmd",
    "metric_gate_cmd",
    "skills_cmd",
    "audit_cmd",
    "recompute_cmd",
    "alerts_cmd",
    "ingest_cmd",
)


def _register() -> None:
    for name in COMMAND_MODULES:
        importlib.import_module(f"heartbeat_core.cli.{name}").register(app)


_register()

if __name__ == "__main__":
    app()
