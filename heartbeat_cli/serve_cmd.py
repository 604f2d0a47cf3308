"""`heartbeat serve [--host] [--port] [--no-scheduler]`: cockpit, REST API, /mcp and the scheduler, one process.

Without HEARTBEAT_API_TOKEN the server listens on 127.0.0.1 only (writes are open there), and says so.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

import typer

from heartbeat_cli.errors import CommandError, one_line_errors
from heartbeat_core.settings import get_settings

DEFAULT_PORT = 8787
LOOPBACK = "127.0.0.1"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def resolve_bind(host: str | None, port: int | None) -> tuple[str, int, str | None]:
    """The address to bind and, when the request was narrowed for safety, the sentence that says why."""
    settings = get_settings()
    default_port = urlsplit(settings.public_url).port or DEFAULT_PORT
    chosen_port = port if port is not None else default_port
    if settings.api_token:
        return host or "0.0.0.0", chosen_port, None
    if host and not _is_loopback(host):
        return (
            LOOPBACK,
            chosen_port,
            f"HEARTBEAT_API_TOKEN is not set: binding to {LOOPBACK} only, not {host} (set a token to listen "
            "on other interfaces; writes need it then)",
        )
    return (
        host or LOOPBACK,
        chosen_port,
        f"HEARTBEAT_API_TOKEN is not set: listening on {host or LOOPBACK} only; writes are open to this machine",
    )


def serve(
    host: str | None = None, port: int | None = None, *, scheduler: bool = True, announce: bool = True
) -> None:
    """Run the server in the foreground until interrupted (also what `heartbeat demo` ends with)."""
    import uvicorn

    bind_host, bind_port, note = resolve_bind(host, port)
    from heartbeat_web.app import create_app  # imported on use: other commands need no web stack

    app = create_app(scheduler=scheduler)
    shown = "127.0.0.1" if bind_host in ("0.0.0.0", "::") else bind_host
    if announce:
        if note:
            print(f"heartbeat: {note}")
        else:  # a token is set: reads need a credential too
            print(
                "Reads need a credential: heartbeat keys create viewer|display --name NAME (README, Security)"
            )
        print(f"Cockpit: http://{shown}:{bind_port}/")
        print(f"MCP:     http://{shown}:{bind_port}/mcp")
        print(f"API:     http://{shown}:{bind_port}/api/docs")
        if not scheduler:
            print("Scheduler: off (--no-scheduler)")
    try:
        uvicorn.run(app, host=bind_host, port=bind_port, log_level="warning", access_log=False)
    except OSError as exc:
        raise CommandError(f"cannot listen on {bind_host}:{bind_port}: {exc.strerror or exc}") from None


def register(app: typer.Typer) -> None:
    @app.command("serve")
    @one_line_errors
    def serve_cmd(
        host: str = typer.Option(
            None, "--host", help="Interface to bind (default 127.0.0.1; 0.0.0.0 only with an API token)."
        ),
        port: int = typer.Option(None, "--port", help="Port (default 8787, or HEARTBEAT_PUBLIC_URL's port)."),
        no_scheduler: bool = typer.Option(
            False, "--no-scheduler", help="Do not run the hourly recompute / daily refresh scheduler."
        ),
    ) -> None:
        """Serve the TV cockpit, metric pages, REST API and /mcp (and run the scheduler)."""
        serve(host, port, scheduler=not no_scheduler)
