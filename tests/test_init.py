"""`heartbeat init DIR` as a person runs it: a project that lands its worked example and passes the gate."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from heartbeat_core.ingest.config import FilesSource, parse_sources
from heartbeat_core.project import load_config
from heartbeat_core.project_init import InitError, init_project
from heartbeat_demo import SKILLS_DIR

HEARTBEAT = str(Path(sys.executable).parent / "heartbeat")


def _env(tmp_path: Path, url: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEARTBEAT_")}
    env["HEARTBEAT_HOME"] = str(tmp_path / "home")
    if url:
        env["HEARTBEAT_DATABASE_URL"] = url
    return env


def test_init_writes_a_commented_project_and_refuses_to_overwrite(tmp_path: Path) -> None:
    root = tmp_path / "acme"
    result = init_project(root, SKILLS_DIR)
    names = {p.relative_to(root).as_posix() for p in result.written}
    assert {"heartbeat.toml", "sources.toml", "README.md", ".mcp.json"} <= names
    assert "metric_defs/example_orders_24h.sql" in names
    assert {f".claude/skills/{d.name}/SKILL.md" for d in SKILLS_DIR.iterdir() if d.is_dir()} <= names
    assert (root / "audit_cuts").is_dir()
    assert load_config(root / "heartbeat.toml").timezone == "UTC"
    assert "#" in (root / "heartbeat.toml").read_text()
    sources = parse_sources((root / "sources.toml").read_text(), root / "sources.toml")
    example = sources["example"]
    assert isinstance(example, FilesSource) and example.folder == root / "sample"
    mcp = json.loads((root / ".mcp.json").read_text())
    assert mcp["mcpServers"]["heartbeat"]["args"] == ["mcp"]

    other = tmp_path / "half"
    other.mkdir()
    (other / "README.md").write_text("mine\n")
    try:
        init_project(other, SKILLS_DIR)
    except InitError as exc:
        assert "README.md" in str(exc) and "never overwrites" in str(exc)
    else:
        raise AssertionError("init overwrote a file")
    assert sorted(p.name for p in other.iterdir()) == ["README.md"]
    assert (other / "README.md").read_text() == "mine\n"


def test_init_then_the_worked_example_lands_and_passes_validate(marts_url: str, tmp_path: Path) -> None:
    env = _env(tmp_path, marts_url)
    made = subprocess.run(
        [HEARTBEAT, "init", "shop"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert made.returncode == 0, made.stderr
    project = tmp_path / "shop"
    again = subprocess.run(
        [HEARTBEAT, "init", str(project)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert again.returncode == 1 and "never overwrites" in again.stderr
    for args in (["ingest"], ["metric", "validate", "--all"]):
        done = subprocess.run(
            [HEARTBEAT, *args],
            cwd=project / "metric_defs",
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "PASS  example_orders_24h" in done.stdout
