"""`python -m heartbeat_cli`: the same command as `heartbeat` (e.g. `python -I -m heartbeat_cli --help`)."""

from heartbeat_cli.main import app

app(prog_name="heartbeat")
