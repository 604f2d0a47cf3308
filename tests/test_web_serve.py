"""`heartbeat serve` and what the app lifespan starts: loopback-only without a token, the scheduler, the top
strip (running job, pipeline-stalled banner)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import httpx
import psycopg
import pytest

from heartbeat_core import clock
from heartbeat_core.readmodel import cockpit_snapshot
from heartbeat_core.readmodel.cache import CachedSnapshot
from heartbeat_core.settings import get_settings
from heartbeat_web.app import create_app
from heartbeat_web.live import JobStrip
from heartbeat_web.render import CockpitRenderer, make_env
from tests.web_server import LiveServer, free_port

pytestmark = pytest.mark.db


def test_serve_without_token_binds_loopback_and_says_so(mini_world: str) -> None:
    port = free_port()
    exe = Path(sys.executable).parent / "heartbeat"
    env = {k: v for k, v in os.environ.items() if k != "HEARTBEAT_API_TOKEN"}
    proc = subprocess.Popen(
        [str(exe), "serve", "--host", "0.0.0.0", "--port", str(port), "--no-scheduler"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        while not any(line.startswith("API:") for line in lines):
            line = proc.stdout.readline()
            assert line, "".join(lines)
            lines.append(line)
        out = "".join(lines)
        assert "HEARTBEAT_API_TOKEN is not set: binding to 127.0.0.1 only" in out
        assert f"Cockpit: http://127.0.0.1:{port}/" in out and f"MCP:     http://127.0.0.1:{port}/mcp" in out
        deadline = time.monotonic() + 30
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                if r.status_code == 200 and r.json()["snapshot"]:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "serve never answered"
            time.sleep(0.1)
        assert httpx.get(f"http://127.0.0.1:{port}/").status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_scheduler_runs_inside_serve(mini_world: str) -> None:
    srv = LiveServer(lambda: create_app(mcp=False, scheduler=True, poll_s=0.2)).start()
    try:
        sched = srv.app.state.scheduler
        assert sched is not None and sched.running
    finally:
        srv.stop()
    assert not sched.running
    off = LiveServer(lambda: create_app(mcp=False, scheduler=False, poll_s=0.2)).start()
    try:
        assert off.app.state.scheduler is None
    finally:
        off.stop()


def test_pipeline_stalled_banner(mini_world: str) -> None:
    # the mini world was computed "now"; three hours later, with an hourly schedule, the pipeline is stalled
    with clock.frozen_clock(clock.now() + timedelta(hours=3)):
        srv = LiveServer(lambda: create_app(mcp=False, poll_s=0.2)).start()
        try:
            with httpx.Client(base_url=srv.url, timeout=10) as c:
                assert c.get("/api/cockpit").json()["pipeline"]["stalled"] is True
                assert "Pipeline stalled" in c.get("/").text
        finally:
            srv.stop()
    srv = LiveServer(lambda: create_app(mcp=False, poll_s=0.2)).start()
    try:
        assert "Pipeline stalled" not in httpx.get(srv.url + "/").text
    finally:
        srv.stop()


def test_job_strip_shows_phase_and_progress(mini_world: str) -> None:
    with psycopg.connect(mini_world) as conn:
        snap = cockpit_snapshot(conn)
    renderer = CockpitRenderer(make_env(), get_settings(), "test")
    cached = CachedSnapshot(snap, snap.model_dump_json().encode(), time.monotonic())
    _, partial, _ = renderer(cached, JobStrip(job_id=7, state="running", phase="compute", progress=0.4))
    html = partial.decode()
    assert 'data-job="7"' in html and "refreshing · compute 40%" in html
    assert 'style="width: 40%"' in html
    _, idle, _ = renderer(cached, None)
    assert "data-job" not in idle.decode()


def test_error_text_never_shows_a_password() -> None:
    from heartbeat_core.redaction import redact_optional

    shown = redact_optional(
        "cannot reach the database at postgresql://heartbeat:hunter2@db:5432/marts: refused"
    )
    assert shown is not None and "hunter2" not in shown and "postgresql://heartbeat:***@db" in shown
