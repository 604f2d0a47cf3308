"""schemathesis against the running server's OpenAPI: no request, valid or not, gets a 5xx."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from heartbeat_web.app import create_app
from tests.web_server import LiveServer

pytestmark = [pytest.mark.db, pytest.mark.slow]


def test_openapi_no_server_errors(mini_world: str, tmp_path: Path) -> None:
    exe = shutil.which("schemathesis", path=str(Path(sys.executable).parent)) or shutil.which("schemathesis")
    assert exe, "schemathesis is a dev dependency (pyproject [dev])"
    srv = LiveServer(lambda: create_app(mcp=False, poll_s=0.2)).start()
    try:
        args = [exe, "run", f"{srv.url}/api/openapi.json", "--checks", "not_a_server_error"]
        args += ["--max-examples", "25", "--generation-deterministic", "--request-timeout", "30"]
        run = subprocess.run(
            [*args, "--workers", "1"],
            capture_output=True,
            text=True,
            timeout=900,
            cwd=tmp_path,
        )
        assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    finally:
        srv.stop()
