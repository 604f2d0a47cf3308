"""Skills are tested by use: every command in every ```bash runnable block runs against a real world.

The world is the demo world when tests/conftest.py offers a `demo_world` fixture, the mini world until
then. Placeholders ($METRIC_ID, $SOURCE, $TABLE) are set per world. Where the metrics-discovery skill
tells the agent to write the file, the test does what the agent would: it resolves the TODO markers.
`HEARTBEAT_SKILLS_WORLD=mini` forces the mini world (a quick local run while the demo world exists).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from heartbeat_cli.skills import SKILLS_DIR, available_skills, runnable_commands
from heartbeat_core.settings import get_settings
from tests import conftest
from tests.conftest import REPO_ROOT

VENV_BIN = REPO_ROOT / ".venv" / "bin"
EXPECTED = {"metrics-discovery", "metric-validate", "heartbeat-today"}
HAS_DEMO_WORLD = hasattr(conftest, "demo_world")


def test_skills_are_in_claude_code_format() -> None:
    skills = available_skills()
    assert {s.name for s in skills} == EXPECTED
    for skill in skills:
        match = re.match(r"\A---\n(.*?)\n---\n", skill.text, re.DOTALL)
        assert match, skill.path
        meta = yaml.safe_load(match.group(1))  # what Claude Code parses
        assert meta["name"] == skill.path.parent.name
        assert 40 < len(meta["description"]) <= 1024
        assert meta["description"][0].isupper()
        assert skill.runnable_commands(), f"{skill.name} has no ```bash runnable block"


def test_runnable_block_extraction() -> None:
    text = (
        "intro\n```bash runnable\n# comment\nheartbeat status\nheartbeat metric show \\\n  $METRIC_ID\n```\n"
        "```bash\nnot runnable\n```\n```bash runnable\nheartbeat sync\n```\n"
    )
    assert runnable_commands(text) == [
        "heartbeat status",
        "heartbeat metric show $METRIC_ID",
        "heartbeat sync",
    ]


def _install(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOME": str(home)}
    return subprocess.run(
        [str(VENV_BIN / "heartbeat"), "skills", "install", *args], capture_output=True, text=True, env=env
    )


def test_install_project_writes_where_claude_code_looks(tmp_path: Path) -> None:
    result = _install("--project", str(tmp_path / "x"), home=tmp_path / "home")
    assert result.returncode == 0, result.stderr
    for name in EXPECTED:
        installed = tmp_path / "x" / ".claude" / "skills" / name / "SKILL.md"
        assert installed.read_text() == (SKILLS_DIR / name / "SKILL.md").read_text()
    assert "installed 3 skills" in result.stdout
    # installing again replaces the copies
    assert _install("--project", str(tmp_path / "x"), home=tmp_path / "home").returncode == 0


def test_install_user_and_refuses_both(tmp_path: Path) -> None:
    result = _install("--user", home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert {p.parent.name for p in (tmp_path / ".claude" / "skills").glob("*/SKILL.md")} == EXPECTED
    both = _install("--user", "--project", str(tmp_path / "y"), home=tmp_path)
    assert both.returncode == 1 and "choose one" in both.stderr


# ------------------------------------------------------------------------------------- tested by use


def _finish_scaffold(path: Path) -> None:
    """What the agent does in the skill's 'Write it' step: resolve every TODO."""
    lines = []
    for line in path.read_text().splitlines():
        if line.startswith("-- TODO") or line.startswith("--       "):
            continue
        line = line.split("  -- TODO")[0]
        if line.startswith("-- description: TODO"):
            line = "-- description: Rows landed in the last 24 hours (skill test)."
        elif line.startswith("-- how_to_read: TODO"):
            line = "-- how_to_read: A drop to zero means the feed stopped.\n-- owner: skills-test@example.com"
        elif line.startswith("-- methodology: TODO"):
            line = "-- methodology: count(*) over the window on the table's timestamp column."
        elif line.startswith("-- owner:"):
            continue
        lines.append(line)
    text = "\n".join(lines) + "\n"
    assert "TODO" not in text
    path.write_text(text)


@pytest.fixture
def skill_world(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Any]:
    """The world the skills run against, and the placeholders for it."""
    if HAS_DEMO_WORLD and os.environ.get("HEARTBEAT_SKILLS_WORLD") != "mini":
        demo = request.getfixturevalue("demo_world")
        world_env: dict[str, str] = demo.env()
        places = {"SOURCE": "webbank", "TABLE": "payment", "METRIC_ID": "card_collateral_overdue_clients"}
    else:
        world_env = {"HEARTBEAT_DATABASE_URL": request.getfixturevalue("mini_world")}
        places = {"SOURCE": "shop", "TABLE": "orders", "METRIC_ID": "shop_unpaid_invoices"}
    defs = tmp_path / "metric_defs"
    shutil.copytree(get_settings().metric_defs, defs)
    if get_settings().shared_sql.is_dir():  # the fragments the metrics include, beside the copy
        shutil.copytree(get_settings().shared_sql, tmp_path / "shared_sql")
    env = {
        **os.environ,
        "HEARTBEAT_HOME": os.environ.get("HEARTBEAT_HOME", str(tmp_path / "home")),
        **world_env,
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "HEARTBEAT_METRIC_DEFS": str(defs),
        "PAGER": "cat",
        "PSQL_PAGER": "cat",
        **places,
    }
    return {"env": env, "defs": defs, "places": places}


