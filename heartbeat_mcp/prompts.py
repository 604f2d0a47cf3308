"""The `daily_triage` prompt: the order in which an agent should read Heartbeat, and what to keep apart."""

from __future__ import annotations

from mcp.server.mcpserver import MCPServer


def daily_triage_text(team: str | None = None) -> str:
    scope = f" for team {team}" if team else ""
    team_arg = f'(team="{team}")' if team else ""
    return (
        f"Daily triage of Heartbeat{scope}.\n"
        "1. Call `today` for the state of the business: counts, what changed since yesterday, stale "
        "sources, the running or last job.\n"
        f"2. Call `what_is_red`{team_arg} and take the first three items: they are ranked worst first.\n"
        "3. For each, call `explain_metric` and say in one or two lines what is wrong, since when, who or "
        "what is behind it (the detail rows), and who owns it.\n"
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
