"""schemathesis against the running server's OpenAPI, with a token set: with the admin token no request,
valid or not, gets a 5xx; without a credential every request gets a 401 and no data."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from heartbeat_core.settings import reset_settings
from heartbeat_web.app import create_app
from tests.web_server import LiveServer

pytestmark = [pytest.mark.db, pytest.mark.slow]

REPO = Path(__file__).resolve().parent.parent
TOKEN = "s3cret-token-for-tests"


@pytest.fixture
def gated(mini_world: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveServer]:
    monkeypatch.setenv("HEARTBEAT_API_TOKEN", TOKEN)
    reset_settings()
    srv = LiveServer(lambda: create_app(mcp=False, poll_s=0.2)).start()
    yield srv
    srv.stop()


def _schemathesis(srv: LiveServer, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("schemathesis", path=str(Path(sys.executable).parent)) or shutil.which("schemathesis")
    assert exe, "schemathesis is a dev dependency (pyproject [dev])"
    schema = tmp_path / "openapi.json"  # the schema itself needs a credential now
    schema.write_bytes(
        httpx.get(srv.url + "/api/openapi.json", headers={"Authorization": f"Bearer {TOKEN}"}).content
    )
    args = [exe, "run", str(schema), "--url", srv.url, "--max-examples", "25", "--generation-deterministic"]
    args += ["--request-timeout", "30", "--workers", "1", *extra]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.schemathesis_hooks", "PYTHONPATH": str(REPO)}
    return subprocess.run(args, capture_output=True, text=True, timeout=900, cwd=tmp_path, env=env)


def test_openapi_no_server_errors_with_the_admin_token(gated: LiveServer, tmp_path: Path) -> None:
    run = _schemathesis(
        gated, tmp_path, "--checks", "not_a_server_error", "-H", f"Authorization: Bearer {TOKEN}"
    )
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]


def test_openapi_only_401_without_a_credential(gated: LiveServer, tmp_path: Path) -> None:
    # /healthz is open by design (liveness, no metric data)
    run = _schemathesis(
        gated, tmp_path, "--checks", "only_401,not_a_server_error", "--exclude-path", "/healthz"
    )
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert "only_401" in run.stdout