def _run_skill(name: str, world: dict[str, Any], new_metric: str | None = None) -> list[str]:
    env = dict(world["env"])
    if new_metric:
        env["METRIC_ID"] = new_metric
    skill = next(s for s in available_skills() if s.name == name)
    ran = []
    for command in skill.runnable_commands():
        result = subprocess.run(
            ["bash", "-c", f"set -euo pipefail\n{command}"],
            capture_output=True,
            text=True,
            env=env,
            cwd=world["defs"].parent,
            timeout=300,
        )
        assert result.returncode == 0, (
            f"{name}: `{command}` exited {result.returncode}\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
        )
        ran.append(command)
        if new_metric and command.startswith("heartbeat metric new"):
            _finish_scaffold(world["defs"] / f"{new_metric}.sql")
    return ran


@pytest.fixture
def served(skill_world: dict[str, Any]) -> Iterator[str]:
    """`heartbeat serve` on a free loopback port over the skill world; its base URL."""
    import socket
    import time

    import httpx

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    env = {k: v for k, v in skill_world["env"].items() if k != "HEARTBEAT_API_TOKEN"}
    server = subprocess.Popen(
        [str(VENV_BIN / "heartbeat"), "serve", "--host", "127.0.0.1", "--port", str(port), "--no-scheduler"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                raise AssertionError(
                    f"heartbeat serve exited: {server.stderr.read() if server.stderr else ''}"
                )
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "heartbeat serve did not answer /healthz within 60 s"
            time.sleep(0.2)  # readiness poll: the server offers no event to await
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.mark.slow
def test_metrics_discovery_runs_end_to_end(skill_world: dict[str, Any], served: str) -> None:
    skill_world["env"]["HEARTBEAT_URL"] = served
    new_metric = f"{skill_world['places']['SOURCE']}_{skill_world['places']['TABLE']}_skill_24h"
    ran = _run_skill("metrics-discovery", skill_world, new_metric)
    assert any(c.startswith("heartbeat metric validate") for c in ran)
    assert any("--backfill 90" in c for c in ran)
    assert (skill_world["defs"] / f"{new_metric}.sql").is_file()


def test_metric_validate_runs(skill_world: dict[str, Any]) -> None:
    ran = _run_skill("metric-validate", skill_world)
    assert any(c.startswith("heartbeat metric validate") for c in ran)


def test_heartbeat_today_runs(skill_world: dict[str, Any]) -> None:
    ran = _run_skill("heartbeat-today", skill_world)
    assert "heartbeat status" in ran


# The MCP tools the skills tell an agent to call: each exists, and the daily-triage walk works.
SKILL_TOOLS = {
    "heartbeat-today": [
        "today",
        "what_is_red",
        "explain_metric",
        "sources_status",
        "recompute",
        "job_status",
    ],
    "metric-validate": ["set_owner", "set_verification"],
}


def test_heartbeat_today_walk_through_the_mcp_tools(skill_world: dict[str, Any]) -> None:
    import anyio
    from mcp import Client

    from heartbeat_mcp.server import build_server

    texts = {s.name: s.text for s in available_skills()}
    for skill, tools in SKILL_TOOLS.items():
        for tool in tools:
            assert f"`{tool}" in texts[skill], f"{skill} does not name {tool}"
    answers: dict[str, Any] = {}

    async def walk() -> None:
        async with Client(build_server(actor="skills-test")) as client:
            listed = {t.name for t in (await client.list_tools()).tools}
            missing = {t for tools in SKILL_TOOLS.values() for t in tools} - listed
            assert not missing, f"skills name MCP tools the server lacks: {missing}"
            for name in ("today", "what_is_red", "sources_status"):
                result = await client.call_tool(name, {})
                assert not result.is_error, (name, result.content)
                answers[name] = result.structured_content
            by_team = await client.call_tool("what_is_red", {"team": "finance"})  # the skill's team filter
            assert not by_team.is_error, by_team.content
            items = answers["what_is_red"].get("items") or []
            assert items, "the world has something to triage"
            for item in items[:3]:
                result = await client.call_tool("explain_metric", {"metric_id": item["metric_id"]})
                assert not result.is_error, (item["metric_id"], result.content)

    anyio.run(walk)
