"""`heartbeat`: the command line. Each group lives in its own module and registers itself here."""

from __future__ import annotations

import typer

from heartbeat_cli import (
    alerts_cmd,
    audit_cmd,
    catalog_cmd,
    db_cmd,
    demo_cmd,
    entities_cmd,
    ingest_cmd,
    init_cmd,
    keys_cmd,
    mcp_cmd,
    metric_gate_cmd,
    metrics_cmd,
    recompute_cmd,
    serve_cmd,
    skills_cmd,
    sources_add_cmd,
    sources_test_cmd,
    warehouse_cmd,
)
from heartbeat_cli.project_opts import project_callback

app = typer.Typer(
    name="heartbeat",
    help="Heartbeat watches a business's data and says what is broken before anyone trips over it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    callback=project_callback,
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
    init_cmd,  # project directory (issue 16)
    sources_add_cmd,
    catalog_cmd,
    keys_cmd,  # credentials (issue 15)
    entities_cmd,  # ack, changes (issue 13)
    sources_test_cmd,  # data tests (issue 18)
    warehouse_cmd,  # warehouse mode (issue 17)
):
    module.register(app)

if __name__ == "__main__":
    app()
