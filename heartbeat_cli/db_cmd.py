"""`heartbeat db url|start|stop|status|migrate`: the marts database and the embedded server."""

from __future__ import annotations

import json

import typer

from heartbeat_cli.errors import one_line_errors
from heartbeat_core.db import connect, database_url
from heartbeat_core.db import embedded as embedded_server
from heartbeat_core.db.migrate import applied, migrate
from heartbeat_core.formatting import counted
from heartbeat_core.redaction import redact
from heartbeat_core.settings import get_settings

db = typer.Typer(
    help="The marts database (embedded Postgres unless HEARTBEAT_DATABASE_URL is set).", no_args_is_help=True
)


@db.command("url")
@one_line_errors
def url_cmd() -> None:
    """Print the marts database URL (starts the embedded server if needed)."""
    print(database_url())


@db.command("start")
@one_line_errors
def start_cmd() -> None:
    """Start the embedded server (if used) and apply migrations."""
    with connect() as conn:
        done = migrate(conn)
    print(f"database ready at {redact(database_url())}; {counted(len(done), 'migration')} applied")


@db.command("stop")
@one_line_errors
def stop_cmd() -> None:
    """Stop the embedded server."""
    settings = get_settings()
    if not settings.embedded:
        print("HEARTBEAT_DATABASE_URL is set: the external server is not ours to stop")
        return
    print("stopped" if embedded_server.stop(settings.home) else "not running")


@db.command("status")
@one_line_errors
def status_cmd(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """Whether the database answers, and which migrations it has."""
    settings = get_settings()
    info: dict[str, object] = {"embedded": settings.embedded}
    if settings.embedded:
        info.update(embedded_server.status(settings.home))
    if not settings.embedded or info.get("running"):
        with connect() as conn:
            (info["server_version"],) = conn.execute("SHOW server_version").fetchone() or ("unknown",)
            try:
                info["migrations"] = [f"{v:04d}_{n}" for v, n in applied(conn)]
            except Exception:
                conn.rollback()
                info["migrations"] = []
        info["url"] = redact(database_url())
    if as_json:
        print(json.dumps(info, default=str))
        return
    for key, value in info.items():
        print(f"{key}: {value}")


def register(app: typer.Typer) -> None:
    app.add_typer(db, name="db")
