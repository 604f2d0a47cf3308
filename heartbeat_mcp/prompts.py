"""The `daily_triage` prompt: the order in which an agent should read Heartbeat, and what to keep apart."""

from __future__ import annotations

from mcp.server.mcpserver import MCPServer


def daily_triage_text(team: str | None = None) -> str:
    scope = f" for team {team}" if team else ""
    team_arg = f'(team="{team}")' if team else ""
    return (
        f"Daily triage of Heartbeat{scope}.\n"
        "1. Call `today`: it is usually the whole answer — the incidents worst first (headline, members, "
        "what moved, who is in it), what is new, what not to trust (stale sources, suspect values, audit "
        "cuts older than their data), what changed since yesterday, the running or last job.\n"
        f"2. Only for what it does not say: `what_is_red`{team_arg} (every problem metric, ranked), and "
        "`explain_metric` for an incident's lead metric (the rows behind it, with a total; page with "
        "detail_offset).\n"
        "3. Say per incident in one or two lines what is wrong, since when, who or what is behind it, and "
        "who owns it.\n"
        "4. Keep two kinds of problem apart: a bad value (red/amber colour) and a broken pipeline (stale "
        "freshness; see `sources_status`). A stale metric's value may be old, not bad.\n"
        "5. End with a short, ordered list of what to look at first and whom to ask. Do not recompute or "
        "change thresholds unless asked."
    )


def register(server: MCPServer) -> None:
    """Add `daily_triage`."""

    @server.prompt()
    def daily_triage(team: str | None = None) -> str:
        """What's going on today, and what should I look at first?"""
        return daily_triage_text(team)
