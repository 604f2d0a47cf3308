"""The wheel is the product: built, installed in a fresh venv in a temp dir, run from outside the checkout.

Marked e2e (`make test-e2e`): it builds the wheel and starts a fresh interpreter for every command.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.wheel_env import REPO_ROOT, WheelVenv, build_wheel_venv, free_port

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory: pytest.TempPathFactory) -> WheelVenv:
    return build_wheel_venv(tmp_path_factory.mktemp("wheel"))


def _outside_checkout(path: Path) -> bool:
    return not path.resolve().is_relative_to(REPO_ROOT)


def test_the_installed_packages_come_from_the_fresh_venv(wheel_venv: WheelVenv) -> None:
    done = subprocess.run(
        [
            str(wheel_venv.python),
            "-I",
            "-c",
            "import heartbeat_core, heartbeat_demo, heartbeat_web; print(heartbeat_core.__file__); "
            "print(heartbeat_demo.PROJECT_DIR); print(heartbeat_web.__file__)",
        ],
        cwd=wheel_venv.work,
        env=wheel_venv.env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    for line in done.stdout.split():
        assert Path(line).is_relative_to(wheel_venv.root), line
    assert _outside_checkout(wheel_venv.work)


def test_help_init_and_the_venv_command(wheel_venv: WheelVenv) -> None:
    helped = wheel_venv.run("--help")
    assert helped.returncode == 0 and "--project-dir" in helped.stdout and "init" in helped.stdout
    made = wheel_venv.run("init", "acme")
    assert made.returncode == 0, made.stderr
    project = wheel_venv.work / "acme"
    assert (project / "heartbeat.toml").is_file() and (
        project / ".claude/skills/metric-validate/SKILL.md"
    ).is_file()
    listed = subprocess.run(
        [str(wheel_venv.heartbeat), "skills", "list"],
        cwd=project,
        env=wheel_venv.env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert listed.returncode == 0 and "metrics-discovery" in listed.stdout, listed.stderr
    lost = wheel_venv.run("sync", cwd=wheel_venv.work)
    assert lost.returncode == 2 and "heartbeat init DIR" in lost.stderr


@pytest.fixture
def served(wheel_venv: WheelVenv, create_database: Callable[[str], str]) -> Iterator[str]:
    """The installed demo project synced into a fresh marts database, then `heartbeat serve` on it."""
    url = create_database("wheel")
    demo = subprocess.run(
        [str(wheel_venv.python), "-I", "-c", "import heartbeat_demo; print(heartbeat_demo.PROJECT_DIR)"],
        env=wheel_venv.env(),
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout.strip()
    synced = wheel_venv.run("--project-dir", demo, "sync", HEARTBEAT_DATABASE_URL=url)
    assert synced.returncode == 0, synced.stdout + synced.stderr
    assert "38" in synced.stdout, synced.stdout
    port = free_port()
    server = subprocess.Popen(
        [
            str(wheel_venv.python),
            "-I",
            "-m",
            "heartbeat_cli",
            "--project-dir",
            demo,
            "serve",
            "--no-scheduler",
            "--port",
            str(port),
        ],
        cwd=wheel_venv.work,
        env=wheel_venv.env(HEARTBEAT_DATABASE_URL=url),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:  # readiness: the socket answering is the event
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, server.stderr.read() if server.stderr else ""
            assert time.monotonic() < deadline, "serve did not answer /healthz in 90 s"
            time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_the_demo_project_syncs_and_serves_templates_and_static_files(served: str) -> None:
    page = httpx.get(f"{served}/", timeout=30)
    assert page.status_code == 200 and "<html" in page.text.lower()
    css = httpx.get(f"{served}/static/heartbeat.css", timeout=30)
    assert css.status_code == 200 and len(css.text) > 100
