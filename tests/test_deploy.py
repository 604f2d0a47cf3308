"""docker-compose.yml and the Dockerfile: the compose file validates against the Compose Specification's JSON
schema (check-jsonschema ships it: offline), the conventions hold (healthchecks, named volume, non-root,
secrets from an env file, a demo profile), and the same topology — `heartbeat serve` on a mounted project
against an external Postgres with the compose file's environment — runs here against the system PostgreSQL.
No Docker daemon runs on these machines, so the image itself is not built here."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.conftest import REPO_ROOT
from tests.system_pg import database_factory, pick_server
from tests.wheel_env import free_port

COMPOSE = REPO_ROOT / "docker-compose.yml"
DOCKERFILE = REPO_ROOT / "Dockerfile"
BIN = Path(sys.executable).parent


def _compose() -> dict[str, Any]:
    return dict(yaml.safe_load(COMPOSE.read_text()))


def test_compose_file_validates_against_the_compose_specification() -> None:
    done = subprocess.run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    broken = COMPOSE.read_text().replace(
        "    restart: unless-stopped\n", "    restart: sometimes\n    bogus_key: 1\n", 1
    )
    bad = Path(os.environ.get("TMPDIR", "/tmp")) / f"compose-bad-{os.getpid()}.yml"
    bad.write_text(broken)
    try:
        failed = subprocess.run(
            [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(bad)],
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        bad.unlink()
    assert failed.returncode != 0 and "bogus_key" in failed.stdout + failed.stderr


def test_compose_and_dockerfile_follow_the_conventions() -> None:
    spec = _compose()
    marts, hb, demo = (spec["services"][n] for n in ("marts", "heartbeat", "demo"))
    assert "pg_isready" in " ".join(marts["healthcheck"]["test"])
    assert any(v.startswith("marts-data:") for v in marts["volumes"]) and "marts-data" in spec["volumes"]
    assert hb["depends_on"]["marts"]["condition"] == "service_healthy"
    assert "/healthz" in " ".join(hb["healthcheck"]["test"]) and hb["command"][0] == "serve"
    assert hb["user"].split(":")[0] != "0" and hb["env_file"] == [".env"]
    assert any(v.endswith(":/project") for v in hb["volumes"])
    assert hb["environment"]["HEARTBEAT_PROJECT"] == "/project"
    assert demo["profiles"] == ["demo"] and demo["command"][0] == "demo"
    text = DOCKERFILE.read_text()
    assert re.search(r"^USER heartbeat$", text, re.M) and "HEALTHCHECK" in text and "/healthz" in text
    assert 'ENTRYPOINT ["heartbeat"]' in text
    for secret in ("MARTS_PASSWORD", "HEARTBEAT_API_TOKEN"):
        assert "${" + secret + ":?" in COMPOSE.read_text()  # required from .env, never a default
    assert ".env" in (REPO_ROOT / ".gitignore").read_text().split()


@pytest.fixture
def databases(pg_admin_url: str) -> Iterator[Callable[[str], str]]:
    yield from database_factory(pick_server(pg_admin_url))


def _compose_environment(marts_url: str, project: Path, home: Path, token: str) -> dict[str, str]:
    """The heartbeat service's environment with the compose variables filled in and the paths of this host."""
    env_spec = _compose()["services"]["heartbeat"]["environment"]
    values = {"MARTS_PASSWORD": "unused", "HEARTBEAT_API_TOKEN": token}
    filled = {
        k: re.sub(
            r"\$\{(\w+)(?::[?-][^}]*)?\}", lambda m: values.get(m.group(1), "http://127.0.0.1:8787"), str(v)
        )
        for k, v in env_spec.items()
    }
    assert filled["HEARTBEAT_DATABASE_URL"].startswith("postgresql://heartbeat:unused@marts:5432/marts")
    filled |= {
        "HEARTBEAT_DATABASE_URL": marts_url,
        "HEARTBEAT_PROJECT": str(project),
        "HEARTBEAT_HOME": str(home),
    }
    base = {k: v for k, v in os.environ.items() if not k.startswith("HEARTBEAT_")}
    return base | filled


def test_the_compose_topology_serves_against_an_external_postgres(
    databases: Callable[[str], str], tmp_path: Path
) -> None:
    project, token = tmp_path / "project", "compose-topology-token"
    env = _compose_environment(databases("marts"), project, tmp_path / "home", token)
    heartbeat = str(BIN / "heartbeat")
    for args in (["init", str(project)], ["recompute", "--wait"]):
        done = subprocess.run(
            [heartbeat, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    port = free_port()
    server = subprocess.Popen(
        [heartbeat, *_compose()["services"]["heartbeat"]["command"][:1], "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 90
        while True:  # readiness: the socket answering is the event
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=3)
                break
            except httpx.TransportError:
                assert server.poll() is None, server.stderr.read() if server.stderr else ""
                assert time.monotonic() < deadline, "serve did not answer in 90 s"
                time.sleep(0.2)
        assert health.status_code == 200
        catalog = httpx.get(
            f"http://127.0.0.1:{port}/catalog", headers={"Authorization": f"Bearer {token}"}, timeout=20
        )
        assert catalog.status_code == 200 and "example_orders_24h" in catalog.text
    finally:
        server.terminate()
        server.wait(timeout=30)
