"""`heartbeat init DIR`: a new project directory, ready for `heartbeat sources add` and a first recompute.

Writes the commented `heartbeat.toml` and `sources.toml`, `metric_defs/` with one worked example over a
small sample of orders (`sample/`, dated around today so the example is fresh on day one), `.mcp.json` for
Claude Code, the agent skills and a short README. Refuses to overwrite: every path is checked before the
first byte is written, so a refusal leaves the directory as it was.
"""

from __future__ import annotations

import json
import random
import shutil
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from heartbeat_core import clock

TEMPLATE = Path(__file__).resolve().parent / "template"
SAMPLE_DAYS = 35


class InitError(ValueError):
    """The project cannot be created here; the message names the path."""


@dataclass
class InitResult:
    root: Path
    written: list[Path] = field(default_factory=list)


def mcp_config() -> str:
    """`.mcp.json`: Claude Code starts `heartbeat mcp` in this project (the `heartbeat` on PATH)."""
    server = {
        "type": "stdio",
        "command": "heartbeat",
        "args": ["mcp"],
        "env": {
            "HEARTBEAT_DATABASE_URL": "${HEARTBEAT_DATABASE_URL:-}",
            "HEARTBEAT_HOME": "${HEARTBEAT_HOME:-}",
        },
    }
    return json.dumps({"mcpServers": {"heartbeat": server}}, indent=2) + "\n"


def sample_orders_csv(days: int = SAMPLE_DAYS, seed: int = 7) -> str:
    """A few orders an hour over the last `days` days, up to the last full hour (deterministic per day)."""
    rng = random.Random(seed)
    end = clock.now().replace(minute=0, second=0, microsecond=0)
    lines = ["id,created_at,status,amount"]
    moment, order_id = end - timedelta(days=days), 0
    while moment < end:
        for _ in range(rng.randint(1, 4)):
            order_id += 1
            status = rng.choices(["paid", "pending", "cancelled"], [85, 10, 5])[0]
            at = moment + timedelta(minutes=rng.randint(0, 59))
            lines.append(f"{order_id},{at.isoformat()},{status},{rng.randint(500, 20000) / 100:.2f}")
        moment += timedelta(hours=1)
    return "\n".join(lines) + "\n"


def _planned(root: Path, skills_dir: Path | None) -> dict[Path, str | Path]:
    """Every file init writes: target → text, or the source file to copy."""
    plan: dict[Path, str | Path] = {}
    for path in sorted(TEMPLATE.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            plan[root / path.relative_to(TEMPLATE)] = path
    plan[root / ".mcp.json"] = mcp_config()
    plan[root / "sample" / f"orders_{clock.now():%Y%m%d}.csv"] = sample_orders_csv()
    if skills_dir is not None and skills_dir.is_dir():
        for skill in sorted(skills_dir.glob("*/SKILL.md")):
            plan[root / ".claude" / "skills" / skill.parent.name / "SKILL.md"] = skill
    return plan


def init_project(root: Path, skills_dir: Path | None = None) -> InitResult:
    """Create the project at `root` (which may exist, but must not hold any file init would write)."""
    root = root.expanduser().resolve()
    if root.exists() and not root.is_dir():
        raise InitError(f"{root} exists and is not a directory")
    plan = _planned(root, skills_dir)
    clashes = sorted(p for p in plan if p.exists())
    if clashes:
        names = ", ".join(str(p.relative_to(root)) for p in clashes[:5])
        raise InitError(f"{root} already holds {names}; init never overwrites (choose an empty directory)")
    result = InitResult(root)
    for target, content in plan.items():
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, Path):
            shutil.copyfile(content, target)
        else:
            target.write_text(content, encoding="utf-8")
        result.written.append(target)
    (root / "audit_cuts").mkdir(exist_ok=True)
    return result
