"""The demo world (a seeded Satchel-like fintech with injected incidents, see docs/demo-world.md) and the
demo project that watches it: metric files, audit cuts, `sources.toml` and the agent skills, shipped in the
wheel so `heartbeat demo` works from anywhere."""

from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent / "project"
SKILLS_DIR = PROJECT_DIR / "skills"
