"""`heartbeat`: the command line. Each group lives in its own module and registers itself here."""

from __future__ import annotations

import typer

from heartbeat_cli import (
    alerts_cmd,
    audit_cmd,
    db_cmd,
    demo_cmd,
    entities_cmd,
    ingest_cmd,
    mcp_cmd,
    metric_gate_cmd,
    metrics_cmd,
    recompute_cmd,
    serve_cmd,
    skills_cmd,
)
from heartbeat_core.settings import set_default_project
from heartbeat_demo import PROJECT_DIR

app = typer.Typer(
    name="heartbeat",
    help="Heartbeat watches a business's data and says what is broken before anyone trips over it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

for module in (
    db_cmd,
    metrics_cmd,
    demo_cmd,
    mcp_cmd,
    serve_cmd,
    metric_gate_cmd,
    skills_cmd,
    audit_cmd,
    recompute_cmd,
    alerts_cmd,
    ingest_cmd,
    entities_cmd,  # ack, changes (issue 13)
):
    module.register(app)

# Until a project directory is configured, the files of the demo project apply (HEARTBEAT_METRIC_DEFS,
# HEARTBEAT_AUDIT_CUTS and HEARTBEAT_SOURCES override them).
set_default_project(PROJECT_DIR)

if __name__ == "__main__":
    app()
