"""The demo world: a seeded Satchel-like fintech with injected incidents (see docs/demo-world.md)."""

from heartbeat_core.demo.world import WorldSummary, append_live, build_world

__all__ = ["WorldSummary", "append_live", "build_world"]
